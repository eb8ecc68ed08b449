"""The offers service with the real actors service beside it (for tokens and actor events).

One stack per test package: starting two services costs seconds, so tests share them and keep
apart by working in territories and actors of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
from tests.harness import Databases, Stack, start_stack
from tests.scenario import STALE_NOTICE_DAYS, Territory, new_territory


@pytest.fixture(scope="package")
async def stack(databases: Databases, kafka: str) -> AsyncIterator[Stack]:
    offers = {"staleness_interval_s": 0.3, "stale_notice_days": STALE_NOTICE_DAYS}
    async with start_stack(databases, kafka, ["actors", "offers"], {"offers": offers}) as stack:
        yield stack


@pytest.fixture
async def territory(stack: Stack) -> Territory:
    return await new_territory(stack)
