"""Time on integer minutes, shared by every service that reasons about when an asset is used.

Weekly time lives on the minute-of-week line [0, 10080), Monday 00:00 first. Dated time is in
absolute minutes of the territory's wall-clock time (proleptic ordinal day * 1440 + minute of
day; ordinal day 1, 0001-01-01, is a Monday). Interval lists are half-open `(start, end)` pairs;
once merged they are sorted, disjoint and never touching. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY

Interval = tuple[int, int]


def merge(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sorted union of `intervals`; touching or overlapping intervals are joined."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


def subtract(base: Sequence[Interval], removed: Sequence[Interval]) -> list[Interval]:
    """`base` minus `removed`, both merged."""
    if not removed:
        return list(base)
    pieces: list[Interval] = []
    j = 0
    for start, end in base:
        while j < len(removed) and removed[j][1] <= start:
            j += 1
        k = j
        cursor = start
        while k < len(removed) and removed[k][0] < end:
            if removed[k][0] > cursor:
                pieces.append((cursor, removed[k][0]))
            cursor = max(cursor, removed[k][1])
            k += 1
        if cursor < end:
            pieces.append((cursor, end))
    return pieces


def intersect(a: Iterable[Interval], b: Iterable[Interval]) -> tuple[Interval, ...]:
    """The minutes in both `a` and `b`, merged."""
    others = list(b)
    return merge(
        (max(s1, s2), min(e1, e2)) for s1, e1 in a for s2, e2 in others if max(s1, s2) < min(e1, e2)
    )


def week_intervals(slots: Iterable[tuple[int, int, int]]) -> tuple[Interval, ...]:
    """Merged minute-of-week intervals of `(weekday, start_minute, end_minute)` slots."""
    return merge(
        (day * MINUTES_PER_DAY + start, day * MINUTES_PER_DAY + end) for day, start, end in slots
    )


def absolute_minute(moment: datetime) -> int:
    """Minutes since the proleptic calendar's origin, seconds dropped."""
    return moment.toordinal() * MINUTES_PER_DAY + moment.hour * 60 + moment.minute


def minute_of_week(absolute: int) -> int:
    """Where an absolute minute falls in the week."""
    return (absolute - MINUTES_PER_DAY) % MINUTES_PER_WEEK
