"""Hard filters on the issue's example: a refrigerated van, Saturdays 8-12, within 15 km,
at most 40 € per use. The pair matches; each broken condition rejects it with its reason."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given

from contracts.taxonomy import Unit
from services.matching.filters import HARD_FILTERS, Reason, first_failure, within_validity
from services.matching.model import (
    DatedWindow,
    Location,
    NeedView,
    OfferView,
    PriceModel,
    WeeklySlot,
)
from tests.unit.matching.oracles import ORACLES
from tests.unit.matching.strategies import needs, offers, van_need, van_offer

SATURDAY = datetime(2026, 6, 6)


def test_the_refrigerated_van_matches_the_saturday_need() -> None:
    assert first_failure(van_offer(), van_need()) is None


def test_a_need_for_any_van_is_met_by_the_refrigerated_van() -> None:
    assert first_failure(van_offer(), van_need(category="van")) is None


@pytest.mark.parametrize(
    ("offer_changes", "need_changes", "reason"),
    [
        ({"territory_id": "vercors"}, {}, Reason.TERRITORY),
        ({"category": "van"}, {}, Reason.CATEGORY),
        ({"category": "cargo_bike"}, {}, Reason.CATEGORY),
        ({"eligible_requester_kinds": frozenset({"business"})}, {}, Reason.ELIGIBILITY),
        ({}, {"unit": Unit.KG}, Reason.UNIT),
        ({"capacity": 6}, {}, Reason.CAPACITY),
        ({"price_model": PriceModel.PER_HOUR}, {}, Reason.PRICE_MODEL),
        ({"unit_price": 45}, {}, Reason.BUDGET),
        ({}, {"location": Location(45.05, 5.68)}, Reason.DISTANCE),
        ({"max_distance_km": 5}, {}, Reason.DISTANCE),
        ({}, {"max_distance_km": 5}, Reason.DISTANCE),
        ({"weekly_slots": (WeeklySlot(6, 7 * 60, 13 * 60),)}, {}, Reason.TIME),
        ({"weekly_slots": (WeeklySlot(5, 9 * 60, 13 * 60),)}, {}, Reason.TIME),
        ({}, {"min_duration_minutes": 5 * 60}, Reason.TIME),
    ],
)
def test_each_broken_condition_rejects_with_its_reason(
    offer_changes: dict[str, Any], need_changes: dict[str, Any], reason: Reason
) -> None:
    offer, need = van_offer(**offer_changes), van_need(**need_changes)
    assert first_failure(offer, need) is reason
    assert [r for r, passes in HARD_FILTERS if not passes(offer, need)] == [reason]


def test_free_offers_always_fit_the_budget_and_time_credits_only_when_accepted() -> None:
    free = van_offer(price_model=PriceModel.FREE, unit_price=0)
    assert first_failure(free, van_need(accepted_price_models=frozenset())) is None
    credits = van_offer(
        price_model=PriceModel.TIME_CREDITS, currency="time_credit_hours", unit_price=500
    )
    assert first_failure(credits, van_need()) is Reason.PRICE_MODEL
    assert first_failure(credits, van_need(accepts_time_credits=True)) is None


def test_no_budget_ceiling_accepts_any_price() -> None:
    assert first_failure(van_offer(unit_price=400), van_need(max_unit_price=None)) is None


def test_slots_that_touch_make_one_stretch() -> None:
    split = (WeeklySlot(5, 7 * 60, 10 * 60), WeeklySlot(5, 10 * 60, 13 * 60))
    assert first_failure(van_offer(weekly_slots=split), van_need()) is None
    gap = (WeeklySlot(5, 7 * 60, 10 * 60), WeeklySlot(5, 10 * 60 + 1, 13 * 60))
    assert first_failure(van_offer(weekly_slots=gap), van_need()) is Reason.TIME


def test_a_stretch_may_run_past_midnight_and_past_sunday_night() -> None:
    friday_night = (WeeklySlot(4, 22 * 60, 1440), WeeklySlot(5, 0, 2 * 60))
    need = van_need(
        weekly_windows=(WeeklySlot(4, 23 * 60, 1440), WeeklySlot(5, 0, 60)),
        min_duration_minutes=120,
    )
    assert first_failure(van_offer(weekly_slots=friday_night), need) is None
    sunday_night = (WeeklySlot(6, 22 * 60, 1440), WeeklySlot(0, 0, 2 * 60))
    need = van_need(weekly_windows=sunday_night, min_duration_minutes=240)
    assert first_failure(van_offer(weekly_slots=sunday_night), need) is None


def test_a_dated_window_uses_the_weekly_slots_minus_closures() -> None:
    morning = DatedWindow(SATURDAY.replace(hour=8), SATURDAY.replace(hour=12))
    need = van_need(weekly_windows=(), dated_windows=(morning,))
    assert first_failure(van_offer(), need) is None
    closed = DatedWindow(SATURDAY.replace(hour=11), SATURDAY.replace(hour=15))
    assert first_failure(van_offer(exceptions=(closed,)), need) is Reason.TIME
    closed_next_week = DatedWindow(datetime(2026, 6, 13, 11), datetime(2026, 6, 13, 15))
    assert first_failure(van_offer(exceptions=(closed_next_week,)), need) is None


def test_closures_do_not_break_a_weekly_arrangement() -> None:
    closed = DatedWindow(SATURDAY.replace(hour=0), SATURDAY.replace(hour=23))
    assert first_failure(van_offer(exceptions=(closed,)), van_need()) is None


def test_filters_are_listed_cheapest_first_and_named_once() -> None:
    reasons = [reason for reason, _ in HARD_FILTERS]
    assert reasons == list(Reason)
    assert reasons[-1] is Reason.TIME


# --- validity: an offer is proposed only for needs inside it ----------------------------------

FRIDAY = datetime(2026, 6, 5)


def test_an_offer_ending_before_a_dated_need_is_not_proposed_for_it() -> None:
    two_days = van_offer(
        valid_from=FRIDAY - timedelta(days=13), valid_to=FRIDAY - timedelta(days=11)
    )
    fortnight_ahead = van_need(
        weekly_windows=(),
        dated_windows=(DatedWindow(SATURDAY + timedelta(hours=8), SATURDAY + timedelta(hours=12)),),
    )
    assert first_failure(two_days, fortnight_ahead) is Reason.VALIDITY
    lasting = van_offer(
        valid_from=FRIDAY - timedelta(days=13), valid_to=SATURDAY + timedelta(days=1)
    )
    assert first_failure(lasting, fortnight_ahead) is None


def test_an_offer_valid_only_from_next_spring_is_not_proposed_for_next_week() -> None:
    spring = van_offer(valid_from=datetime(2027, 3, 21), valid_to=datetime(2027, 9, 21))
    next_week = van_need(
        weekly_windows=(),
        dated_windows=(DatedWindow(SATURDAY + timedelta(hours=8), SATURDAY + timedelta(hours=12)),),
    )
    assert first_failure(spring, next_week) is Reason.VALIDITY
    weekly_until_june = van_need(expires_at=datetime(2026, 6, 30))
    assert first_failure(spring, weekly_until_june) is Reason.VALIDITY


def test_weekly_windows_need_the_offer_until_the_need_expires() -> None:
    need = van_need(expires_at=datetime(2026, 7, 31))
    assert first_failure(van_offer(valid_to=datetime(2026, 7, 1)), need) is Reason.VALIDITY
    assert first_failure(van_offer(valid_to=datetime(2026, 7, 31)), need) is None
    assert first_failure(van_offer(valid_from=datetime(2026, 7, 1)), need) is None


def test_a_window_straddling_the_start_of_the_validity_is_outside_it() -> None:
    window = DatedWindow(SATURDAY + timedelta(hours=8), SATURDAY + timedelta(hours=12))
    need = van_need(weekly_windows=(), dated_windows=(window,))
    offer = van_offer(valid_from=SATURDAY + timedelta(hours=9))
    assert first_failure(offer, need) is Reason.VALIDITY


@given(offers(), needs())
def test_the_validity_filter_agrees_with_its_oracle(offer: OfferView, need: NeedView) -> None:
    assert within_validity(offer, need) is ORACLES[Reason.VALIDITY](offer, need)
