"""The life of a match, as pure functions from one state to the next.

    proposed ──accept(one party)──▶ accepted ──accept(other party)──▶ confirmed
        │                              │                                 │
        └──── decline / expire / cancel ┴──▶ declined / expired / cancelled ◀── end_booking
                                                                              │
                                           ended ◀── end_with_agreement ──────┘

Either party may accept first; the second acceptance makes the match ready, and the caller
confirms it once the offer's capacity is checked. A confirmed match is a booking that only
one of its parties ends (`end_booking`), or that ends with the agreement made of it
(`end_with_agreement`: completed, terminated or lapsed); nothing else ends it. An amendment of
that agreement in force changes what it books (`rebook`). Every change gives a new
version. A transition that the state does not allow raises `Conflict`; accepting twice is not
a change. A facilitator may propose a pair by hand (`propose_by_hand`): its origin says so, and
it goes through the same acceptances.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from contracts.matches import CancelReason, EndReason, MatchStatus, Origin, Party, Score
from contracts.taxonomy import Unit
from services.matching.capacity import Windows
from services.matching.model import Candidate, Policy
from services.runtime.errors import Conflict

OPEN = frozenset({MatchStatus.PROPOSED, MatchStatus.ACCEPTED})
"""Waiting for the parties: counts towards a need's proposals, may still be confirmed."""
LIVE = OPEN | {MatchStatus.CONFIRMED}
"""At most one match per pair of need and offer is live at a time."""
SETTLED = LIVE | {MatchStatus.DECLINED, MatchStatus.EXPIRED, MatchStatus.ENDED}
"""A pair with such a match is not proposed again: it is under way, or its parties passed.
A cancelled pair may be: it was cancelled for a state of the offer or need that may change."""


@dataclass(frozen=True)
class Match:
    id: uuid.UUID
    territory_id: str
    offer_id: str
    offer_version: int
    need_id: str
    need_version: int
    provider_id: str
    requester_id: str
    status: MatchStatus
    quantity: float
    unit: Unit
    windows: Windows
    score: Score
    proposed_at: datetime
    expires_at: datetime
    version: int = 1
    provider_accepted_at: datetime | None = None
    requester_accepted_at: datetime | None = None
    confirmed_at: datetime | None = None
    closed_at: datetime | None = None
    reason: str | None = None
    updated_at: datetime | None = None
    origin: Origin = Origin.ENGINE
    project_id: str | None = None  # the territorial project the need serves

    @property
    def accepted_by(self) -> list[Party]:
        return [
            party
            for party, at in (
                (Party.PROVIDER, self.provider_accepted_at),
                (Party.REQUESTER, self.requester_accepted_at),
            )
            if at is not None
        ]

    @property
    def ready(self) -> bool:
        """Both parties accepted: the match waits only for the capacity check."""
        return self.provider_accepted_at is not None and self.requester_accepted_at is not None

    def party_of(self, actor_id: str) -> Party | None:
        """The side `actor_id` is on; None for anyone else."""
        if actor_id == self.provider_id:
            return Party.PROVIDER
        if actor_id == self.requester_id:
            return Party.REQUESTER
        return None


def score_of(candidate: Candidate) -> Score:
    breakdown = candidate.breakdown
    return Score(
        total=breakdown.total,
        parts=dict(breakdown.parts),
        weights=dict(breakdown.weights),
        policy_version=breakdown.policy_version,
    )


def propose(candidate: Candidate, policy: Policy, *, match_id: uuid.UUID, now: datetime) -> Match:
    """A new proposal of `candidate`'s offer for its need, open for the policy's time-to-live."""
    offer, need = candidate.offer, candidate.need
    return Match(
        id=match_id,
        territory_id=need.territory_id,
        offer_id=offer.offer_id,
        offer_version=offer.version,
        need_id=need.need_id,
        need_version=need.version,
        provider_id=offer.provider_id,
        requester_id=need.requester_id,
        status=MatchStatus.PROPOSED,
        quantity=need.quantity,
        unit=need.unit,
        windows=Windows(week=need.week, dated=need.dated),
        score=score_of(candidate),
        proposed_at=now,
        expires_at=now + policy.ttl,
        updated_at=now,
        project_id=need.project_id,
    )


def propose_by_hand(
    candidate: Candidate, policy: Policy, *, match_id: uuid.UUID, now: datetime
) -> Match:
    """A pair a facilitator proposes: scored like any other, marked as the facilitator's."""
    return replace(
        propose(candidate, policy, match_id=match_id, now=now), origin=Origin.FACILITATOR
    )


def _next(match: Match, now: datetime, **changes: Any) -> Match:
    return replace(match, version=match.version + 1, updated_at=now, **changes)


def _ended(match: Match) -> Conflict:
    why = f" ({match.reason})" if match.reason else ""
    return Conflict(f"the match is {match.status}{why}", field="status")


def _ensure_open(match: Match, now: datetime) -> None:
    if match.status not in OPEN:
        raise _ended(match)
    if now >= match.expires_at:
        raise Conflict("the proposal has expired", field="status")


def accept(match: Match, party: Party, *, now: datetime) -> Match:
    """`party` accepts; the same match back when it had already."""
    if party in match.accepted_by and match.status in LIVE:
        return match
    _ensure_open(match, now)
    at = {f"{party}_accepted_at": now}
    return _next(match, now, status=MatchStatus.ACCEPTED, **at)


def confirm(match: Match, *, now: datetime) -> Match:
    """Both parties accepted and the capacity was checked: the match holds."""
    if not match.ready or match.status is not MatchStatus.ACCEPTED:
        raise Conflict("both parties must accept before confirmation", field="status")
    return _next(match, now, status=MatchStatus.CONFIRMED, confirmed_at=now)


def allocate(match: Match, *, now: datetime) -> Match:
    """A governance decision gives the contested capacity to this pair: confirmed without
    waiting for the parties' acceptances."""
    if match.status not in OPEN:
        raise _ended(match)
    return _next(match, now, status=MatchStatus.CONFIRMED, confirmed_at=now)


def decline(match: Match, party: Party, reason: str, *, now: datetime) -> Match:
    """`party` turns the proposal down, even after accepting it, until it is confirmed."""
    if match.status not in OPEN:
        raise _ended(match)
    return _next(
        match, now, status=MatchStatus.DECLINED, closed_at=now, reason=reason or f"by {party}"
    )


def is_lapsed(match: Match, now: datetime) -> bool:
    return match.status in OPEN and now >= match.expires_at


def expire(match: Match, *, now: datetime) -> Match:
    if not is_lapsed(match, now):
        raise Conflict("only an open proposal past its time-to-live expires", field="status")
    return _next(match, now, status=MatchStatus.EXPIRED, closed_at=now)


def cancel(match: Match, reason: CancelReason, *, now: datetime) -> Match:
    """The offer, the need or a party left, or the capacity went to another need."""
    if match.status not in OPEN:
        raise _ended(match)
    return _next(match, now, status=MatchStatus.CANCELLED, closed_at=now, reason=str(reason))


def end_booking(match: Match, *, now: datetime) -> Match:
    """A party ends its confirmed match: the booking ends and the pair is not proposed again."""
    if match.status is not MatchStatus.CONFIRMED:
        raise Conflict(
            f"only a confirmed match is cancelled by a party; this one is {match.status} "
            "(decline a proposal instead)",
            field="status",
        )
    return _next(
        match, now, status=MatchStatus.CANCELLED, closed_at=now, reason=str(CancelReason.BY_PARTY)
    )


def end_with_agreement(match: Match, reason: EndReason, *, now: datetime) -> Match | None:
    """The agreement made of the confirmed match completed, was terminated or lapsed: the
    booking ends (status `ended`). None when the match holds no booking any more (a repeated
    or late event)."""
    if match.status is not MatchStatus.CONFIRMED:
        return None
    return _next(match, now, status=MatchStatus.ENDED, closed_at=now, reason=str(reason))


def rebook(match: Match, quantity: float, windows: Windows, *, now: datetime) -> Match | None:
    """An amendment in force changes what the confirmed match books; None when it no longer
    books anything, or books the same."""
    if match.status is not MatchStatus.CONFIRMED or (
        match.quantity == quantity and match.windows == windows
    ):
        return None
    return replace(match, quantity=quantity, windows=windows, updated_at=now)


def state(match: Match) -> dict[str, Any]:
    """The match's fields as the events carry them."""
    return {
        "match_id": str(match.id),
        "territory_id": match.territory_id,
        "offer_id": match.offer_id,
        "offer_version": match.offer_version,
        "need_id": match.need_id,
        "need_version": match.need_version,
        "provider_id": match.provider_id,
        "requester_id": match.requester_id,
        "status": match.status,
        "quantity": match.quantity,
        "unit": match.unit,
        "score": match.score,
        "accepted_by": match.accepted_by,
        "proposed_at": match.proposed_at,
        "expires_at": match.expires_at,
        "version": match.version,
        "origin": match.origin,
        "project_id": match.project_id,
    }
