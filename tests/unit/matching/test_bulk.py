"""The array re-match gives exactly what ranking each need on its own gives."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.matching.bulk import rematch_all
from services.matching.candidates import OfferIndex
from services.matching.filters import distance_km, shared_time
from services.matching.model import (
    DEFAULT_POLICY,
    Candidate,
    DatedWindow,
    Location,
    NeedView,
    OfferView,
    Policy,
    WeeklySlot,
)
from services.matching.ranking import rank_for_need, rematch
from services.matching.scoring import score_pair
from tests.unit.matching.strategies import (
    MONDAY,
    needs,
    offers,
    policies,
    van_need,
    van_offer,
)

slow = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _one_by_one(
    need_list: list[NeedView], offer_list: list[OfferView], policy: Policy
) -> dict[str, list[Candidate]]:
    index = OfferIndex()
    for offer in offer_list:
        index.add(offer)
    return {need.need_id: rank_for_need(need, index, policy) for need in need_list}


def _as_one_by_one(
    need_list: list[NeedView], offer_list: list[OfferView], policy: Policy
) -> dict[str, list[Candidate]]:
    """The re-match of these, checked equal to ranking need by need."""
    found = rematch_all(need_list, offer_list, policy)
    assert found == _one_by_one(need_list, offer_list, policy)
    assert found is not None
    return found


@slow
@given(
    st.lists(offers(dense=True), max_size=30, unique_by=lambda o: o.offer_id),
    st.lists(needs(dense=True), min_size=1, max_size=8, unique_by=lambda n: n.need_id),
    policies(),
)
def test_the_same_candidates_scores_and_order_on_dense_data(
    offer_list: list[OfferView], need_list: list[NeedView], policy: Policy
) -> None:
    assert rematch_all(need_list, offer_list, policy) == _one_by_one(need_list, offer_list, policy)


@slow
@given(
    st.lists(offers(), max_size=30, unique_by=lambda o: o.offer_id),
    st.lists(needs(), min_size=1, max_size=8, unique_by=lambda n: n.need_id),
    policies(),
)
def test_the_same_candidates_scores_and_order_on_any_data(
    offer_list: list[OfferView], need_list: list[NeedView], policy: Policy
) -> None:
    assert rematch_all(need_list, offer_list, policy) == _one_by_one(need_list, offer_list, policy)


def test_many_equal_offers_are_cut_to_top_k_by_offer_id() -> None:
    # Equal scores everywhere: the cut and the order rest on the offer id alone.
    offer_list = [van_offer(offer_id=f"offer-{i:02}") for i in range(12)]
    need_list = [van_need(need_id=f"need-{i}") for i in range(3)]
    found = _as_one_by_one(need_list, offer_list, DEFAULT_POLICY)
    assert [c.offer.offer_id for c in found["need-0"]] == [f"offer-{i:02}" for i in range(5)]


def test_kinds_that_no_offer_names_take_no_bit() -> None:
    kinds = [f"kind-{i}" for i in range(70)]
    need_list = [van_need(need_id=f"need-{kind}", requester_kind=kind) for kind in kinds]
    offer_list = [
        van_offer(offer_id="some", eligible_requester_kinds=frozenset(kinds[:40:2])),
        van_offer(offer_id="all", eligible_requester_kinds=frozenset()),
    ]
    found = _as_one_by_one(need_list, offer_list, DEFAULT_POLICY)
    assert sum(map(len, found.values())) == 70 + 20


def test_too_many_requester_kinds_fall_back_to_ranking_need_by_need() -> None:
    kinds = [f"kind-{i}" for i in range(70)]
    need_list = [van_need(need_id=f"need-{kind}", requester_kind=kind) for kind in kinds]
    # Only the offers' words take bits: 35 kinds of the needs and 30 others are too many.
    others = [f"other-{i}" for i in range(30)]
    offer_list = [van_offer(eligible_requester_kinds=frozenset(kinds[::2] + others))]
    assert rematch_all(need_list, offer_list, DEFAULT_POLICY) is None
    index = OfferIndex()
    index.add(offer_list[0])
    found = rematch(need_list, index, DEFAULT_POLICY)
    assert found == _one_by_one(need_list, offer_list, DEFAULT_POLICY)
    assert sum(map(len, found.values())) == 35


@slow
@given(
    st.lists(offers(dense=True), min_size=1, max_size=30, unique_by=lambda o: o.offer_id),
    st.lists(needs(dense=True), min_size=1, max_size=8, unique_by=lambda n: n.need_id),
    policies(),
    st.data(),
)
def test_the_columns_an_index_keeps_through_replacements_and_removals(
    offer_list: list[OfferView],
    need_list: list[NeedView],
    policy: Policy,
    data: st.DataObject,
) -> None:
    index = OfferIndex()
    for offer in offer_list:
        index.add(offer)
    # Some offers replaced by a newer version elsewhere, some removed, some added back.
    changed = data.draw(st.lists(st.sampled_from(offer_list), unique_by=lambda o: o.offer_id))
    removed = data.draw(st.lists(st.sampled_from(offer_list), unique_by=lambda o: o.offer_id))
    for offer in changed:
        moved = replace(offer, version=offer.version + 1, location=need_list[0].location)
        index.add(moved)
    for offer in removed:
        index.discard(offer.offer_id, offer.version + 1)
    for offer in removed[::2]:
        index.add(replace(offer, version=offer.version + 2))
    current = list(index)
    assert rematch(need_list, index, policy) == _one_by_one(need_list, current, policy)
    assert rematch_all(need_list, index.columns, policy) == _one_by_one(need_list, current, policy)


@settings(deadline=None)
@given(offers(dense=True), needs(dense=True), policies())
def test_a_breakdown_from_a_known_overlap_is_the_same(
    offer: OfferView, need: NeedView, policy: Policy
) -> None:
    shared = shared_time(offer, need)
    assert score_pair(offer, need, policy, shared) == score_pair(offer, need, policy)


def test_a_pair_whose_bound_overstates_it_does_not_hide_a_better_one() -> None:
    # A closure takes half of A's Saturday away: its bound (the opening hours alone) ranks it
    # first, its real score second. A need with a dated window only: the bound must count it.
    saturday = MONDAY + timedelta(days=5)
    need = van_need(
        weekly_windows=(),
        dated_windows=(DatedWindow(saturday + timedelta(hours=8), saturday + timedelta(hours=12)),),
        min_duration_minutes=60,
    )
    slot = (WeeklySlot(5, 8 * 60, 12 * 60),)
    closure = DatedWindow(saturday + timedelta(hours=8), saturday + timedelta(hours=10))
    a = van_offer(offer_id="a", weekly_slots=slot, exceptions=(closure,), idle_share=1.0)
    b = van_offer(offer_id="b", weekly_slots=slot, idle_share=0.6)
    policy = replace(DEFAULT_POLICY, top_k=1)
    found = _as_one_by_one([need], [a, b], policy)
    assert [c.offer.offer_id for c in found[need.need_id]] == ["b"]


def test_a_pair_ahead_without_the_text_does_not_hide_one_the_text_puts_first() -> None:
    # Without the text, A leads B by 0.01; B's text (the need's own words) puts it 0.09 ahead.
    need = van_need()
    a = van_offer(offer_id="a", idle_share=0.9, description="tracteur agricole")
    b = van_offer(offer_id="b", idle_share=0.8, description=need.description)
    policy = replace(DEFAULT_POLICY, top_k=1)
    found = _as_one_by_one([need], [a, b], policy)
    assert [c.offer.offer_id for c in found[need.need_id]] == ["b"]


def test_a_pair_that_reaches_the_threshold_only_by_its_time_overlap_is_kept() -> None:
    # Every part but the time overlap is low: the pair reaches the threshold by sharing all of
    # the need's time, which the bound taken before the overlap must count in full.
    need = van_need(max_unit_price=None, required_features=frozenset({"tail_lift"}))
    offer = van_offer(idle_share=0.0, capacity=100, description="")
    weights = {"time_overlap": 1.0, "features": 1.0, "dormancy": 1.0}
    policy = replace(DEFAULT_POLICY, weights=weights, threshold=0.3)
    found = _as_one_by_one([need], [offer], policy)
    assert [c.offer.offer_id for c in found[need.need_id]] == [offer.offer_id]


def test_a_stretch_over_the_turn_of_the_week_counts_whole() -> None:
    # Open Sunday 22:00 to Monday 02:00: two hours are one stretch, weekly or on a date.
    slots = (WeeklySlot(6, 22 * 60, 24 * 60), WeeklySlot(0, 0, 2 * 60))
    offer = van_offer(weekly_slots=slots)
    weekly = van_need(
        need_id="weekly",
        weekly_windows=(WeeklySlot(6, 23 * 60, 24 * 60), WeeklySlot(0, 0, 60)),
        min_duration_minutes=120,
    )
    sunday = MONDAY + timedelta(days=6)
    dated = van_need(
        need_id="dated",
        weekly_windows=(),
        dated_windows=(DatedWindow(sunday + timedelta(hours=23), sunday + timedelta(hours=25)),),
        min_duration_minutes=120,
    )
    found = _as_one_by_one([weekly, dated], [offer], DEFAULT_POLICY)
    assert [len(found[n]) for n in ("weekly", "dated")] == [1, 1]


def test_an_offer_with_more_week_intervals_than_its_row_holds() -> None:
    # Two slots a day: the Sunday evening slot, the one the need shares, is the fourteenth.
    slots = tuple(
        WeeklySlot(day, start, start + 120) for day in range(7) for start in (8 * 60, 18 * 60)
    )
    offer = van_offer(weekly_slots=slots)
    need = van_need(weekly_windows=(WeeklySlot(6, 18 * 60, 20 * 60),), min_duration_minutes=120)
    found = _as_one_by_one([need], [offer], DEFAULT_POLICY)
    assert len(found[need.need_id]) == 1


def test_an_index_whose_gone_offers_named_too_many_kinds_ranks_with_arrays_again() -> None:
    kinds = [f"kind-{i}" for i in range(70)]
    index = OfferIndex()
    index.add(van_offer(offer_id="many", eligible_requester_kinds=frozenset(kinds)))
    index.add(van_offer(offer_id="few", eligible_requester_kinds=frozenset(kinds[:2])))
    need_list = [van_need(need_id=f"need-{kind}", requester_kind=kind) for kind in kinds[:3]]
    assert rematch_all(need_list, index.columns, DEFAULT_POLICY) is None
    index.discard("many", 2)
    found = rematch_all(need_list, index.columns, DEFAULT_POLICY)
    assert found == _one_by_one(need_list, list(index), DEFAULT_POLICY)
    assert found is not None
    assert [len(found[n.need_id]) for n in need_list] == [1, 1, 0]


def _around(rng: random.Random, spread: float) -> Location:
    return Location(44.93 + rng.uniform(-spread, spread), 5.68 + rng.uniform(-spread, spread))


def _reaching(
    need: NeedView, rng: random.Random, *, count: int, spread: float, reach: float
) -> list[OfferView]:
    """`count` offers scattered around the need, each reaching `reach` times its distance."""
    offer_list = []
    for i in range(count):
        offer = van_offer(offer_id=f"offer-{i:04}", location=_around(rng, spread))
        offer_list.append(replace(offer, max_distance_km=distance_km(offer, need) * reach))
    return offer_list


def test_every_distance_part_is_the_scalar_one_to_the_last_bit() -> None:
    # A thousand pairs up to some hundred km apart scored on the distance alone, each offer
    # reaching a little beyond its need, so that a part near 0 shows the distance's last bit:
    # an arcsine taken another way than the scalar formula's (numpy's) differs there for a few.
    need = van_need(max_distance_km=1000)
    offer_list = _reaching(need, random.Random(7), count=1000, spread=2.0, reach=1.001)
    policy = replace(DEFAULT_POLICY, weights={"distance": 1.0}, threshold=0.0, top_k=1000)
    found = _as_one_by_one([need], offer_list, policy)
    assert len(found[need.need_id]) == 1000


def test_needs_at_the_very_edge_of_their_radius_are_kept() -> None:
    # The other side: each need reaches exactly as far as the offer, which reaches further.
    # The bound taken on the need's chord before the great circle must keep every one of them.
    offer = van_offer(max_distance_km=100)
    rng = random.Random(13)
    need_list = []
    for i in range(60):
        need = van_need(need_id=f"need-{i:04}", location=_around(rng, 0.2))
        need_list.append(replace(need, max_distance_km=distance_km(offer, need)))
    policy = replace(DEFAULT_POLICY, threshold=0.0)
    found = _as_one_by_one(need_list, [offer], policy)
    assert all(len(found[need.need_id]) == 1 for need in need_list)


def test_equal_offers_are_ranked_by_offer_id_whatever_their_slots() -> None:
    # Equal scores, the offers filed in another order than their ids'.
    offer_list = [van_offer(offer_id=f"offer-{i:02}") for i in range(12)]
    random.Random(3).shuffle(offer_list)
    policy = replace(DEFAULT_POLICY, top_k=8)
    found = _as_one_by_one([van_need()], offer_list, policy)
    assert [c.offer.offer_id for c in found["need-van"]] == [f"offer-{i:02}" for i in range(8)]


def test_offers_at_the_very_edge_of_their_radius_are_kept() -> None:
    # Each offer reaches exactly as far as the need: the bound taken on the chord before the
    # great circle must keep every one of them.
    need = van_need(max_distance_km=100)
    offer_list = _reaching(need, random.Random(11), count=60, spread=0.2, reach=1.0)
    policy = replace(DEFAULT_POLICY, threshold=0.0, top_k=100)
    found = _as_one_by_one([need], offer_list, policy)
    assert len(found[need.need_id]) == 60
