"""When an agreement starts and how its time is cut into statement periods (Europe/Paris).

- It starts at the first window of the need's schedule that begins at or after the moment both
  parties signed (and, when asked, governance approved); with no window left before its end, or
  no schedule at all, it starts at that moment.
- Periods are calendar weeks, months or quarters of the territory's wall-clock time, the first
  and the last cut by the agreement's start and end.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from contracts.agreements import Terms
from contracts.fields import TERRITORY_ZONE
from contracts.offers import StatementPeriod


def local(moment: datetime) -> datetime:
    return moment.astimezone(TERRITORY_ZONE)


def at_local(day: date, minute: int) -> datetime:
    """The UTC moment of a wall-clock minute of a day (1440 is the next midnight)."""
    # Arithmetic on an aware datetime moves its wall clock; the offset is resolved afterwards.
    clock = datetime.combine(day, time(0), tzinfo=TERRITORY_ZONE) + timedelta(minutes=minute)
    return clock.astimezone(UTC)


def first_window(terms: Terms, after: datetime) -> datetime | None:
    """Start of the first window of the terms' schedule at or after `after`, before its end."""
    starts: list[datetime] = []
    today = local(after).date()
    for offset in range(8):
        day = today + timedelta(days=offset)
        starts.extend(
            at_local(day, slot.start_minute)
            for slot in terms.weekly_windows
            if slot.weekday == day.weekday()
        )
    starts.extend(
        window.start.replace(tzinfo=TERRITORY_ZONE).astimezone(UTC)
        for window in terms.dated_windows
    )
    upcoming = [start for start in starts if after <= start < terms.ends_at]
    return min(upcoming) if upcoming else None


def start_of(terms: Terms, ready_at: datetime) -> datetime:
    """When an agreement ready at `ready_at` starts."""
    return first_window(terms, ready_at) or ready_at


def next_boundary(moment: datetime, period: StatementPeriod) -> datetime:
    """The first calendar boundary (local midnight) strictly after `moment`."""
    day = local(moment).date()
    if period is StatementPeriod.WEEK:
        boundary = day + timedelta(days=7 - day.weekday())
    elif period is StatementPeriod.MONTH:
        boundary = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    else:
        quarter_month = (day.month - 1) // 3 * 3 + 4
        boundary = date(day.year + (quarter_month > 12), (quarter_month - 1) % 12 + 1, 1)
    return at_local(boundary, 0)


def period_end(start: datetime, ends_at: datetime, period: StatementPeriod) -> datetime:
    """End of the period that begins at `start`: the next boundary, or the agreement's end."""
    return min(next_boundary(start, period), ends_at)


def periods(
    starts_at: datetime, ends_at: datetime, period: StatementPeriod
) -> list[tuple[datetime, datetime]]:
    """Every period of an agreement running from `starts_at` to `ends_at`."""
    cut: list[tuple[datetime, datetime]] = []
    start = starts_at
    while start < ends_at:
        end = period_end(start, ends_at, period)
        cut.append((start, end))
        start = end
    return cut


def calendar_period(moment: datetime, period: StatementPeriod) -> tuple[datetime, datetime]:
    """The whole calendar period (local midnights) that contains `moment`."""
    day = local(moment).date()
    if period is StatementPeriod.WEEK:
        first = day - timedelta(days=day.weekday())
    elif period is StatementPeriod.MONTH:
        first = day.replace(day=1)
    else:
        first = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return at_local(first, 0), next_boundary(moment, period)
