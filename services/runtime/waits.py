"""Bounded waits for the loops that run until their service stops.

Not `asyncio.wait_for`: on Python 3.11 it swallows a cancellation that arrives just as what it
waits for completes (python/cpython#86296). A relay woken by a notification as its service stops
then carries on as if never cancelled, and the stop waits for it forever. `asyncio.timeout`
tells its own expiry from a cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib


async def until_set(event: asyncio.Event, timeout_s: float) -> None:
    """Wait until `event` is set or `timeout_s` has passed, whichever comes first."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()
