"""Dormant assets and usage offers, version 1 (topic `mcvt.offers`).

Offer events are keyed by the offer id and carry the offer's full current state, including a
snapshot of the asset it puts to use (category, capacity, features, location, availability,
idle share): a consumer such as matching keeps its read model from offer events alone, without
calling back and without joining asset events. `version` grows by one with each change of the
offer, including a change of its asset; a consumer ignores an event whose version it has passed.
A going-stale event announces the end of validity without changing the offer: it repeats the
current version.

Asset events ride on the same topic, keyed by the asset id. An asset is only the supply side of
its offers, so it gets no topic of its own; since asset and offer events may land on different
partitions, no consumer should rely on their relative order — which is why offers embed the
asset. Asset events serve consumers that follow the inventory of dormant assets itself.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NaiveDatetime,
    ValidationInfo,
    field_validator,
)

from contracts.actors import ActorKind, Location
from contracts.envelope import EventPayload
from contracts.fields import Finite, Label, Symbol, WallClock, ends_after
from contracts.taxonomy import Unit
from contracts.topics import Topic

MINUTES_PER_DAY = 1440


class PriceModel(StrEnum):
    """How the use of an offer is paid for (économie de la fonctionnalité)."""

    PER_USE = "per_use"
    PER_HOUR = "per_hour"
    PER_PERFORMANCE_UNIT = "per_performance_unit"
    FLAT_PER_PERIOD = "flat_per_period"
    FREE = "free"
    TIME_CREDITS = "time_credits"


class Currency(StrEnum):
    """Currency of a unit price: euros, or hours of time credit (time_credits model only)."""

    EUR = "EUR"
    TIME_CREDIT_HOURS = "time_credit_hours"


class Comparator(StrEnum):
    """How a measured indicator is compared with its target."""

    AT_LEAST = "gte"
    AT_MOST = "lte"
    EQUAL = "eq"
    MORE_THAN = "gt"
    LESS_THAN = "lt"


class OfferStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    PAUSED = "paused"
    WITHDRAWN = "withdrawn"


class WeeklySlot(BaseModel):
    """A weekly recurring stretch of one day, in the territory's wall-clock time."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    weekday: int = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday.")
    start_minute: int = Field(ge=0, lt=MINUTES_PER_DAY, description="Minutes since midnight.")
    end_minute: int = Field(
        gt=0, le=MINUTES_PER_DAY, description="Minutes since midnight; 1440 = end of day."
    )

    _ordered = ends_after("end_minute", "start_minute", "the slot must end after it starts")


class DatedWindow(BaseModel):
    """A dated stretch [start, end) in the territory's wall-clock time (no time zone)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    start: NaiveDatetime
    end: NaiveDatetime

    _ordered = ends_after("end", "start", "the window must end after it starts")


# The same two as a request states them: unknown fields refused, wall-clock times checked.
class WeeklySlotIn(WeeklySlot):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatedWindowIn(DatedWindow):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: WallClock
    end: WallClock


class Availability(BaseModel):
    """When an asset may be used: weekly slots, minus dated closures."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    weekly: list[WeeklySlot] = Field(default_factory=list, max_length=70)
    closures: list[DatedWindow] = Field(default_factory=list, max_length=200)


class Indicator(BaseModel):
    """A promised performance, e.g. availability gte 95 %, temperature lte 4 °C."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: Label
    unit: Symbol
    target: Finite = Field(ge=-1e12, le=1e12)
    comparator: Comparator


class StatementPeriod(StrEnum):
    """How often an agreement's period closes with an evaluation and a statement (Europe/Paris)."""

    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"


class PerformanceClause(BaseModel):
    """How the price of an agreement on the offer depends on its performance.

    The amount the price model gives for a period is split into a fixed part (`fixed_percent`)
    and a variable part; the variable part is scaled by the share of indicators met, then
    bounded by `variable_floor_percent` and `variable_cap_percent` of itself. Defaults, when an
    offer has no clause: all fixed (no performance adjustment), no tolerance, 30 days' notice,
    monthly statements.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    fixed_percent: int = Field(default=100, ge=0, le=100)
    variable_floor_percent: int = Field(default=0, ge=0, le=100)
    variable_cap_percent: int = Field(default=100, ge=0, le=100)
    tolerances: dict[Label, Finite] = Field(
        default_factory=dict,
        max_length=20,
        description="Indicator name → tolerance ≥ 0 in the indicator's unit (default 0).",
    )
    notice_days: int = Field(default=30, ge=0, le=365, description="Notice of early termination.")
    statement_period: StatementPeriod = StatementPeriod.MONTH

    @field_validator("variable_cap_percent")
    @classmethod
    def _cap_above_floor(cls, cap: int, info: ValidationInfo) -> int:
        floor = info.data.get("variable_floor_percent")
        if floor is not None and cap < floor:
            raise ValueError("the cap must not be below the floor")
        return cap

    @field_validator("tolerances")
    @classmethod
    def _tolerances_not_negative(cls, tolerances: dict[str, float]) -> dict[str, float]:
        for name, tolerance in tolerances.items():
            if tolerance < 0:
                raise ValueError(f"the tolerance of {name} must not be negative")
        return tolerances


class Price(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    model: PriceModel
    unit_price: float = Field(ge=0, le=1_000_000, description="Per use, hour, unit, period...")
    currency: Currency


class AssetState(BaseModel):
    """A dormant asset as it is after the event."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    asset_id: str
    owner_id: str
    territory_id: str
    category: str = Field(description="Code in contracts.taxonomy.")
    title: str
    description: str = Field(description="French free text.")
    capacity: float = Field(gt=0)
    unit: Unit
    features: list[str] = Field(default_factory=list)
    location: Location
    availability: Availability
    idle_share: float = Field(ge=0, le=1, description="Share of the time the asset is unused.")
    version: int = Field(ge=1)


class AssetEvent(AssetState, EventPayload):
    topic = Topic.OFFERS


class AssetDeclaredV1(AssetEvent):
    """A dormant asset was declared."""

    event_type = "mcvt.asset.declared.v1"


class AssetUpdatedV1(AssetEvent):
    """An asset changed; its offers follow with `offer.updated` events carrying the new snapshot."""

    event_type = "mcvt.asset.updated.v1"

    changed: list[str] = Field(
        default_factory=list, description="Names of the fields that changed."
    )


class OfferState(EventPayload):
    """A usage offer as it is after the event, with the asset it puts to use."""

    topic = Topic.OFFERS

    offer_id: str
    provider_id: str
    territory_id: str
    status: OfferStatus
    title: str
    description: str = Field(description="French free text.")
    asset: AssetState
    performance: list[Indicator] = Field(default_factory=list)
    clause: PerformanceClause | None = Field(
        default=None, description="How the price depends on performance; null: the defaults."
    )
    price: Price
    eligible_requester_kinds: list[ActorKind] = Field(
        default_factory=list, description="Empty: every kind of requester is eligible."
    )
    max_distance_km: float = Field(ge=0)
    valid_from: datetime
    valid_to: datetime
    version: int = Field(ge=1)


class OfferDraftedV1(OfferState):
    """An offer was written but not published: not yet open to matching."""

    event_type = "mcvt.offer.drafted.v1"


class OfferPublishedV1(OfferState):
    """An offer is open to matching: first publication, or resumed after a pause."""

    event_type = "mcvt.offer.published.v1"


class OfferUpdatedV1(OfferState):
    event_type = "mcvt.offer.updated.v1"

    changed: list[str] = Field(
        default_factory=list, description="Fields that changed; `asset` when its asset changed."
    )


class OfferPausedV1(OfferState):
    event_type = "mcvt.offer.paused.v1"

    paused_by: str | None = Field(
        description="Actor who paused it; null when the platform did (suspension, end of validity)."
    )
    reason: str


class OfferWithdrawnV1(OfferState):
    event_type = "mcvt.offer.withdrawn.v1"

    withdrawn_by: str
    reason: str


class OfferGoingStaleV1(OfferState):
    """The offer's validity ends soon: its provider may renew it. Sent once per offer version."""

    event_type = "mcvt.offer.going_stale.v1"

    stale_at: datetime = Field(description="When the offer stops being valid (its valid_to).")


ASSET_EVENTS: tuple[type[AssetEvent], ...] = (AssetDeclaredV1, AssetUpdatedV1)
OFFER_EVENTS: tuple[type[OfferState], ...] = (
    OfferDraftedV1,
    OfferPublishedV1,
    OfferUpdatedV1,
    OfferPausedV1,
    OfferWithdrawnV1,
    OfferGoingStaleV1,
)
EVENTS: tuple[type[EventPayload], ...] = (*ASSET_EVENTS, *OFFER_EVENTS)
