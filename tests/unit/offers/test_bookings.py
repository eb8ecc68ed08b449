"""Confirmed bookings: the time a need books of an asset, and the changes that would break it."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from contracts.offers import Availability, DatedWindow, WeeklySlot
from services.offers.domain import bookings
from services.offers.domain.bookings import Booking, booked_time, peak_load
from services.runtime.errors import Conflict
from services.runtime.minutes import absolute_minute

SATURDAY = datetime(2026, 6, 6)
VAN = Availability(weekly=[WeeklySlot(weekday=5, start_minute=420, end_minute=780)])


def booking(quantity: float, week: tuple = (), dated: tuple = ()) -> Booking:  # type: ignore[type-arg]
    ids = [uuid.uuid4() for _ in range(4)]
    return Booking(ids[0], ids[1], ids[2], ids[3], quantity, week, dated, 4)


def _saturday(hour_from: int, hour_to: int, day: datetime = SATURDAY) -> DatedWindow:
    return DatedWindow(start=day.replace(hour=hour_from), end=day.replace(hour=hour_to))


def test_the_time_booked_is_the_need_s_windows_as_far_as_the_asset_is_open() -> None:
    week, dated = booked_time(VAN, [WeeklySlot(weekday=5, start_minute=360, end_minute=720)], [])
    assert week == ((5 * 1440 + 420, 5 * 1440 + 720),) and dated == ()
    week, dated = booked_time(VAN, [], [_saturday(6, 15)])
    start = absolute_minute(SATURDAY)
    assert week == () and dated == ((start + 420, start + 780),)


def test_the_peak_counts_bookings_that_meet_and_not_those_that_do_not() -> None:
    saturday_morning = (5 * 1440 + 480, 5 * 1440 + 720)
    start = absolute_minute(SATURDAY)
    same_saturday = (start + 540, start + 600)
    next_saturday = (start + 7 * 1440 + 540, start + 7 * 1440 + 600)
    assert (
        peak_load([booking(8, week=(saturday_morning,)), booking(3, dated=(same_saturday,))]) == 11
    )
    assert peak_load([booking(8, dated=(next_saturday,)), booking(3, dated=(same_saturday,))]) == 8
    sunday = (6 * 1440 + 480, 6 * 1440 + 720)
    assert peak_load([booking(8, week=(saturday_morning,)), booking(8, week=(sunday,))]) == 8


def test_an_asset_change_that_breaks_a_booking_is_refused_naming_it() -> None:
    held = booking(8, week=((5 * 1440 + 480, 5 * 1440 + 720),))
    with pytest.raises(Conflict) as refused:
        bookings.check_asset_change([held], capacity=6, availability=VAN, was=VAN)
    assert str(held.match_id) in refused.value.detail and refused.value.field == "capacity"
    sunday = Availability(weekly=[WeeklySlot(weekday=6, start_minute=420, end_minute=780)])
    with pytest.raises(Conflict):
        bookings.check_asset_change([held], capacity=12, availability=sunday, was=VAN)
    closed = Availability(weekly=VAN.weekly, closures=[_saturday(0, 23)])
    with pytest.raises(Conflict):
        bookings.check_asset_change([held], capacity=12, availability=closed, was=VAN)
    bookings.check_asset_change([held], capacity=8, availability=VAN, was=VAN)
    wider = Availability(weekly=[WeeklySlot(weekday=5, start_minute=0, end_minute=1440)])
    bookings.check_asset_change([held], capacity=8, availability=wider, was=VAN)


def test_a_need_change_that_breaks_a_booking_is_refused() -> None:
    held = booking(8, week=((5 * 1440 + 480, 5 * 1440 + 720),))
    windows = [WeeklySlot(weekday=5, start_minute=480, end_minute=720)]
    with pytest.raises(Conflict):
        bookings.check_need_change([held], quantity=10, weekly=windows, dated=[])
    friday = [WeeklySlot(weekday=4, start_minute=480, end_minute=720)]
    with pytest.raises(Conflict):
        bookings.check_need_change([held], quantity=8, weekly=friday, dated=[])
    longer = [WeeklySlot(weekday=5, start_minute=420, end_minute=780)]
    bookings.check_need_change([held], quantity=8, weekly=longer, dated=[])
    bookings.check_need_change([], quantity=30, weekly=friday, dated=[])


def test_an_offer_with_bookings_is_neither_paused_repriced_nor_shortened() -> None:
    held = [booking(8)]
    with pytest.raises(Conflict):
        bookings.check_offer_ends(held, "pausing the offer")
    with pytest.raises(Conflict):
        bookings.check_offer_change(held, ["price"], shortened=False)
    with pytest.raises(Conflict):
        bookings.check_offer_change(held, ["valid_to"], shortened=True)
    bookings.check_offer_change(held, ["valid_to", "title"], shortened=False)
    bookings.check_offer_ends([], "pausing the offer")
