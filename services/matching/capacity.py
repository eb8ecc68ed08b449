"""The capacity rule: an offer is never promised beyond its capacity at any one moment.

A confirmed match books the need's quantity of the offer's capacity during the need's windows:
its weekly windows every week, its dated windows once. A new match fits when, at every moment
of its own windows, what the confirmed matches already book there plus its quantity stays
within the capacity. Bookings at other times do not count: a van booked on Saturdays is free
on Mondays. The check is conservative in one way only: it uses the need's windows, not their
intersection with the offer's opening hours, so it may refuse a pair that could have shared,
never accept one that cannot.

Times are integer minutes as in `availability`: weekly windows on the minute-of-week line,
dated windows in absolute minutes. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.runtime.minutes import MINUTES_PER_WEEK, Interval, minute_of_week

_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class Windows:
    """When a need uses an offer: merged weekly intervals and merged absolute intervals."""

    week: tuple[Interval, ...] = ()
    dated: tuple[Interval, ...] = ()


ALWAYS = Windows(week=((0, MINUTES_PER_WEEK),))
"""Every moment: the weekly window covering the whole week."""


@dataclass(frozen=True, slots=True)
class Booking:
    """What a confirmed match holds of its offer."""

    quantity: float
    windows: Windows


def _covers(intervals: Sequence[Interval], point: int) -> bool:
    return any(start <= point < end for start, end in intervals)


def _load(bookings: Sequence[Booking], minute: int, absolute: int | None) -> float:
    """What the bookings hold at `minute` of the week, in the week of `absolute` when given (a
    booking counts once, through its weekly or its dated windows)."""
    return sum(
        b.quantity
        for b in bookings
        if _covers(b.windows.week, minute)
        or (absolute is not None and _covers(b.windows.dated, absolute))
    )


def _occurrences(minute: int, intervals: Iterable[Interval]) -> set[int]:
    """The absolute minutes inside `intervals` that fall on `minute` of the week."""
    found: set[int] = set()
    for start, end in intervals:
        first = start + (minute - minute_of_week(start)) % MINUTES_PER_WEEK
        found.update(range(first, end, MINUTES_PER_WEEK))
    return found


def _peak_in_week_interval(
    bookings: Sequence[Booking], start: int, end: int, dated: Sequence[Interval]
) -> float:
    # Every load is constant between consecutive boundaries, so its largest value over
    # [start, end) is reached at `start` or at a boundary inside.
    points = {start}
    for booking in bookings:
        for lo, hi in booking.windows.week:
            points.update(p for p in (lo, hi) if start < p < end)
    # The dated load seen from a minute of the week changes only where a dated boundary falls.
    for lo, hi in dated:
        points.update(p for p in (minute_of_week(lo), minute_of_week(hi)) if start < p < end)
    peak = 0.0
    for minute in points:
        # A weekly window recurs: it meets the dated bookings of any week at that minute.
        loads = [_load(bookings, minute, t) for t in _occurrences(minute, dated)]
        peak = max(peak, _load(bookings, minute, None), *loads)
    return peak


def _peak_in_dated_interval(bookings: Sequence[Booking], start: int, end: int) -> float:
    points = {start}
    for booking in bookings:
        points.update(p for lo, hi in booking.windows.dated for p in (lo, hi) if start < p < end)
        for lo, hi in booking.windows.week:
            for boundary in (lo, hi):
                points.update(_occurrences(boundary % MINUTES_PER_WEEK, [(start, end)]))
    return max(_load(bookings, minute_of_week(t), t) for t in points)


def peak_load(bookings: Sequence[Booking], within: Windows = ALWAYS) -> float:
    """The most that `bookings` hold at one moment inside `within`."""
    if not bookings:
        return 0.0
    dated = [interval for b in bookings for interval in b.windows.dated]
    peaks = [_peak_in_week_interval(bookings, lo, hi, dated) for lo, hi in within.week]
    peaks += [_peak_in_dated_interval(bookings, lo, hi) for lo, hi in within.dated]
    return max(peaks, default=0.0)


def fits(capacity: float, booked: Sequence[Booking], quantity: float, windows: Windows) -> bool:
    """Whether `quantity` during `windows` fits in `capacity` beside the bookings."""
    return peak_load(booked, windows) + quantity <= capacity + _TOLERANCE


def left_over(capacity: float, booked: Sequence[Booking]) -> float:
    """Capacity free at every moment: what one slot of contention may still share out."""
    return max(0.0, capacity - peak_load(booked))
