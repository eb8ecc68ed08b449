"""A replay's time range is refused, naming `until`, when it holds no instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.notifications.api import ReplayIn


def test_a_range_that_ends_before_it_starts_is_refused_naming_until() -> None:
    now = datetime.now(UTC)
    for until in (now, now - timedelta(hours=1)):
        with pytest.raises(ValidationError) as refused:
            ReplayIn(since=now, until=until)
        assert [e["loc"] for e in refused.value.errors()] == [("until",)]
    assert ReplayIn(since=now, until=now + timedelta(seconds=1)).until > now
