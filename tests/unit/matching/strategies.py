"""Hypothesis strategies and builders for matching's domain tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from contracts.taxonomy import CATEGORIES, Unit, units_for
from services.matching.model import (
    PARTS,
    Currency,
    DatedWindow,
    Location,
    NeedView,
    OfferView,
    Policy,
    PriceModel,
    WeeklySlot,
)

# A Monday, so that day offsets read as weekdays.
MONDAY = datetime(2026, 6, 1)
CENTRE = Location(45.19, 5.72)
TERRITORIES = ("trieves", "vercors")
KINDS = ("association", "business", "local_authority", "citizen")
FEATURES = ("refrigerated", "wheelchair_accessible", "with_driver", "kitchen_equipped")
WORDS = (
    "fourgon frigorifique",
    "salle de réunion lumineuse",
    "cuisine équipée",
    "livraison de paniers frais",
    "atelier bois",
    "réparation de vélos",
    "le samedi matin",
    "pour l'association",
)

categories = st.sampled_from(sorted(CATEGORIES))
# Few categories, kinds and price models, so that random pairs often pass every filter.
DENSE_CATEGORIES = ("vehicle", "van", "refrigerated_van")
locations = st.builds(
    Location,
    lat=st.floats(CENTRE.lat - 0.25, CENTRE.lat + 0.25),
    lon=st.floats(CENTRE.lon - 0.35, CENTRE.lon + 0.35),
)
radii = st.floats(0.0, 40.0)
descriptions = st.lists(st.sampled_from(WORDS), max_size=4).map(" ".join)


@st.composite
def weekly_slots(
    draw: st.DrawFn, max_size: int = 4, days: tuple[int, ...] = tuple(range(7))
) -> tuple[WeeklySlot, ...]:
    """Slots on 15-minute boundaries of `days`, possibly overlapping or touching."""
    slots = []
    for _ in range(draw(st.integers(0, max_size))):
        start = draw(st.integers(0, 95)) * 15
        end = draw(st.integers(start // 15 + 1, 96)) * 15
        slots.append(WeeklySlot(draw(st.sampled_from(days)), start, end))
    return tuple(slots)


@st.composite
def dated_windows(draw: st.DrawFn, max_size: int = 2) -> tuple[DatedWindow, ...]:
    """Windows over three weeks from `MONDAY`, from a quarter of an hour to three days long."""
    windows = []
    for _ in range(draw(st.integers(0, max_size))):
        start = MONDAY + timedelta(minutes=15 * draw(st.integers(0, 21 * 96)))
        length = timedelta(minutes=15 * draw(st.integers(1, 3 * 96)))
        windows.append(DatedWindow(start, start + length))
    return tuple(windows)


@st.composite
def validities(draw: st.DrawFn, open_sides: int = 1) -> tuple[datetime | None, datetime | None]:
    """An offer's validity around the three weeks of `dated_windows`; each side is left open
    (None) in `open_sides` draws out of `open_sides + 1`."""
    start = MONDAY + timedelta(
        days=draw(st.integers(-7, 21)), minutes=15 * draw(st.integers(0, 95))
    )
    end = start + timedelta(days=draw(st.integers(0, 40)), minutes=15 * draw(st.integers(1, 95)))
    return (
        draw(st.sampled_from((start,) + (None,) * open_sides)),
        draw(st.sampled_from((end,) + (None,) * open_sides)),
    )


expiries = st.none() | st.builds(
    lambda days, quarters: MONDAY + timedelta(days=days, minutes=15 * quarters),
    st.integers(0, 40),
    st.integers(0, 95),
)

DENSE_PRICE_MODELS = (PriceModel.PER_USE, PriceModel.FREE, PriceModel.TIME_CREDITS)


def _territories(dense: bool) -> st.SearchStrategy[str]:
    return st.sampled_from(TERRITORIES[:1] * 3 + TERRITORIES[1:] if dense else TERRITORIES)


def _category_and_unit(draw: st.DrawFn, dense: bool) -> tuple[str, Unit]:
    if dense:
        return draw(st.sampled_from(DENSE_CATEGORIES)), Unit.HOUR
    category = draw(categories)
    return category, draw(st.sampled_from(units_for(category)))


@st.composite
def offers(draw: st.DrawFn, offer_id: str | None = None, dense: bool = False) -> OfferView:
    category, unit = _category_and_unit(draw, dense)
    models = DENSE_PRICE_MODELS if dense else tuple(PriceModel)
    model = draw(st.sampled_from(models))
    credits = model is PriceModel.TIME_CREDITS
    kinds = (
        st.sampled_from((frozenset(), frozenset({"association"}), frozenset({"business"})))
        if dense
        else st.lists(st.sampled_from(KINDS), max_size=2).map(frozenset)
    )
    valid_from, valid_to = draw(validities(open_sides=3 if dense else 1))
    return OfferView(
        offer_id=offer_id or draw(st.uuids()).hex,
        asset_id="asset",
        provider_id=draw(st.sampled_from(("p1", "p2", "p3"))),
        territory_id=draw(_territories(dense)),
        category=category,
        capacity=draw(st.integers(5 if dense else 1, 20)),
        unit=unit,
        location=draw(locations),
        max_distance_km=draw(radii),
        weekly_slots=draw(weekly_slots(days=(5, 6) if dense else tuple(range(7)))),
        exceptions=draw(dated_windows()),
        price_model=model,
        unit_price=0.0 if model is PriceModel.FREE else draw(st.integers(0, 80)),
        currency=Currency.TIME_CREDIT_HOURS if credits else Currency.EUR,
        features=frozenset(draw(st.lists(st.sampled_from(FEATURES), max_size=3))),
        eligible_requester_kinds=draw(kinds),
        idle_share=draw(st.floats(0.0, 1.0)),
        description=draw(descriptions),
        version=draw(st.integers(0, 5)),
        valid_from=valid_from,
        valid_to=valid_to,
    )


@st.composite
def needs(draw: st.DrawFn, need_id: str | None = None, dense: bool = False) -> NeedView:
    category, unit = _category_and_unit(draw, dense)
    weekly = draw(weekly_slots(max_size=3, days=(5, 6) if dense else tuple(range(7))))
    dated = draw(dated_windows())
    if not weekly and not dated:
        weekly = (WeeklySlot(draw(st.integers(0, 6)), 8 * 60, 12 * 60),)
    budget = draw(st.none() | st.integers(0, 80))
    return NeedView(
        need_id=need_id or draw(st.uuids()).hex,
        requester_id=draw(st.sampled_from(("r1", "r2", "r3"))),
        requester_kind=draw(st.sampled_from(("association", "business") if dense else KINDS)),
        territory_id=draw(_territories(dense)),
        category=category,
        quantity=draw(st.integers(1, 8 if dense else 20)),
        unit=unit,
        location=draw(locations),
        max_distance_km=draw(radii),
        accepted_price_models=frozenset(draw(st.lists(st.sampled_from(list(PriceModel)))))
        | ({PriceModel.PER_USE} if dense else set()),
        weekly_windows=weekly,
        dated_windows=dated,
        min_duration_minutes=draw(st.integers(1, 8)) * 30,
        max_unit_price=None if budget is None else float(budget),
        accepts_time_credits=draw(st.booleans()),
        required_features=frozenset(draw(st.lists(st.sampled_from(FEATURES), max_size=2))),
        description=draw(descriptions),
        social_priority=draw(st.floats(0.0, 1.0)),
        version=draw(st.integers(0, 5)),
        expires_at=draw(expiries),
    )


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    weights = draw(st.dictionaries(st.sampled_from(PARTS), st.floats(0.0, 10.0), min_size=1))
    if sum(weights.values()) <= 0:
        weights[draw(st.sampled_from(PARTS))] = 1.0
    return Policy(
        version=draw(st.integers(1, 100)),
        weights=weights,
        threshold=draw(st.floats(0.0, 1.0)),
        top_k=draw(st.integers(1, 10)),
        ttl=timedelta(hours=draw(st.integers(1, 200))),
        fairness_cap=draw(st.integers(1, 5)),
    )


def van_offer(**changes: Any) -> OfferView:
    """A refrigerated van free on Saturdays from 7:00 to 13:00, 35 € per use."""
    offer = OfferView(
        offer_id="offer-van",
        asset_id="asset-van",
        provider_id="ferme-des-alpes",
        territory_id="trieves",
        category="refrigerated_van",
        capacity=12,
        unit=units_for("refrigerated_van")[0],
        location=Location(44.870, 5.630),
        max_distance_km=30,
        weekly_slots=(WeeklySlot(5, 7 * 60, 13 * 60),),
        price_model=PriceModel.PER_USE,
        unit_price=35,
        features=frozenset({"refrigerated"}),
        eligible_requester_kinds=frozenset({"association"}),
        idle_share=0.8,
        description="Fourgon frigorifique de 12 m³ disponible le samedi pour vos produits frais",
        version=1,
    )
    return replace(offer, **changes)


def van_need(**changes: Any) -> NeedView:
    """An association needing a refrigerated van, Saturdays 8-12, within 15 km, ≤ 40 € per use."""
    need = NeedView(
        need_id="need-van",
        requester_id="epicerie-solidaire",
        requester_kind="association",
        territory_id="trieves",
        category="refrigerated_van",
        quantity=8,
        unit=units_for("refrigerated_van")[0],
        location=Location(44.930, 5.680),
        max_distance_km=15,
        accepted_price_models=frozenset({PriceModel.PER_USE}),
        weekly_windows=(WeeklySlot(5, 8 * 60, 12 * 60),),
        min_duration_minutes=4 * 60,
        max_unit_price=40,
        required_features=frozenset({"refrigerated"}),
        description="Camion réfrigéré le samedi matin pour livrer les paniers de produits frais",
        social_priority=0.6,
        version=1,
    )
    return replace(need, **changes)
