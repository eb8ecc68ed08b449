"""The terms of an agreement: made from the offer and the need at their matched versions,
amended within the offer's price model, and hashed for signatures.

The terms are what the parties sign, so their hash is taken over a canonical JSON text (keys
sorted, no spaces, decimals as text): the same terms always give the same hash.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from contracts.agreements import IndicatorTerm, PriceTerm, Terms
from contracts.offers import (
    DatedWindow,
    Indicator,
    PerformanceClause,
    Price,
    PriceModel,
    WeeklySlot,
)
from contracts.taxonomy import Unit
from services.agreements.domain.money import decimal_of, unit_amount
from services.runtime.errors import InvalidInput


class OfferVersion(BaseModel):
    """What agreements keeps of one version of an offer (from `mcvt.offers` events)."""

    model_config = ConfigDict(frozen=True)

    offer_id: str
    version: int
    territory_id: str
    provider_id: str
    asset_id: str
    asset_owner_id: str
    category: str
    title: str
    performance: list[Indicator]
    clause: PerformanceClause | None
    price: Price
    valid_to: datetime


class NeedVersion(BaseModel):
    """What agreements keeps of one version of a need (from `mcvt.needs` events)."""

    model_config = ConfigDict(frozen=True)

    need_id: str
    version: int
    requester_id: str
    requester_kind: str
    title: str
    weekly_windows: list[WeeklySlot]
    dated_windows: list[DatedWindow]
    expires_at: datetime


def initial_terms(offer: OfferVersion, need: NeedVersion, quantity: float, unit: Unit) -> Terms:
    """Version 1: the offer's indicators, price and clause (or its defaults), the need's
    schedule, ending at the earlier of the need's expiry and the offer's validity."""
    clause = offer.clause or PerformanceClause()
    amount, amount_unit = unit_amount(offer.price)
    return Terms(
        version=1,
        quantity=quantity,
        unit=unit,
        indicators=[
            IndicatorTerm(
                name=i.name,
                unit=i.unit,
                target=str(decimal_of(i.target)),
                comparator=i.comparator,
                tolerance=str(decimal_of(clause.tolerances.get(i.name, 0))),
            )
            for i in offer.performance
        ],
        price=PriceTerm(model=offer.price.model, unit_amount=amount, amount_unit=amount_unit),
        clause=clause,
        weekly_windows=list(need.weekly_windows),
        dated_windows=list(need.dated_windows),
        ends_at=min(need.expires_at, offer.valid_to),
    )


class Amendment(BaseModel):
    """What an amendment may change; the fields left out stay."""

    model_config = ConfigDict(frozen=True)

    ends_at: datetime | None = None
    quantity: float | None = None
    weekly_windows: list[WeeklySlot] | None = None
    dated_windows: list[DatedWindow] | None = None
    unit_amount: int | None = None


def amend(terms: Terms, amendment: Amendment, *, now: datetime) -> tuple[Terms, list[str]]:
    """The next version of `terms` and the names of the fields it changes."""
    changes: dict[str, Any] = {
        name: value
        for name, value in amendment.model_dump(exclude_none=True).items()
        if name != "unit_amount"
    }
    if amendment.ends_at is not None and amendment.ends_at <= now:
        raise InvalidInput("the new end must lie in the future", field="ends_at")
    if amendment.unit_amount is not None:
        if terms.price.model is PriceModel.FREE and amendment.unit_amount != 0:
            raise InvalidInput("a free agreement stays free", field="unit_price")
        changes["price"] = terms.price.model_copy(update={"unit_amount": amendment.unit_amount})
    changed = sorted(
        name for name, value in changes.items() if _dumped(value) != _dumped(getattr(terms, name))
    )
    if not changed:
        raise InvalidInput("the amendment changes nothing", field="body")
    return terms.model_copy(update={**changes, "version": terms.version + 1}), changed


def _dumped(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_dumped(v) for v in value]
    return value


def terms_hash(terms: Terms) -> str:
    """SHA-256 (hex) of the canonical JSON of the terms."""
    canonical = json.dumps(
        terms.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def target_of(indicator: IndicatorTerm) -> tuple[Decimal, Decimal]:
    return Decimal(indicator.target), Decimal(indicator.tolerance)


def usage_unit(terms: Terms) -> Unit:
    """What a usage report's quantity counts: uses for a per-use price, units of the offer's
    unit for a price per performance unit, hours otherwise."""
    if terms.price.model is PriceModel.PER_USE:
        return Unit.UNIT
    if terms.price.model is PriceModel.PER_PERFORMANCE_UNIT:
        return terms.unit
    return Unit.HOUR
