"""Resource requests (needs), version 1 (topic `mcvt.needs`, key: need id).

Every event carries the need's full current state so that a consumer keeps its read model
without calling back; `version` grows by one with each change of the need. Going-stale events
announce the expiry date without changing the need, so they repeat the current version.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from contracts.actors import ActorKind, Location
from contracts.envelope import EventPayload
from contracts.offers import DatedWindow, PriceModel, WeeklySlot
from contracts.taxonomy import Unit
from contracts.topics import Topic


class NeedStatus(StrEnum):
    OPEN = "open"
    MATCHED = "matched"
    FULFILLED = "fulfilled"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class Urgency(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class Budget(BaseModel):
    """What the requester accepts to pay; prices in euros unless paid in time credits."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    max_unit_price: float | None = Field(
        default=None, ge=0, le=1_000_000, description="Null: no ceiling."
    )
    accepted_price_models: list[PriceModel] = Field(min_length=1)
    accepts_time_credits: bool = False


class NeedState(EventPayload):
    """A need as it is after the event."""

    topic = Topic.NEEDS

    need_id: str
    requester_id: str
    requester_kind: ActorKind
    territory_id: str
    status: NeedStatus
    title: str
    description: str = Field(description="French free text.")
    category: str = Field(description="Code in contracts.taxonomy; sub-categories meet it too.")
    quantity: float = Field(gt=0)
    unit: Unit
    required_features: list[str] = Field(default_factory=list)
    weekly_windows: list[WeeklySlot] = Field(default_factory=list)
    dated_windows: list[DatedWindow] = Field(default_factory=list)
    min_duration_minutes: int = Field(gt=0, description="Shortest use, within one window.")
    location: Location
    max_distance_km: float = Field(ge=0)
    budget: Budget
    urgency: Urgency
    expires_at: datetime
    version: int = Field(ge=1)
    project_id: str | None = Field(
        default=None, description="The territorial project the need serves, if any."
    )


class NeedPublishedV1(NeedState):
    event_type = "mcvt.need.published.v1"


class NeedUpdatedV1(NeedState):
    event_type = "mcvt.need.updated.v1"

    changed: list[str] = Field(
        default_factory=list, description="Names of the fields that changed."
    )


class NeedWithdrawnV1(NeedState):
    event_type = "mcvt.need.withdrawn.v1"

    withdrawn_by: str | None = Field(
        description="Actor who withdrew it; null when the platform did (requester suspended)."
    )
    reason: str


class NeedFulfilledV1(NeedState):
    event_type = "mcvt.need.fulfilled.v1"

    fulfilled_by: str | None = Field(description="Requester who declared it fulfilled, if any.")
    agreement_id: str | None = Field(description="Agreement that fulfilled it, if any.")


class NeedExpiredV1(NeedState):
    event_type = "mcvt.need.expired.v1"


class NeedGoingStaleV1(NeedState):
    """The need expires soon: its requester may renew it. Sent once per need version."""

    event_type = "mcvt.need.going_stale.v1"

    stale_at: datetime = Field(description="When the need expires (its expires_at).")


EVENTS: tuple[type[NeedState], ...] = (
    NeedPublishedV1,
    NeedUpdatedV1,
    NeedWithdrawnV1,
    NeedFulfilledV1,
    NeedExpiredV1,
    NeedGoingStaleV1,
)
