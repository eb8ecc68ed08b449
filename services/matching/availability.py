"""How much of a need's time an offer's availability covers, on integer minutes.

The minute arithmetic itself (weekly and absolute minutes, merged interval lists) is the
runtime's `services.runtime.minutes`, shared with offers' bookings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from services.runtime.minutes import (
    MINUTES_PER_DAY,
    MINUTES_PER_WEEK,
    Interval,
    absolute_minute,
    merge,
    subtract,
    week_intervals,
)

__all__ = [
    "MINUTES_PER_DAY",
    "MINUTES_PER_WEEK",
    "Interval",
    "Overlap",
    "absolute_minute",
    "merge",
    "overlap",
    "subtract",
    "week_intervals",
]

ALL_WEEKDAYS = 0b111_1111


class Overlap(NamedTuple):
    """Minutes an offer's availability shares with a need's windows.

    `total` is the sum over all windows, `longest` the longest single stretch (a use must fit
    in one stretch), `requested` the length of the need's windows.
    """

    total: int
    longest: int
    requested: int


def week_weekdays(intervals: Iterable[Interval]) -> int:
    """Bit mask (bit 0 = Monday) of the weekdays that minute-of-week intervals touch."""
    mask = 0
    for start, end in intervals:
        for day in range(start // MINUTES_PER_DAY, (end - 1) // MINUTES_PER_DAY + 1):
            mask |= 1 << day
    return mask


def dated_weekdays(intervals: Iterable[Interval]) -> int:
    """Bit mask of the weekdays that absolute-minute intervals touch."""
    mask = 0
    for start, end in intervals:
        first, last = start // MINUTES_PER_DAY, (end - 1) // MINUTES_PER_DAY
        if last - first >= 6:
            return ALL_WEEKDAYS
        for ordinal in range(first, last + 1):
            mask |= 1 << ((ordinal - 1) % 7)  # ordinal 1 (0001-01-01) is a Monday
    return mask


def _weekly(offer_week: Sequence[Interval], need_week: Sequence[Interval]) -> tuple[int, int]:
    # One pass over both lists without building the pieces: this runs for every candidate.
    total = longest = head = tail = 0
    i = j = 0
    while i < len(offer_week) and j < len(need_week):
        offer_start, offer_end = offer_week[i]
        need_start, need_end = need_week[j]
        start = offer_start if offer_start > need_start else need_start
        end = offer_end if offer_end < need_end else need_end
        if start < end:
            length = end - start
            total += length
            if length > longest:
                longest = length
            if start == 0:
                head = length
            if end == MINUTES_PER_WEEK:
                tail = length
        if offer_end < need_end:
            i += 1
        else:
            j += 1
    # The week is circular: Sunday evening runs on into Monday morning.
    if head and tail and total < MINUTES_PER_WEEK and head + tail > longest:
        longest = head + tail
    return total, longest


def _dated(
    offer_week: Sequence[Interval], closures: Sequence[Interval], window: Interval
) -> tuple[int, int]:
    start, end = window
    first_monday = start // MINUTES_PER_DAY - (start // MINUTES_PER_DAY - 1) % 7
    available: list[Interval] = []
    week_start = first_monday * MINUTES_PER_DAY
    while week_start < end:
        for slot_start, slot_end in offer_week:
            lo, hi = max(start, week_start + slot_start), min(end, week_start + slot_end)
            if lo < hi:
                available.append((lo, hi))
        week_start += MINUTES_PER_WEEK
    pieces = subtract(merge(available), closures)
    if not pieces:
        return 0, 0
    lengths = [hi - lo for lo, hi in pieces]
    return sum(lengths), max(lengths)


def overlap(
    offer_week: Sequence[Interval],
    closures: Sequence[Interval],
    need_week: Sequence[Interval],
    need_dated: Sequence[Interval],
) -> Overlap:
    """Overlap of an offer's availability with a need's weekly and dated windows.

    Weekly windows are compared with the weekly slots as they recur (a one-off closure does not
    break a recurring arrangement); dated windows with the slots unrolled over the window's
    dates minus the closures.
    """
    total, longest = _weekly(offer_week, need_week)
    requested = sum(end - start for start, end in need_week)
    for window in need_dated:
        part_total, part_longest = _dated(offer_week, closures, window)
        total += part_total
        longest = max(longest, part_longest)
        requested += window[1] - window[0]
    return Overlap(total, longest, requested)
