"""The retry schedule: jittered delays, Retry-After honoured up to a ceiling, then failure."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from hypothesis import given
from hypothesis import strategies as st

from services.notifications.domain.retries import SCHEDULE_S, next_delay_s, retry_after_s

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_the_schedule_is_svix_like() -> None:
    assert SCHEDULE_S == (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


@given(st.integers(min_value=1, max_value=len(SCHEDULE_S)), st.integers())
def test_each_delay_is_its_step_within_twenty_percent(failures: int, seed: int) -> None:
    delay = next_delay_s(failures, SCHEDULE_S, rng=random.Random(seed))
    base = SCHEDULE_S[failures - 1]
    assert delay is not None and 0.8 * base <= delay <= 1.2 * base


def test_jitter_spreads_endpoints_that_failed_together() -> None:
    rng = random.Random(7)
    delays = {next_delay_s(1, SCHEDULE_S, rng=rng) for _ in range(20)}
    assert len(delays) == 20


def test_past_the_schedule_the_delivery_has_failed() -> None:
    assert next_delay_s(len(SCHEDULE_S) + 1, SCHEDULE_S) is None
    assert next_delay_s(0, SCHEDULE_S) is None


def test_retry_after_asking_longer_wins_up_to_the_ceiling() -> None:
    assert next_delay_s(1, SCHEDULE_S, 120.0) == 120.0
    assert next_delay_s(1, SCHEDULE_S, 10**9, retry_after_max_s=3600.0) == 3600.0
    shorter = next_delay_s(2, SCHEDULE_S, 1.0, rng=random.Random(1))
    assert shorter is not None and shorter >= 240.0  # asking for less does not hurry a retry


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    assert retry_after_s("30", NOW) == 30.0
    later = format_datetime(NOW + timedelta(minutes=2), usegmt=True)
    assert retry_after_s(later, NOW) == 120.0
    earlier = format_datetime(NOW - timedelta(minutes=2), usegmt=True)
    assert retry_after_s(earlier, NOW) == 0.0
    for unreadable in (None, "", "soon", "-5", "1.5"):
        assert retry_after_s(unreadable, NOW) is None
