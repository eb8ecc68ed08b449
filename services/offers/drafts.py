"""What callers submit: declarations, offers and needs to create, and partial changes to them.

Each model checks what one field can say alone (types, ranges, a window ending after it starts);
rules that need the taxonomy, the clock or the caller's actor live in `domain`. Unknown fields
are refused at every level, so a misspelt field never passes silently. In a change, a field
given replaces the current value whole; null restores its default where it has one.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from contracts.actors import ActorKind, Location
from contracts.fields import CleanText, Description, Moment, Title
from contracts.fields import Reason as ReasonText
from contracts.needs import Budget, Urgency
from contracts.offers import (
    Currency,
    DatedWindowIn,
    Indicator,
    PerformanceClause,
    PriceModel,
    WeeklySlotIn,
)
from contracts.taxonomy import CategoryCode, Unit

_STRICT = ConfigDict(extra="forbid", frozen=True)


def _unique_sorted(values: list[Any]) -> list[Any]:
    return sorted(set(values))


Feature = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,49}$"),
    Field(description="snake_case, e.g. refrigerated, wheelchair_accessible, with_driver."),
]
Features = Annotated[list[Feature], Field(max_length=30), AfterValidator(_unique_sorted)]
Amount = Annotated[float, Field(gt=0, le=1_000_000_000)]
Distance = Annotated[float, Field(ge=0, le=1000, description="Kilometres.")]
Share = Annotated[float, Field(ge=0, le=1)]
Kinds = Annotated[
    list[ActorKind],
    AfterValidator(_unique_sorted),
    Field(description="Empty: every kind of requester."),
]


class LocationIn(Location):
    model_config = _STRICT


class IndicatorIn(Indicator):
    model_config = _STRICT


class BudgetIn(Budget):
    model_config = _STRICT


class AvailabilityIn(BaseModel):
    model_config = _STRICT

    weekly: list[WeeklySlotIn] = Field(default_factory=list, max_length=70)
    closures: list[DatedWindowIn] = Field(default_factory=list, max_length=200)


class ClauseIn(PerformanceClause):
    """How the price of its agreements depends on performance (see PerformanceClause)."""

    model_config = _STRICT


class PriceIn(BaseModel):
    model_config = _STRICT

    model: PriceModel
    unit_price: float = Field(default=0, ge=0, le=1_000_000)
    currency: Currency | None = Field(
        default=None, description="Default: time_credit_hours for time_credits, else EUR."
    )


# --- assets -----------------------------------------------------------------------------------


class AssetDraft(BaseModel):
    """A dormant asset to declare."""

    model_config = _STRICT

    category: CategoryCode
    title: Title
    description: Description = ""
    capacity: Amount
    unit: Unit
    features: Features = Field(default_factory=list)
    location: LocationIn | None = Field(default=None, description="Default: the owner's location.")
    availability: AvailabilityIn = Field(default_factory=AvailabilityIn)
    idle_share: Share = Field(description="Share of the time the asset is unused today.")


class AssetChanges(BaseModel):
    """Fields to replace; the others stay."""

    model_config = _STRICT

    category: CategoryCode | None = None
    title: Title | None = None
    description: Description | None = None
    capacity: Amount | None = None
    unit: Unit | None = None
    features: Features | None = None
    location: LocationIn | None = None
    availability: AvailabilityIn | None = None
    idle_share: Share | None = None


# --- offers -----------------------------------------------------------------------------------


class OfferDraft(BaseModel):
    """A usage offer on one of the caller's assets."""

    model_config = _STRICT

    asset_id: UUID
    title: Title
    description: Description = ""
    performance: list[IndicatorIn] = Field(default_factory=list, max_length=20)
    clause: ClauseIn | None = Field(
        default=None, description="Performance clause of its agreements; null: the defaults."
    )
    price: PriceIn
    eligible_requester_kinds: Kinds = Field(default_factory=list)
    max_distance_km: Distance
    valid_from: Moment | None = Field(default=None, description="Default: now.")
    valid_to: Moment | None = Field(
        default=None, description="Default: the service's offer validity after valid_from."
    )
    publish: bool = Field(default=True, description="Publish at once; false keeps a draft.")


class OfferChanges(BaseModel):
    """Fields to replace; the others stay."""

    model_config = _STRICT

    title: Title | None = None
    description: Description | None = None
    performance: list[IndicatorIn] | None = Field(default=None, max_length=20)
    clause: ClauseIn | None = None
    price: PriceIn | None = None
    eligible_requester_kinds: Kinds | None = None
    max_distance_km: Distance | None = None
    valid_from: Moment | None = None
    valid_to: Moment | None = None


class Reason(BaseModel):
    model_config = _STRICT

    reason: ReasonText = ""


# --- needs ------------------------------------------------------------------------------------


class NeedDraft(BaseModel):
    """A resource request."""

    model_config = _STRICT

    title: Title
    description: Description = ""
    category: CategoryCode
    quantity: Amount
    unit: Unit
    required_features: Features = Field(default_factory=list)
    weekly_windows: list[WeeklySlotIn] = Field(default_factory=list, max_length=70)
    dated_windows: list[DatedWindowIn] = Field(default_factory=list, max_length=200)
    min_duration_minutes: int = Field(default=60, gt=0, le=60 * 24 * 31)
    location: LocationIn | None = Field(
        default=None, description="Default: the requester's location."
    )
    max_distance_km: Distance
    budget: BudgetIn
    urgency: Urgency = Urgency.NORMAL
    expires_at: Moment | None = Field(
        default=None, description="Default: the service's need lifetime from now."
    )
    project_id: UUID | None = Field(
        default=None,
        description="The territorial project (projects service) the need serves: one of your "
        "territory that you carry, else 422 (also while the project is not yet known here, "
        "just after its creation). Set once, at publication.",
    )


class NeedChanges(BaseModel):
    """Fields to replace; the others stay."""

    model_config = _STRICT

    title: Title | None = None
    description: Description | None = None
    category: CategoryCode | None = None
    quantity: Amount | None = None
    unit: Unit | None = None
    required_features: Features | None = None
    weekly_windows: list[WeeklySlotIn] | None = Field(default=None, max_length=70)
    dated_windows: list[DatedWindowIn] | None = Field(default=None, max_length=200)
    min_duration_minutes: int | None = Field(default=None, gt=0, le=60 * 24 * 31)
    location: LocationIn | None = None
    max_distance_km: Distance | None = None
    budget: BudgetIn | None = None
    urgency: Urgency | None = None
    expires_at: Moment | None = None


class Fulfilment(BaseModel):
    model_config = _STRICT

    agreement_id: Annotated[str, StringConstraints(max_length=100), CleanText()] | None = None
