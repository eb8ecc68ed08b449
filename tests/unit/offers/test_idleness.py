"""An asset's idle share measured from confirmed usage."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from contracts.fields import TERRITORY_ZONE
from contracts.offers import Availability, DatedWindow, WeeklySlot
from services.offers.domain.idleness import available_minutes, measured_idle_share

SATURDAY_MORNINGS = Availability(weekly=[WeeklySlot(weekday=5, start_minute=420, end_minute=780)])
UNTIL = datetime(2026, 12, 27, tzinfo=TERRITORY_ZONE)  # a Sunday: four whole Saturdays before


def test_available_minutes_count_the_slots_minus_closures() -> None:
    start = datetime(2026, 11, 29)
    assert available_minutes(SATURDAY_MORNINGS, start, start + timedelta(days=28)) == 4 * 360
    closed = Availability(
        weekly=SATURDAY_MORNINGS.weekly,
        closures=[DatedWindow(start=datetime(2026, 12, 5), end=datetime(2026, 12, 6))],
    )
    assert available_minutes(closed, start, start + timedelta(days=28)) == 3 * 360


def test_usage_measures_the_share_left_idle() -> None:
    saturday = datetime(2026, 12, 19, 8, tzinfo=TERRITORY_ZONE)
    used = [(saturday, saturday + timedelta(hours=4), Decimal(4))]
    assert measured_idle_share(SATURDAY_MORNINGS, used, UNTIL) == 1 - 4 / 24
    assert measured_idle_share(SATURDAY_MORNINGS, [], UNTIL) == 1.0
    too_much = [(saturday, saturday + timedelta(hours=4), Decimal(100))]
    assert measured_idle_share(SATURDAY_MORNINGS, too_much, UNTIL) == 0.0
    assert measured_idle_share(Availability(), used, UNTIL) is None
