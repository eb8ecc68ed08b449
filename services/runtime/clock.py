"""The one clock of every service: aware UTC datetimes.

Domain functions take `now` as an argument and never read a clock; handlers and jobs read it
here, so there is one place to look (and to replace in a test).
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)
