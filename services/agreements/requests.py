"""What callers submit to the agreements service. Unknown fields are refused at every level."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.fields import CleanText, Label, Moment
from contracts.fields import Reason as ReasonText
from contracts.taxonomy import Unit
from services.agreements.domain.value import DECLARED, ValueKind
from services.offers.drafts import DatedWindowIn, WeeklySlotIn

_STRICT = ConfigDict(extra="forbid", frozen=True)

Quantity = Annotated[Decimal, Field(max_digits=18, decimal_places=6, allow_inf_nan=False)]
Hash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class SignIn(BaseModel):
    model_config = _STRICT

    terms_version: int = Field(ge=1, le=10_000, description="The version of the terms you read.")
    terms_hash: Hash | None = Field(
        default=None, description="Its hash as you read it: refused (409) if the terms differ."
    )


class TerminateIn(BaseModel):
    model_config = _STRICT

    reason: ReasonText = Field(min_length=1, description="Why the agreement ends (French).")


class AmendmentIn(BaseModel):
    """Fields of the terms to change; the others stay. The price model never changes."""

    model_config = _STRICT

    ends_at: Moment | None = None
    quantity: float | None = Field(default=None, gt=0, le=1_000_000_000)
    weekly_windows: list[WeeklySlotIn] | None = Field(default=None, max_length=70)
    dated_windows: list[DatedWindowIn] | None = Field(default=None, max_length=200)
    unit_price: Decimal | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        max_digits=12,
        decimal_places=2,
        description="Euros (or time credit hours) per unit of the price model.",
    )


class UsageIn(BaseModel):
    model_config = _STRICT

    period_start: Moment
    period_end: Moment
    quantity: Quantity = Field(
        description="Uses, hours or units used, as the price model counts (may not be negative)."
    )
    measurements: dict[Label, Quantity] = Field(
        default_factory=dict, max_length=20, description="Indicator name → measured value."
    )
    corrects: UUID | None = Field(default=None, description="The disputed report it corrects.")


class DisputeIn(BaseModel):
    model_config = _STRICT

    reason: ReasonText = Field(min_length=1)


DeclaredKind = Annotated[
    ValueKind,
    Field(
        json_schema_extra={"enum": sorted(str(kind) for kind in DECLARED)},
        description="purchase_cost_avoided (cents), people_served, jobs_created_or_consolidated.",
    ),
]


class DeclarationIn(BaseModel):
    model_config = _STRICT

    period_start: Moment = Field(description="Any moment of the period it is declared for.")
    kind: DeclaredKind
    amount: Quantity = Field(ge=0)


Citation = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), CleanText()
]


class FactorIn(BaseModel):
    """A territory's own emission factor for a category, with the source one can check."""

    model_config = _STRICT

    value: Decimal = Field(ge=0, le=1_000_000, max_digits=18, decimal_places=6)
    unit: Unit = Field(description="Per unit of use: hour, unit (one use), kg, km...")
    title: Citation
    publisher: Citation
    year: int = Field(ge=1900, le=2100)
    url: Annotated[str, StringConstraints(max_length=500, pattern=r"^https?://\S+$")] | None = None
