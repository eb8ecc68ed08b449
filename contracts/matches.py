"""Matches, version 1 (topic `mcvt.matches`, key: match id).

A match pairs one published offer with one open need. The matching service proposes it with
the score that explains it; the provider and the requester accept it, in either order, and it
is confirmed once both have; or one of them declines it, it expires, or it is cancelled because
its offer, its need or one of its parties left the market. A facilitator may propose a pair by
hand (`origin` facilitator); it goes through the same acceptances. A confirmed match is a
booking of the offer's capacity; it ends when one of its parties cancels it, or when the
agreement made of it completes, is terminated or lapses (`ended`). Every event
carries the match's full current state; `version` grows by one with each change of the match.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import EventPayload
from contracts.taxonomy import Unit
from contracts.topics import Topic


class MatchStatus(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"  # by one party so far: `accepted_by` says which
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    ENDED = "ended"  # its agreement completed, was terminated or lapsed: the capacity is free


class Party(StrEnum):
    PROVIDER = "provider"
    REQUESTER = "requester"


class CancelReason(StrEnum):
    OFFER_PAUSED = "offer_paused"
    OFFER_WITHDRAWN = "offer_withdrawn"
    OFFER_CHANGED = "offer_changed"  # the new version of the offer no longer fits the need
    NEED_CLOSED = "need_closed"  # withdrawn, fulfilled or expired
    NEED_CHANGED = "need_changed"
    NEED_SERVED = "need_served"  # another match of the need was confirmed
    CAPACITY_TAKEN = "capacity_taken"  # confirmed matches left too little of the offer
    ACTOR_SUSPENDED = "actor_suspended"
    POLICY_CHANGED = "policy_changed"  # re-proposed under the new policy
    BY_PARTY = "by_party"  # a party ended its confirmed match: `by` says which


class Origin(StrEnum):
    ENGINE = "engine"  # scored and proposed by the matching engine
    FACILITATOR = "facilitator"  # paired by hand by a facilitator of the territory


class Score(BaseModel):
    """Why the pair was proposed: each part in [0, 1], its weight, and the weighted total."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    total: float = Field(ge=0, le=1)
    parts: dict[str, float] = Field(description="distance, time_overlap, capacity_fit, ...")
    weights: dict[str, float]
    policy_version: int = Field(ge=1, description="Version of the territory's matching policy.")


class MatchState(EventPayload):
    """A match as it is after the event."""

    topic = Topic.MATCHES

    match_id: str
    territory_id: str
    offer_id: str
    offer_version: int = Field(ge=1, description="Version of the offer the score was computed on.")
    need_id: str
    need_version: int = Field(ge=1, description="Version of the need the score was computed on.")
    provider_id: str
    requester_id: str
    status: MatchStatus
    quantity: float = Field(gt=0, description="What the need asks of the offer's capacity.")
    unit: Unit
    score: Score
    accepted_by: list[Party] = Field(default_factory=list)
    proposed_at: datetime
    expires_at: datetime = Field(description="When the proposal lapses unless both accepted.")
    version: int = Field(ge=1)
    origin: Origin = Field(
        default=Origin.ENGINE, description="Who proposed the pair: the engine or a facilitator."
    )
    project_id: str | None = Field(
        default=None, description="The territorial project the need serves, if any."
    )


class MatchProposedV1(MatchState):
    """The matching service proposes the pair to both parties."""

    event_type = "mcvt.match.proposed.v1"


class MatchAcceptedV1(MatchState):
    """One party accepted; a confirmation follows when both have."""

    event_type = "mcvt.match.accepted.v1"

    by: Party


class MatchDeclinedV1(MatchState):
    event_type = "mcvt.match.declined.v1"

    by: Party
    reason: str


class MatchConfirmedV1(MatchState):
    """Both parties accepted and the offer had the capacity: the pair may become an agreement."""

    event_type = "mcvt.match.confirmed.v1"

    confirmed_at: datetime


class MatchExpiredV1(MatchState):
    """The proposal lapsed before both parties accepted it."""

    event_type = "mcvt.match.expired.v1"


class MatchCancelledV1(MatchState):
    event_type = "mcvt.match.cancelled.v1"

    reason: CancelReason
    by: Party | None = Field(
        default=None, description="The party that ended its confirmed match (reason by_party)."
    )


class EndReason(StrEnum):
    AGREEMENT_COMPLETED = "agreement_completed"
    AGREEMENT_TERMINATED = "agreement_terminated"
    AGREEMENT_LAPSED = "agreement_lapsed"


class MatchEndedV1(MatchState):
    """The agreement made of the confirmed match ended: its booking of capacity is released."""

    event_type = "mcvt.match.ended.v1"

    reason: EndReason
    agreement_id: str


EVENTS: tuple[type[EventPayload], ...] = (
    MatchProposedV1,
    MatchAcceptedV1,
    MatchDeclinedV1,
    MatchConfirmedV1,
    MatchExpiredV1,
    MatchCancelledV1,
    MatchEndedV1,
)
