"""Confirmed bookings: what a confirmed match holds of an asset, and the changes that break it.

A booking holds the need's quantity of the asset's capacity during the time booked: the need's
windows as far as the asset was available then (weekly windows every week, dated windows
once). A change is refused when it would break a booking: an asset whose capacity falls below
what its bookings hold at one moment, or whose availability no longer covers the time booked;
an offer paused, withdrawn, repriced or made valid for less time; a need whose quantity
changes or whose windows no longer cover the time booked. The bookings end only when a party
cancels the match.

Times are integer minutes (`services.runtime.minutes`, as matching counts them). Pure: no
database, no HTTP, no broker.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

from contracts.offers import Availability, DatedWindow, WeeklySlot
from services.runtime.errors import Conflict
from services.runtime.minutes import (
    MINUTES_PER_WEEK,
    Interval,
    absolute_minute,
    intersect,
    merge,
    minute_of_week,
    subtract,
    week_intervals,
)

WEEK = MINUTES_PER_WEEK
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Booking:
    """What one confirmed match holds of an asset through one of its offers."""

    match_id: UUID
    offer_id: UUID
    need_id: UUID
    asset_id: UUID
    quantity: float
    week: tuple[Interval, ...]
    dated: tuple[Interval, ...]
    version: int


def _minus(a: Sequence[Interval], b: Sequence[Interval]) -> tuple[Interval, ...]:
    return tuple(subtract(merge(a), merge(b)))


def week_of(slots: Iterable[WeeklySlot]) -> tuple[Interval, ...]:
    return week_intervals((s.weekday, s.start_minute, s.end_minute) for s in slots)


def dated_of(windows: Iterable[DatedWindow]) -> tuple[Interval, ...]:
    return merge((absolute_minute(w.start), absolute_minute(w.end)) for w in windows)


def _weekly_within(week: Sequence[Interval], span: Interval) -> tuple[Interval, ...]:
    """The occurrences of weekly intervals inside an absolute span, in absolute minutes."""
    start, end = span
    origin = start - minute_of_week(start)  # the Monday 00:00 of the span's first week
    found = []
    for monday in range(origin, end, WEEK):
        found += [(monday + lo, monday + hi) for lo, hi in week]
    return intersect(found, [span])


def booked_time(
    availability: Availability, weekly: Iterable[WeeklySlot], dated: Iterable[DatedWindow]
) -> tuple[tuple[Interval, ...], tuple[Interval, ...]]:
    """The time a need's windows book of an asset: the windows as far as the asset is open."""
    open_week = week_of(availability.weekly)
    closures = dated_of(availability.closures)
    booked_week = intersect(week_of(weekly), open_week)
    booked_dated = _minus(
        merge(x for span in dated_of(dated) for x in _weekly_within(open_week, span)), closures
    )
    return booked_week, booked_dated


def covered(
    booking: Booking,
    *,
    week: Sequence[Interval],
    dated: Sequence[Interval] = (),
    closures: Sequence[Interval] = (),
) -> bool:
    """Whether every minute the booking holds lies in `week` (every week) or `dated`, and no
    closure falls on it."""
    if _minus(booking.week, week):
        return False
    for lo, hi in closures:
        # A closure of a week or more meets every weekly minute; otherwise fold it on the week.
        folded = [(0, WEEK)] if hi - lo >= WEEK else _fold(lo, hi)
        if intersect(booking.week, folded):
            return False
    for span in booking.dated:
        rest = _minus(_minus([span], dated), _weekly_within(week, span))
        if rest or intersect([span], closures):
            return False
    return True


def _fold(start: int, end: int) -> tuple[Interval, ...]:
    lo, hi = minute_of_week(start), minute_of_week(start) + (end - start)
    return merge([(lo, min(hi, WEEK)), (0, max(0, hi - WEEK))])


def peak_load(bookings: Sequence[Booking]) -> float:
    """The most the bookings hold at one moment.

    Loads are constant between interval starts, so the peak is reached at a start: a weekly
    start with no dated booking there, or a dated start, or a weekly start inside a dated span.
    """

    def at_week(minute: int) -> float:
        return sum(b.quantity for b in bookings if any(s <= minute < e for s, e in b.week))

    def at(absolute: int) -> float:
        dated = sum(b.quantity for b in bookings if any(s <= absolute < e for s, e in b.dated))
        return dated + at_week(minute_of_week(absolute))

    peak = max((at_week(s) for b in bookings for s, _ in b.week), default=0.0)
    spans = [span for b in bookings for span in b.dated]
    starts = [s for b in bookings for s, _ in b.week]
    for span in spans:
        points = [span[0]] + [s for s, _ in _weekly_within([(p, p + 1) for p in starts], span)]
        peak = max(peak, *(at(point) for point in points))
    return peak


def _named(bookings: Sequence[Booking]) -> str:
    return ", ".join(f"match {b.match_id} (need {b.need_id}, {b.quantity:g})" for b in bookings)


def refuse(bookings: Sequence[Booking], what: str, field: str) -> Conflict:
    """The 409 that names the bookings a change would break."""
    return Conflict(
        f"{what} would break confirmed bookings: {_named(bookings)}; a booking ends only when "
        "a party cancels its match",
        field=field,
    )


def check_asset_change(
    bookings: Sequence[Booking], *, capacity: float, availability: Availability, was: Availability
) -> None:
    """Refuse an asset's new capacity or availability when its bookings no longer fit."""
    if not bookings:
        return
    if peak_load(bookings) > capacity + _TOLERANCE:
        raise refuse(bookings, f"a capacity of {capacity:g}", "capacity")
    new_closures = _minus(dated_of(availability.closures), dated_of(was.closures))
    broken = [
        b
        for b in bookings
        if not covered(b, week=week_of(availability.weekly), closures=new_closures)
    ]
    if broken:
        raise refuse(broken, "this availability", "availability")


def check_offer_change(
    bookings: Sequence[Booking],
    changed: Sequence[str],
    *,
    shortened: bool,
) -> None:
    """Refuse repricing an offer with bookings, or making it valid for less time."""
    if not bookings:
        return
    if "price" in changed:
        raise refuse(bookings, "a new price", "price")
    if shortened:
        raise refuse(bookings, "a shorter validity", "valid_to")


def check_offer_ends(bookings: Sequence[Booking], what: str) -> None:
    """Refuse pausing or withdrawing an offer with bookings."""
    if bookings:
        raise refuse(bookings, what, "status")


def check_need_change(
    bookings: Sequence[Booking],
    *,
    quantity: float,
    weekly: Iterable[WeeklySlot],
    dated: Iterable[DatedWindow],
) -> None:
    """Refuse a new quantity, or windows that no longer cover the time booked."""
    if not bookings:
        return
    changed = [b for b in bookings if abs(b.quantity - quantity) > _TOLERANCE]
    if changed:
        raise refuse(changed, f"a quantity of {quantity:g}", "quantity")
    week, spans = week_of(weekly), dated_of(dated)
    broken = [b for b in bookings if not covered(b, week=week, dated=spans)]
    if broken:
        raise refuse(broken, "these windows", "weekly_windows")


def check_need_ends(bookings: Sequence[Booking]) -> None:
    """Refuse withdrawing a need with a confirmed match: the match is cancelled first."""
    if bookings:
        raise refuse(bookings, "withdrawing the need", "status")
