"""Interval arithmetic against a brute force over sets of minutes."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.availability import (
    MINUTES_PER_DAY,
    MINUTES_PER_WEEK,
    Interval,
    absolute_minute,
    dated_weekdays,
    merge,
    overlap,
    week_weekdays,
)
from services.matching.model import DatedWindow, WeeklySlot
from tests.unit.matching.strategies import MONDAY, dated_windows, weekly_slots


def _minutes(intervals: tuple[Interval, ...] | list[Interval]) -> set[int]:
    return {minute for start, end in intervals for minute in range(start, end)}


def _week(slots: tuple[WeeklySlot, ...]) -> set[int]:
    return _minutes(
        [
            (
                s.weekday * MINUTES_PER_DAY + s.start_minute,
                s.weekday * MINUTES_PER_DAY + s.end_minute,
            )
            for s in slots
        ]
    )


def _longest_run(minutes: set[int], circular_at: int | None = None) -> int:
    longest = 0
    for minute in minutes:
        previous = minute - 1 if circular_at is None else (minute - 1) % circular_at
        if previous in minutes:
            continue
        length, cursor = 0, minute
        while cursor in minutes and length < len(minutes):
            length += 1
            cursor = cursor + 1 if circular_at is None else (cursor + 1) % circular_at
        longest = max(longest, length)
    if circular_at is not None and len(minutes) == circular_at:
        return circular_at
    return longest


def _dated_available(
    slots: tuple[WeeklySlot, ...],
    windows: tuple[DatedWindow, ...],
    closures: tuple[DatedWindow, ...],
) -> set[int]:
    week = _week(slots)
    closed = _minutes([w.minutes for w in closures])
    wanted = _minutes([w.minutes for w in windows])
    monday = absolute_minute(MONDAY) - 7 * MINUTES_PER_DAY
    return {m for m in wanted if (m - monday) % MINUTES_PER_WEEK in week and m not in closed}


@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 200))))
def test_merge_is_the_union_without_touching_pieces(pairs: list[Interval]) -> None:
    merged = merge(pairs)
    assert _minutes(merged) == _minutes(pairs)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(merged))


@settings(deadline=None)
@given(weekly_slots(), weekly_slots())
def test_weekly_overlap_equals_the_brute_force(
    offer: tuple[WeeklySlot, ...], need: tuple[WeeklySlot, ...]
) -> None:
    offer_week = merge(
        (s.weekday * 1440 + s.start_minute, s.weekday * 1440 + s.end_minute) for s in offer
    )
    need_week = merge(
        (s.weekday * 1440 + s.start_minute, s.weekday * 1440 + s.end_minute) for s in need
    )
    shared = _week(offer) & _week(need)
    result = overlap(offer_week, (), need_week, ())
    assert result.total == len(shared)
    assert result.longest == _longest_run(shared, circular_at=MINUTES_PER_WEEK)
    assert result.requested == len(_week(need))
    assert week_weekdays(offer_week) == sum(1 << day for day in {s.weekday for s in offer})


@settings(deadline=None)
@given(weekly_slots(), dated_windows(max_size=3), dated_windows(max_size=3))
def test_dated_overlap_equals_the_brute_force(
    offer: tuple[WeeklySlot, ...],
    windows: tuple[DatedWindow, ...],
    closures: tuple[DatedWindow, ...],
) -> None:
    offer_week = merge(
        (s.weekday * 1440 + s.start_minute, s.weekday * 1440 + s.end_minute) for s in offer
    )
    dated = merge(w.minutes for w in windows)
    closed = merge(w.minutes for w in closures)
    shared = _dated_available(offer, windows, closures)
    result = overlap(offer_week, closed, (), dated)
    assert result.total == len(shared)
    assert result.longest == _longest_run(shared)
    assert result.requested == len(_minutes(list(dated)))


@given(dated_windows(max_size=3))
def test_dated_weekdays_are_the_weekdays_the_windows_touch(
    windows: tuple[DatedWindow, ...],
) -> None:
    days = {(m // MINUTES_PER_DAY - 1) % 7 for m in _minutes([w.minutes for w in windows])}
    assert dated_weekdays(merge(w.minutes for w in windows)) == sum(1 << d for d in days)
