"""When a failed delivery is tried again: a fixed schedule with jitter, and Retry-After.

The schedule follows Svix's (about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h): after the n-th
failed attempt the next one waits the n-th delay, drawn within ±20 % so that endpoints that
failed together are not hit together again. A `Retry-After` answer is honoured when it asks for
longer (up to a ceiling, so that an endpoint cannot park its deliveries for ever); past the
schedule the delivery has failed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime

SCHEDULE_S = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
JITTER = 0.2


def next_delay_s(
    failed_attempts: int,
    schedule: Sequence[float],
    retry_after_s: float | None = None,
    *,
    retry_after_max_s: float = max(SCHEDULE_S),
    rng: random.Random | None = None,
) -> float | None:
    """Seconds to wait after `failed_attempts` failures; None when the schedule is used up."""
    if failed_attempts < 1 or failed_attempts > len(schedule):
        return None
    base = schedule[failed_attempts - 1]
    delay = base * (rng or random).uniform(1 - JITTER, 1 + JITTER)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, retry_after_max_s))
    return delay


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """The delay a `Retry-After` header asks for (seconds or an HTTP date); None if unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)
