"""The agreements service over HTTP on real PostgreSQL, with actors (tokens, actor events) and
offers (offer and need versions) beside it; confirmed matches are put on the broker as matching
would."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
from tests.harness import Databases, Stack
from tests.scenario import Territory, new_territory
from tests.service.agreements.steps import agreements_stack, clock

__all__ = ["clock"]


@pytest.fixture(scope="package")
async def stack(databases: Databases, kafka: str) -> AsyncIterator[Stack]:
    async with agreements_stack(databases, kafka) as stack:
        yield stack


@pytest.fixture
async def territory(stack: Stack) -> Territory:
    return await new_territory(stack)
