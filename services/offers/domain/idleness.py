"""An asset's idle share measured from confirmed usage, over the four weeks before the latest
report's end: one minus the hours used over the hours the asset was available (its weekly
slots on those days, minus its closures). Usage prorated to the part of a report inside the
window. No availability in the window: nothing to measure (the declared share stands).

Pure: no database, no HTTP, no broker.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from contracts.fields import TERRITORY_ZONE
from contracts.offers import Availability
from services.offers.domain.assets import Asset
from services.offers.domain.shared import next_version
from services.runtime.minutes import absolute_minute, merge, subtract

WINDOW = timedelta(days=28)


def _local(moment: datetime) -> datetime:
    return moment.astimezone(TERRITORY_ZONE).replace(tzinfo=None)


def available_minutes(availability: Availability, start: datetime, end: datetime) -> int:
    """Minutes of [start, end) (wall-clock) within the weekly slots and outside closures."""
    first, last = absolute_minute(start), absolute_minute(end)
    open_: list[tuple[int, int]] = []
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        base = absolute_minute(day)
        open_.extend(
            (max(base + s.start_minute, first), min(base + s.end_minute, last))
            for s in availability.weekly
            if s.weekday == day.weekday()
        )
        day += timedelta(days=1)
    closed = merge(
        (absolute_minute(c.start), absolute_minute(c.end)) for c in availability.closures
    )
    return sum(e - s for s, e in subtract(merge(open_), closed))


def measured_idle_share(
    availability: Availability,
    usage: Iterable[tuple[datetime, datetime, Decimal]],
    until: datetime,
) -> float | None:
    """The idle share over the `WINDOW` before `until`; `usage` is (start, end, hours)."""
    end, start = _local(until), _local(until - WINDOW)
    available = available_minutes(availability, start, end)
    if available <= 0:
        return None
    used = Fraction(0)
    for used_from, used_to, hours in usage:
        lo, hi = max(_local(used_from), start), min(_local(used_to), end)
        span = (_local(used_to) - _local(used_from)).total_seconds()
        if hi > lo and span > 0:
            used += Fraction(hours) * 60 * Fraction(int((hi - lo).total_seconds()), int(span))
    return float(max(Fraction(0), 1 - used / available))


def remeasured(asset: Asset, share: float | None, *, now: datetime) -> Asset | None:
    """The asset with its new measured idle share; None when there is none or it moved less
    than a thousandth (no new version for noise)."""
    if share is None:
        return None
    if asset.measured_idle_share is not None and abs(share - asset.measured_idle_share) < 1e-3:
        return None
    return next_version(asset, now, measured_idle_share=round(share, 4))
