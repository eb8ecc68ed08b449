"""Actors, offers and matching on the real broker: access decided at actors ends everywhere."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
from tests.harness import Databases, Stack, start_stack
from tests.scenario import Territory, new_territory


@pytest.fixture(scope="package")
async def stack(databases: Databases, kafka: str) -> AsyncIterator[Stack]:
    settings: dict[str, dict[str, Any]] = {
        "matching": {"consumer_group": f"matching.read-model.{uuid.uuid4().hex[:8]}"},
    }
    async with start_stack(databases, kafka, ["actors", "offers", "matching"], settings) as stack:
        yield stack


@pytest.fixture
async def territory(stack: Stack) -> Territory:
    return await new_territory(stack)
