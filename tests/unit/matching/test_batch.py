"""Batch proposals: rounds of allocation that never promise contested capacity twice."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace
from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.taxonomy import Unit
from services.matching.batch import allocation_rounds
from services.matching.capacity import ALWAYS, Booking, Windows
from services.matching.model import (
    Candidate,
    Location,
    NeedView,
    OfferView,
    PriceModel,
    ScoreBreakdown,
    WeeklySlot,
)

SATURDAY, SUNDAY = 5, 6

OFFER = OfferView(
    offer_id="o", asset_id="a", provider_id="p", territory_id="t", category="van", capacity=12,
    unit=Unit.M3, location=Location(44.75, 5.37), max_distance_km=30,
    weekly_slots=(WeeklySlot(5, 420, 780), WeeklySlot(6, 420, 780)),
    price_model=PriceModel.PER_USE, unit_price=35,
)  # fmt: skip
NEED = NeedView(
    need_id="n", requester_id="r", requester_kind="association", territory_id="t",
    category="van", quantity=8, unit=Unit.M3, location=Location(44.75, 5.37),
    max_distance_km=15, accepted_price_models=frozenset({PriceModel.PER_USE}),
    weekly_windows=(WeeklySlot(5, 480, 720),),
)  # fmt: skip


def pair(
    offer: str,
    need: str,
    requester: str,
    quantity: float,
    score: float,
    capacity: float = 12,
    days: tuple[int, ...] = (SATURDAY,),
) -> Candidate:
    breakdown = ScoreBreakdown(MappingProxyType({}), MappingProxyType({}), score, 1)
    return Candidate(
        replace(OFFER, offer_id=offer, capacity=capacity),
        replace(
            NEED,
            need_id=need,
            requester_id=requester,
            quantity=quantity,
            weekly_windows=tuple(WeeklySlot(day, 480, 720) for day in days),
        ),
        breakdown,
    )


def test_contested_capacity_goes_to_the_best_total_and_is_not_promised_twice() -> None:
    # Three needs of 8 m³ want a 16 m³ van; an 8 m³ van is the alternative.
    scores = {"n1": (0.9, 0.5), "n2": (0.8, 0.7), "n3": (0.6, 0.3)}
    candidates = {
        n: [pair("van", n, f"r-{n}", 8, van, 16), pair("small", n, f"r-{n}", 8, small, 8)]
        for n, (van, small) in scores.items()
    }
    slots = {"n1": 2, "n2": 2, "n3": 1}
    rounds = allocation_rounds(candidates, slots, {}, fairness_cap=3)
    chosen = [{(c.need.need_id, c.offer.offer_id) for c in r} for r in rounds]
    # Greedy would give the big van to n1 and n2 (0.9 + 0.8) and the small one to n3 (0.3):
    # 2.0. The allocation serves the three at once for 2.2, and then nothing is left.
    assert chosen == [{("n1", "van"), ("n3", "van"), ("n2", "small")}]


def test_where_capacity_remains_needs_get_alternatives_in_later_rounds() -> None:
    candidates = {
        n: [pair("van", n, f"r-{n}", 8, 0.9, 100), pair("small", n, f"r-{n}", 8, 0.5, 100)]
        for n in ("n1", "n2")
    }
    rounds = allocation_rounds(candidates, {"n1": 2, "n2": 1}, {}, fairness_cap=3)
    chosen = [{(c.need.need_id, c.offer.offer_id) for c in r} for r in rounds]
    assert chosen == [{("n1", "van"), ("n2", "van")}, {("n1", "small")}]


def test_standing_proposals_leave_less_to_share() -> None:
    candidates = {"n1": [pair("van", "n1", "r1", 8, 0.9)]}
    held = {"van": [Booking(8, ALWAYS)]}
    assert allocation_rounds(candidates, {"n1": 1}, held, fairness_cap=3) == []


def test_needs_of_different_days_do_not_compete_for_an_offer() -> None:
    # One 8 m³ van, open on Saturdays and Sundays; one need for each day and one for both.
    candidates = {
        "saturday": [pair("van", "saturday", "r1", 8, 0.9, 8, (SATURDAY,))],
        "sunday": [pair("van", "sunday", "r2", 8, 0.8, 8, (SUNDAY,))],
        "both": [pair("van", "both", "r3", 8, 0.7, 8, (SATURDAY, SUNDAY))],
    }
    rounds = allocation_rounds(candidates, dict.fromkeys(candidates, 1), {}, fairness_cap=3)
    assert [{c.need.need_id for c in r} for r in rounds] == [{"saturday", "sunday"}]


def test_a_booking_on_another_day_leaves_the_whole_capacity() -> None:
    candidates = {"n1": [pair("van", "n1", "r1", 8, 0.9, 8, (SUNDAY,))]}
    held = {"van": [Booking(8, Windows(week=((SATURDAY * 1440, SUNDAY * 1440),)))]}
    rounds = allocation_rounds(candidates, {"n1": 1}, held, fairness_cap=3)
    assert [{c.need.need_id for c in r} for r in rounds] == [{"n1"}]


def test_needs_meeting_only_while_the_offer_is_closed_share_it() -> None:
    # Open 7:00-13:00; one need from 8:00 to 18:00 on Saturday, one from 14:00 to 18:00 on
    # Saturday and Sunday: they meet on Saturday afternoon, when nobody uses the van.
    morning_and_after = pair("van", "n1", "r1", 8, 0.9, 8)
    morning = replace(
        morning_and_after,
        need=replace(morning_and_after.need, weekly_windows=(WeeklySlot(SATURDAY, 480, 1080),)),
    )
    later = pair("van", "n2", "r2", 8, 0.8, 8)
    afternoons = replace(
        later,
        need=replace(
            later.need,
            weekly_windows=(WeeklySlot(SATURDAY, 840, 1080), WeeklySlot(SUNDAY, 480, 1080)),
        ),
    )
    rounds = allocation_rounds(
        {"n1": [morning], "n2": [afternoons]}, {"n1": 1, "n2": 1}, {}, fairness_cap=3
    )
    assert [{c.need.need_id for c in r} for r in rounds] == [{"n1", "n2"}]


def test_the_fairness_cap_holds_in_every_round() -> None:
    candidates = {
        n: [pair(f"o{i}", n, "same-requester", 1, 0.9 - i / 10) for i in range(3)]
        for n in ("n1", "n2", "n3")
    }
    rounds = allocation_rounds(candidates, dict.fromkeys(candidates, 1), {}, fairness_cap=2)
    assert sum(len(r) for r in rounds) == 3
    assert all(len(r) <= 2 for r in rounds)


def test_nothing_without_slots_or_candidates() -> None:
    assert allocation_rounds({"n1": [pair("o", "n1", "r", 1, 0.9)]}, {"n1": 0}, {}, 3) == []
    assert allocation_rounds({"n1": []}, {"n1": 3}, {}, 3) == []


@settings(max_examples=60, deadline=None)
@given(
    wants=st.lists(
        st.tuples(
            st.integers(0, 4),  # requester
            st.integers(1, 6),  # quantity
            st.lists(st.tuples(st.integers(0, 3), st.floats(0.1, 1)), min_size=1, max_size=4),
            st.integers(1, 3),  # slots
        ),
        min_size=1,
        max_size=8,
    ),
    capacities=st.lists(st.integers(0, 12), min_size=4, max_size=4),
    days=st.lists(st.sampled_from([(SATURDAY,), (SUNDAY,), (SATURDAY, SUNDAY)]), min_size=8),
    cap=st.integers(1, 3),
)
def test_a_batch_never_exceeds_capacity_slots_or_the_cap(
    wants: list[tuple[int, int, list[tuple[int, float]], int]],
    capacities: list[int],
    days: list[tuple[int, ...]],
    cap: int,
) -> None:
    candidates = {
        f"n{i}": [
            pair(f"o{o}", f"n{i}", f"r{r}", q, s, days=days[i]) for o, s in dict(offers).items()
        ]
        for i, (r, q, offers, _) in enumerate(wants)
    }
    slots = {f"n{i}": k for i, (_, _, _, k) in enumerate(wants)}
    # Each offer of 12 m³ has 12 - c booked all week: c is left at every moment.
    held = {f"o{o}": [Booking(12.0 - c, ALWAYS)] for o, c in enumerate(capacities) if c < 12}
    left = {f"o{o}": float(c) for o, c in enumerate(capacities)}
    rounds = allocation_rounds(candidates, slots, held, cap)
    seen: set[tuple[str, str]] = set()
    used: dict[tuple[str, int], float] = defaultdict(float)
    for picked in rounds:
        for c in picked:
            for slot in c.need.weekly_windows:
                used[(c.offer.offer_id, slot.weekday)] += c.need.quantity
        assert max(Counter(c.need.requester_id for c in picked).values()) <= cap
        assert len({c.need.need_id for c in picked}) == len(picked)
        pairs = {(c.need.need_id, c.offer.offer_id) for c in picked}
        assert not pairs & seen
        seen |= pairs
    assert all(used[(o, day)] <= left[o] + 1e-9 for o, day in used)
    per_need = Counter(c.need.need_id for r in rounds for c in r)
    assert all(per_need[n] <= slots[n] for n in per_need)
