"""The agreements service over HTTP on real PostgreSQL, with actors (tokens, actor events) and
offers (offer and need versions) beside it; confirmed matches are put on the broker as matching
would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tests.harness import Databases, Stack, start_stack
from tests.scenario import Territory, new_territory
from tests.service.agreements.steps import clock

__all__ = ["clock"]


@pytest.fixture(scope="package")
async def stack(databases: Databases, kafka: str) -> AsyncIterator[Stack]:
    settings = {
        "agreements": {
            "consumer_group_prefix": f"agreements.{uuid.uuid4().hex[:8]}",
            "scheduler_poll_interval_s": 0.2,
        }
    }
    async with start_stack(databases, kafka, ["actors", "offers", "agreements"], settings) as stack:
        yield stack


@pytest.fixture
async def territory(stack: Stack) -> Territory:
    return await new_territory(stack)
