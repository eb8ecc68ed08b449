"""The capacity rule: what confirmed matches book of an offer, moment by moment."""

from __future__ import annotations

from datetime import datetime
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.capacity import (
    ALWAYS,
    Booking,
    Limit,
    Opening,
    Windows,
    contention,
    fits,
    left_over,
    peak_load,
)
from services.runtime.minutes import (
    MINUTES_PER_DAY,
    MINUTES_PER_WEEK,
    absolute_minute,
    minute_of_week,
)

SATURDAY = 5
MONDAY = 0


def weekly(day: int, start_h: float, end_h: float) -> tuple[int, int]:
    return day * MINUTES_PER_DAY + int(start_h * 60), day * MINUTES_PER_DAY + int(end_h * 60)


def dated(start: datetime, end: datetime) -> tuple[int, int]:
    return absolute_minute(start), absolute_minute(end)


SATURDAY_MORNING = Windows(week=(weekly(SATURDAY, 8, 12),))


def test_minute_of_week_counts_from_monday_midnight() -> None:
    assert minute_of_week(absolute_minute(datetime(2026, 6, 1))) == 0  # a Monday
    assert minute_of_week(absolute_minute(datetime(2026, 6, 6, 8))) == SATURDAY * 1440 + 480


def test_the_same_slot_adds_up() -> None:
    booked = [Booking(8, SATURDAY_MORNING)]
    assert peak_load(booked, SATURDAY_MORNING) == 8
    assert fits(12, booked, 4, SATURDAY_MORNING)
    assert not fits(12, booked, 5, SATURDAY_MORNING)


def test_other_days_and_hours_do_not_count() -> None:
    booked = [
        Booking(12, Windows(week=(weekly(MONDAY, 8, 12),))),
        Booking(12, Windows(week=(weekly(SATURDAY, 12, 14),))),  # starts when the need ends
    ]
    assert peak_load(booked, SATURDAY_MORNING) == 0
    assert fits(12, booked, 12, SATURDAY_MORNING)
    assert peak_load(booked) == 12


def test_bookings_that_never_meet_do_not_add_up() -> None:
    # 8-10 and 10-12 are both inside 8-12 but never at the same moment.
    booked = [
        Booking(6, Windows(week=(weekly(SATURDAY, 8, 10),))),
        Booking(6, Windows(week=(weekly(SATURDAY, 10, 12),))),
    ]
    assert peak_load(booked, SATURDAY_MORNING) == 6
    assert fits(12, booked, 6, SATURDAY_MORNING)


def test_a_dated_booking_meets_a_weekly_window_on_its_weekday_only() -> None:
    saturday = dated(datetime(2026, 6, 6, 9), datetime(2026, 6, 6, 11))
    sunday = dated(datetime(2026, 6, 7, 9), datetime(2026, 6, 7, 11))
    assert peak_load([Booking(5, Windows(dated=(saturday,)))], SATURDAY_MORNING) == 5
    assert peak_load([Booking(5, Windows(dated=(sunday,)))], SATURDAY_MORNING) == 0


def test_dated_bookings_of_different_weeks_do_not_add_up() -> None:
    first = dated(datetime(2026, 6, 6, 9), datetime(2026, 6, 6, 11))
    next_week = dated(datetime(2026, 6, 13, 9), datetime(2026, 6, 13, 11))
    booked = [Booking(5, Windows(dated=(first,))), Booking(5, Windows(dated=(next_week,)))]
    assert peak_load(booked, SATURDAY_MORNING) == 5
    both = Windows(dated=(first, next_week))
    assert peak_load(booked, both) == 5


def test_a_weekly_booking_meets_a_dated_window() -> None:
    booked = [Booking(7, SATURDAY_MORNING)]
    one_saturday = Windows(dated=(dated(datetime(2026, 6, 6, 11), datetime(2026, 6, 6, 15)),))
    one_friday = Windows(dated=(dated(datetime(2026, 6, 5, 8), datetime(2026, 6, 5, 12)),))
    assert peak_load(booked, one_saturday) == 7
    assert peak_load(booked, one_friday) == 0


def test_left_over_is_what_is_free_at_every_moment() -> None:
    booked = [Booking(8, SATURDAY_MORNING), Booking(3, Windows(week=(weekly(MONDAY, 8, 9),)))]
    assert left_over(12, booked) == 4
    assert left_over(12, []) == 12
    assert left_over(5, booked) == 0


def test_a_need_books_the_offer_only_while_it_is_open() -> None:
    # Open Monday 9-12 and Tuesday 14-17, for one user at a time. The first need asks for all
    # of Monday's working day, the second for Monday and Tuesday afternoons: they would meet
    # on Monday afternoon, when the offer is closed, so both fit.
    opening = Opening(week=(weekly(MONDAY, 9, 12), weekly(1, 14, 17)))
    booked = [Booking(1, Windows(week=(weekly(MONDAY, 8, 18),)))]
    afternoons = Windows(week=(weekly(MONDAY, 13, 17), weekly(1, 13, 17)))
    assert fits(1, booked, 1, afternoons, opening)
    assert not fits(1, booked, 1, Windows(week=(weekly(MONDAY, 11, 17),)), opening)
    assert opening.narrow(afternoons) == Windows(week=(weekly(1, 14, 17),))


def test_a_dated_window_is_narrowed_to_the_slots_of_its_dates_and_the_closures() -> None:
    closed = dated(datetime(2026, 6, 13), datetime(2026, 6, 14))
    opening = Opening(week=(weekly(SATURDAY, 8, 12),), closures=(closed,))
    fortnight = dated(datetime(2026, 6, 1), datetime(2026, 6, 15))
    narrowed = opening.narrow(Windows(dated=(fortnight,)))
    assert narrowed == Windows(dated=(dated(datetime(2026, 6, 6, 8), datetime(2026, 6, 6, 12)),))
    # A booking of the closed Saturday holds nothing of a weekly need's Saturdays.
    booked = [Booking(5, Windows(dated=(closed,)))]
    assert fits(5, booked, 5, SATURDAY_MORNING, opening)
    assert not fits(5, booked, 5, SATURDAY_MORNING)


def test_contention_groups_the_needs_using_the_offer_at_once() -> None:
    # Saturday mornings every week, one Saturday 10-14, Mondays: the first two meet on that
    # Saturday from 10 to 12; the Monday need meets nobody.
    one_saturday = Windows(dated=(dated(datetime(2026, 6, 6, 10), datetime(2026, 6, 6, 14)),))
    wanted = {
        "weekly": Booking(6, SATURDAY_MORNING),
        "dated": Booking(6, one_saturday),
        "monday": Booking(10, Windows(week=(weekly(MONDAY, 8, 12),))),
    }
    assert contention(10, [], wanted) == [Limit(frozenset({"weekly", "dated"}), 10)]
    # A booking of 3 on Saturday mornings leaves 7 where they meet; each alone fits anywhere.
    limits = contention(10, [Booking(3, SATURDAY_MORNING)], wanted)
    assert Limit(frozenset({"weekly", "dated"}), 7) in limits
    assert {limit.needs for limit in limits} == {frozenset({"weekly", "dated"})}


# --- against a minute-by-minute count ---------------------------------------------------------

HORIZON_START = absolute_minute(datetime(2026, 6, 1))  # a Monday
WEEKS = 3
STEP = 60  # windows on whole hours keep the brute force quick


@st.composite
def windows(draw: st.DrawFn) -> Windows:
    week = []
    for _ in range(draw(st.integers(0, 2))):
        start = draw(st.integers(0, MINUTES_PER_WEEK // STEP - 1)) * STEP
        length = draw(st.integers(1, 12)) * STEP
        week.append((start, min(MINUTES_PER_WEEK, start + length)))
    dated_ = []
    for _ in range(draw(st.integers(0, 2))):
        start = HORIZON_START + draw(st.integers(0, WEEKS * MINUTES_PER_WEEK // STEP - 30)) * STEP
        dated_.append((start, start + draw(st.integers(1, 30)) * STEP))
    return Windows(week=tuple(sorted(week)), dated=tuple(sorted(dated_)))


def brute_peak(booked: list[Booking], within: Windows) -> float:
    """The load at every hour of the horizon that falls inside `within` (a weekly window of
    `within` looks at every week of the horizon, which holds every dated window)."""

    def inside(intervals: tuple[tuple[int, int], ...], point: int) -> bool:
        return any(lo <= point < hi for lo, hi in intervals)

    peak = 0.0
    for t in range(HORIZON_START, HORIZON_START + (WEEKS + 1) * MINUTES_PER_WEEK, STEP):
        week_minute = (t - HORIZON_START) % MINUTES_PER_WEEK
        if not (inside(within.week, week_minute) or inside(within.dated, t)):
            continue
        load = sum(
            b.quantity
            for b in booked
            if inside(b.windows.week, week_minute) or inside(b.windows.dated, t)
        )
        peak = max(peak, load)
    return peak


@settings(max_examples=150, deadline=None)
@given(
    booked=st.lists(
        st.builds(Booking, quantity=st.integers(1, 10).map(float), windows=windows()), max_size=4
    ),
    within=windows(),
)
def test_peak_load_is_the_largest_load_at_any_moment(
    booked: list[Booking], within: Windows
) -> None:
    assert peak_load(booked, within) == brute_peak(booked, within)


@settings(max_examples=100, deadline=None)
@given(
    booked=st.lists(
        st.builds(Booking, quantity=st.integers(1, 10).map(float), windows=windows()), max_size=4
    ),
    within=windows(),
    quantity=st.integers(1, 10).map(float),
    capacity=st.integers(1, 30).map(float),
)
def test_what_fits_never_overbooks(
    booked: list[Booking], within: Windows, quantity: float, capacity: float
) -> None:
    if fits(capacity, booked, quantity, within):
        after = [*booked, Booking(quantity, within)]
        assert brute_peak(after, ALWAYS) <= capacity or brute_peak(booked, ALWAYS) > capacity


@st.composite
def openings(draw: st.DrawFn) -> Opening:
    found = draw(windows())
    return Opening(week=found.week or ((0, MINUTES_PER_WEEK),), closures=found.dated)


def open_moments(booking: Booking, opening: Opening) -> Booking:
    """The booking cut to the open hours minute by minute (hour by hour), as the oracle sees
    them: weekly windows where the slots are, dated ones there and outside the closures."""

    def inside(intervals: tuple[tuple[int, int], ...], point: int) -> bool:
        return any(lo <= point < hi for lo, hi in intervals)

    week = tuple(
        (m, m + STEP)
        for m in range(0, MINUTES_PER_WEEK, STEP)
        if inside(booking.windows.week, m) and inside(opening.week, m)
    )
    dated_ = tuple(
        (t, t + STEP)
        for t in range(HORIZON_START, HORIZON_START + (WEEKS + 1) * MINUTES_PER_WEEK, STEP)
        if inside(booking.windows.dated, t)
        and inside(opening.week, (t - HORIZON_START) % MINUTES_PER_WEEK)
        and not inside(opening.closures, t)
    )
    return Booking(booking.quantity, Windows(week=week, dated=dated_))


@settings(max_examples=100, deadline=None)
@given(
    booked=st.lists(
        st.builds(Booking, quantity=st.integers(1, 10).map(float), windows=windows()), max_size=3
    ),
    within=windows(),
    opening=openings(),
    quantity=st.integers(1, 10).map(float),
    capacity=st.integers(1, 30).map(float),
)
def test_what_fits_is_what_fits_while_the_offer_is_open(
    booked: list[Booking], within: Windows, opening: Opening, quantity: float, capacity: float
) -> None:
    cut = [open_moments(b, opening) for b in booked]
    wanted = open_moments(Booking(quantity, within), opening).windows
    expected = brute_peak(cut, wanted) + quantity <= capacity
    assert fits(capacity, booked, quantity, within, opening) == expected


@settings(max_examples=60, deadline=None)
@given(
    booked=st.lists(
        st.builds(Booking, quantity=st.integers(1, 10).map(float), windows=windows()), max_size=3
    ),
    wanted=st.lists(
        st.builds(Booking, quantity=st.integers(1, 10).map(float), windows=windows()),
        min_size=1,
        max_size=4,
    ),
    capacity=st.integers(1, 30).map(float),
)
def test_contention_admits_exactly_the_sets_of_needs_that_fit_together(
    booked: list[Booking], wanted: list[Booking], capacity: float
) -> None:
    uses = {f"n{i}": b for i, b in enumerate(wanted)}
    limits = contention(capacity, booked, uses)
    for size in range(1, len(uses) + 1):
        for chosen in combinations(uses, size):
            admitted = all(
                sum(uses[n].quantity for n in limit.needs if n in chosen) <= limit.capacity
                for limit in limits
            )
            # Together they fit if at every moment one of them uses the offer, the bookings
            # and those of them using it then stay within the capacity (and, as for `fits`,
            # none asks for more than the capacity, even one using the offer at no moment).
            together = all(
                uses[n].quantity <= capacity
                and brute_peak([*booked, *(uses[m] for m in chosen)], uses[n].windows) <= capacity
                for n in chosen
            )
            assert admitted == together
