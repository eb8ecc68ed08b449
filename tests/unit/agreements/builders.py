"""Values of the agreements domain for pure tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.agreements import AmountUnit, IndicatorTerm, PriceTerm, Terms
from contracts.offers import Comparator, PerformanceClause, PriceModel, WeeklySlot
from contracts.taxonomy import Unit
from services.agreements.domain import lifecycle
from services.agreements.domain.lifecycle import Agreement
from services.agreements.domain.terms import NeedVersion, OfferVersion, initial_terms
from services.runtime.principal import Principal

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # a Wednesday
SATURDAY = 5
PROVIDER, BENEFICIARY, TERRITORY = (str(uuid.uuid4()) for _ in range(3))


def offer_version(**overrides: Any) -> OfferVersion:
    fields: dict[str, Any] = {
        "offer_id": str(uuid.uuid4()),
        "version": 2,
        "territory_id": TERRITORY,
        "provider_id": PROVIDER,
        "asset_id": str(uuid.uuid4()),
        "asset_owner_id": PROVIDER,
        "category": "refrigerated_van",
        "title": "Fourgon",
        "performance": [
            {"name": "availability", "unit": "%", "target": 95, "comparator": "gte"},
            {"name": "temperature", "unit": "°C", "target": 4, "comparator": "lte"},
        ],
        "clause": None,
        "price": {"model": "per_hour", "unit_price": 12.5, "currency": "EUR"},
        "valid_to": NOW + timedelta(days=365),
        **overrides,
    }
    return OfferVersion.model_validate(fields)


def need_version(**overrides: Any) -> NeedVersion:
    fields: dict[str, Any] = {
        "need_id": str(uuid.uuid4()),
        "version": 1,
        "requester_id": BENEFICIARY,
        "requester_kind": "association",
        "title": "Paniers",
        "weekly_windows": [WeeklySlot(weekday=SATURDAY, start_minute=480, end_minute=720)],
        "dated_windows": [],
        "expires_at": NOW + timedelta(days=60),
        **overrides,
    }
    return NeedVersion.model_validate(fields)


def draft(*, approval: bool = False, **offer: Any) -> tuple[Agreement, Terms]:
    offered, wanted = offer_version(**offer), need_version()
    terms = initial_terms(offered, wanted, 8, Unit.M3)
    agreement = lifecycle.draft(
        agreement_id=uuid.uuid4(),
        match_id=uuid.uuid4(),
        offer=offered,
        need=wanted,
        terms=terms,
        provider_kind="business",
        public_asset=approval,
        approval_required=approval,
        now=NOW,
        lapse_after=timedelta(days=14),
    )
    return agreement, terms


def principal(actor_id: str, *, roles: frozenset[str] = frozenset()) -> Principal:
    return Principal(
        actor_id=actor_id,
        territory_id=TERRITORY,
        kind="business",
        roles=roles,
        token_id="t",
        status="active",
    )


def price(model: PriceModel, amount: int, unit: AmountUnit = AmountUnit.EUR_CENTS) -> PriceTerm:
    return PriceTerm(model=model, unit_amount=amount, amount_unit=unit)


def indicator(comparator: Comparator, target: str, tolerance: str = "0") -> IndicatorTerm:
    return IndicatorTerm(
        name="x", unit="u", target=target, comparator=comparator, tolerance=tolerance
    )


def clause(**fields: Any) -> PerformanceClause:
    return PerformanceClause(**fields)
