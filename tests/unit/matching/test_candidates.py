"""The indexes lose no passing pair, never return one twice, and apply updates by version."""

from __future__ import annotations

import random
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.taxonomy import Unit, category_matches
from services.matching.candidates import NeedIndex, OfferIndex
from services.matching.filters import first_failure
from services.matching.model import Location, NeedView, OfferView, PriceModel, WeeklySlot
from tests.unit.matching.strategies import needs, offers, van_need, van_offer

slow = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _passing(offer_list: list[OfferView], need: NeedView) -> set[str]:
    return {o.offer_id for o in offer_list if first_failure(o, need) is None}


@slow
@given(
    st.lists(offers(dense=True), max_size=30, unique_by=lambda o: o.offer_id),
    st.lists(needs(dense=True), min_size=1, max_size=8, unique_by=lambda n: n.need_id),
)
def test_candidates_equal_a_full_scan_after_filters(
    offer_list: list[OfferView], need_list: list[NeedView]
) -> None:
    offer_index, need_index = OfferIndex(), NeedIndex()
    for offer in offer_list:
        offer_index.add(offer)
    for need in need_list:
        need_index.add(need)
    for need in need_list:
        found = list(offer_index.candidates_for_need(need))
        assert len(found) == len({o.offer_id for o in found})
        assert all(o.territory_id == need.territory_id for o in found)
        assert all(category_matches(o.category, need.category) for o in found)
        assert {o.offer_id for o in found if first_failure(o, need) is None} == _passing(
            offer_list, need
        )
    for offer in offer_list:
        found_needs = list(need_index.candidates_for_offer(offer))
        assert len(found_needs) == len({n.need_id for n in found_needs})
        assert {n.need_id for n in found_needs if first_failure(offer, n) is None} == {
            n.need_id for n in need_list if first_failure(offer, n) is None
        }


def test_on_a_larger_random_territory_the_index_is_selective_and_complete() -> None:
    rng = random.Random(7)
    base_offer, base_need = van_offer(), van_need(category="van", min_duration_minutes=60)

    def spot() -> Location:
        return Location(44.9 + rng.uniform(-0.25, 0.25), 5.7 + rng.uniform(-0.35, 0.35))

    offer_list = []
    for i in range(600):
        category = rng.choice(("van", "refrigerated_van", "car", "minibus"))
        offer_list.append(
            replace(
                base_offer,
                offer_id=f"o{i}",
                category=category,
                unit=base_offer.unit if category.endswith("van") else Unit.SEAT,
                location=spot(),
                max_distance_km=rng.uniform(5, 40),
                weekly_slots=(WeeklySlot(rng.randrange(7), 7 * 60, 13 * 60),),
            )
        )
    index = OfferIndex()
    for offer in offer_list:
        index.add(offer)
    matched = 0
    for i in range(40):
        need = replace(
            base_need,
            need_id=f"n{i}",
            location=spot(),
        )
        found = list(index.candidates_for_need(need))
        assert len(found) < len(offer_list) / 10
        passing = _passing(offer_list, need)
        assert {o.offer_id for o in found if first_failure(o, need) is None} == passing
        matched += bool(passing)
    assert matched > 10


@st.composite
def _operations(draw: st.DrawFn) -> list[tuple[str, OfferView]]:
    base = draw(offers(dense=True))
    operations = []
    for _ in range(draw(st.integers(1, 12))):
        offer_id = draw(st.sampled_from(("a", "b", "c")))
        version = draw(st.integers(0, 6))
        moved = Location(base.location.lat + draw(st.floats(-0.1, 0.1)), base.location.lon)
        operations.append(
            (
                draw(st.sampled_from(("add", "update", "remove"))),
                replace(base, offer_id=offer_id, version=version, location=moved),
            )
        )
    return operations


@settings(deadline=None)
@given(_operations())
def test_updates_apply_by_version_whatever_the_order(
    operations: list[tuple[str, OfferView]],
) -> None:
    index = OfferIndex()
    known: dict[str, int] = {}
    present: dict[str, OfferView] = {}
    for operation, offer in operations:
        last = known.get(offer.offer_id)
        if operation == "remove":
            applied = index.discard(offer.offer_id, offer.version)
            if last is None or offer.version >= last:
                assert applied == (offer.offer_id in present)
                present.pop(offer.offer_id, None)
                known[offer.offer_id] = offer.version
            else:
                assert not applied
        else:
            applied = getattr(index, operation)(offer)
            assert applied == (last is None or offer.version > last)
            if applied:
                present[offer.offer_id] = offer
                known[offer.offer_id] = offer.version
    assert {o.offer_id: o for o in index} == present
    assert len(index) == len(present)
    for offer in present.values():
        assert index.get(offer.offer_id) is offer
    base = operations[0][1]
    everything = van_need(
        category="vehicle",
        unit=Unit.HOUR,
        quantity=1,
        territory_id=base.territory_id,
        location=base.location,
        max_distance_km=50,
        weekly_windows=tuple(WeeklySlot(day, 0, 1440) for day in range(7)),
        accepted_price_models=frozenset(PriceModel),
        max_unit_price=None,
        requester_kind=min(base.eligible_requester_kinds, default="association"),
    )
    # The index holds no stale entry, and every present offer the need could use is found.
    found = [o.offer_id for o in index.candidates_for_need(everything)]
    assert len(found) == len(set(found))
    assert set(found) <= {o.offer_id for o in present.values() if o.weekdays}
    assert set(found) >= {
        o.offer_id for o in present.values() if first_failure(o, everything) is None
    }
