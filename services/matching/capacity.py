"""The capacity rule: an offer is never promised beyond its capacity at any one moment.

A confirmed match books the need's quantity of the offer's capacity during the need's windows:
its weekly windows every week, its dated windows once. A new match fits when, at every moment
of its own windows, what the confirmed matches already book there plus its quantity stays
within the capacity. Bookings at other times do not count: a van booked on Saturdays is free
on Mondays. Nobody uses an offer while it is closed, so every check looks only at the moments
the offer is open (`Opening`): a need whose windows run past the opening hours books only
their intersection with them, and two needs that meet only while the offer is closed share it.

`contention` states the same rule for a batch: the groups of needs that would use one offer at
the same moment, each with the capacity left there, for allocation to share out window by
window rather than over the whole week.

Times are integer minutes as in `availability`: weekly windows on the minute-of-week line,
dated windows in absolute minutes. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from services.matching.model import NeedView, OfferView
from services.runtime.minutes import (
    MINUTES_PER_WEEK,
    Interval,
    intersect,
    merge,
    minute_of_week,
    subtract,
)

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


@dataclass(frozen=True, slots=True)
class Opening:
    """When an offer can be used: its weekly slots as they recur, minus its dated closures.

    A weekly window is narrowed to the weekly slots only (a one-off closure does not break a
    recurring arrangement, as in `availability.overlap`); a dated window to the slots unrolled
    over its dates, minus the closures.
    """

    week: tuple[Interval, ...] = ((0, MINUTES_PER_WEEK),)
    closures: tuple[Interval, ...] = ()

    @classmethod
    def of(cls, offer: OfferView) -> Opening:
        return cls(week=offer.week, closures=offer.closures)

    def narrow(self, windows: Windows) -> Windows:
        """The part of `windows` when the offer is open."""
        if self == ALWAYS_OPEN:
            return windows
        dated = merge(piece for window in windows.dated for piece in self._unrolled(window))
        return Windows(week=intersect(windows.week, self.week), dated=dated)

    def _unrolled(self, window: Interval) -> list[Interval]:
        start, end = window
        week_start = start - minute_of_week(start)
        pieces: list[Interval] = []
        while week_start < end:
            for lo, hi in self.week:
                lo, hi = max(start, week_start + lo), min(end, week_start + hi)
                if lo < hi:
                    pieces.append((lo, hi))
            week_start += MINUTES_PER_WEEK
        return subtract(merge(pieces), self.closures)


ALWAYS_OPEN = Opening()
"""An offer open at every moment: narrowing changes nothing."""


def uses(offer: OfferView, need: NeedView) -> Windows:
    """When `need` would use `offer`: its windows while the offer is open."""
    return Opening.of(offer).narrow(Windows(week=need.week, dated=need.dated))


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


def narrowed(bookings: Iterable[Booking], opening: Opening) -> list[Booking]:
    """The bookings as they hold the offer: only while it is open."""
    return [Booking(b.quantity, opening.narrow(b.windows)) for b in bookings]


def fits(
    capacity: float,
    booked: Sequence[Booking],
    quantity: float,
    windows: Windows,
    opening: Opening = ALWAYS_OPEN,
) -> bool:
    """Whether `quantity` during `windows` fits in `capacity` beside the bookings, at the
    moments the offer is open."""
    if opening != ALWAYS_OPEN:
        booked, windows = narrowed(booked, opening), opening.narrow(windows)
    return peak_load(booked, windows) + quantity <= capacity + _TOLERANCE


def left_over(capacity: float, booked: Sequence[Booking]) -> float:
    """Capacity free at every moment."""
    return max(0.0, capacity - peak_load(booked))


@dataclass(frozen=True, slots=True)
class Limit:
    """Needs that would use an offer at the same moment, and the capacity left for them there."""

    needs: frozenset[str]
    capacity: float


def contention(
    capacity: float, booked: Sequence[Booking], wanted: Mapping[str, Booking]
) -> list[Limit]:
    """The limits that choosing among `wanted` (need id -> what it would book) must respect
    beside `booked`: for each stretch of time where the set of wanting needs is constant, the
    needs using it and the capacity the bookings leave there at their peak.

    Windows are taken as given (narrow them to the opening first). A set of needs appears
    once, with its tightest capacity; a set that cannot exceed its capacity is left out.
    """
    week_uses = {need: b.windows.week for need, b in wanted.items() if b.windows.week}
    dated_uses = {need: b.windows.dated for need, b in wanted.items() if b.windows.dated}
    tightest: dict[frozenset[str], float] = {}

    def limit(needs: frozenset[str], within: Windows) -> None:
        if not needs:
            return
        left = max(0.0, capacity - peak_load(booked, within))
        if left < tightest.get(needs, float("inf")):
            tightest[needs] = left

    # Weekly stretches, cut wherever a use starts or stops: the needs using a stretch do not
    # change inside it, so the bookings' peak over the stretch is the limit for all of them.
    cuts = {0, MINUTES_PER_WEEK}
    for intervals in week_uses.values():
        cuts.update(p for interval in intervals for p in interval)
    points = sorted(cuts)
    for lo, hi in pairwise(points):
        limit(
            frozenset(n for n, week in week_uses.items() if _covers(week, lo)),
            Windows(week=((lo, hi),)),
        )
    # Dated stretches: the dated uses there, plus the weekly uses of the same minute of the week.
    spans = merge(interval for intervals in dated_uses.values() for interval in intervals)
    for start, end in spans:
        cuts = {start, end}
        for intervals in dated_uses.values():
            cuts.update(p for lo, hi in intervals for p in (lo, hi) if start < p < end)
        for boundary in {p for week in week_uses.values() for interval in week for p in interval}:
            cuts.update(_occurrences(boundary % MINUTES_PER_WEEK, [(start, end)]))
        points = sorted(cuts)
        for lo, hi in pairwise(points):
            minute = minute_of_week(lo)
            needs = {n for n, dated in dated_uses.items() if _covers(dated, lo)}
            needs.update(n for n, week in week_uses.items() if _covers(week, minute))
            limit(frozenset(needs), Windows(dated=((lo, hi),)))
    # A need that uses the offer at no moment still cannot take more than it has.
    for need in wanted.keys() - week_uses.keys() - dated_uses.keys():
        limit(frozenset({need}), Windows())
    return [
        Limit(needs, left)
        for needs, left in tightest.items()
        if sum(wanted[n].quantity for n in needs) > left + _TOLERANCE
    ]
