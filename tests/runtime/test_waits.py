"""The bounded wait of the loops that run until their service stops."""

from __future__ import annotations

import ast
import asyncio
import time
from pathlib import Path

import pytest

from services.runtime.waits import until_set

SERVICES = Path(__file__).resolve().parents[2] / "services"


async def test_a_cancellation_that_arrives_as_the_event_is_set_stops_the_waiter() -> None:
    event = asyncio.Event()
    waiting = asyncio.create_task(until_set(event, 60))
    await asyncio.sleep(0)  # the task now waits on the event
    # Both in one step, as when a notification lands while the service stops.
    event.set()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_the_wait_ends_when_the_event_is_set() -> None:
    event = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, event.set)
    started = time.monotonic()
    await until_set(event, 60)
    assert event.is_set()
    assert time.monotonic() - started < 30


async def test_the_wait_ends_after_its_timeout_when_nothing_sets_the_event() -> None:
    event = asyncio.Event()
    started = time.monotonic()
    await until_set(event, 0.05)
    assert not event.is_set()
    assert time.monotonic() - started >= 0.05


def test_no_service_waits_with_asyncio_wait_for() -> None:
    calls = [
        f"{path.relative_to(SERVICES)}:{node.lineno}"
        for path in SERVICES.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute)
        and node.attr == "wait_for"
        and isinstance(node.value, ast.Name)
        and node.value.id == "asyncio"
    ]
    assert calls == [], "use services.runtime.waits.until_set or asyncio.timeout"
