"""Actors, offers, matching and agreements on the real broker: matching is served on a socket
because agreements asks it whether an amendment fits."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
from tests.flow.matching.steps import Flow
from tests.harness import Databases, Stack, start_stack
from tests.scenario import Territory, new_territory
from tests.service.agreements.steps import clock

__all__ = ["clock"]


@pytest.fixture(scope="package")
async def flow(databases: Databases, kafka: str) -> AsyncIterator[Flow]:
    settings: dict[str, Any] = {
        "matching": {
            "consumer_group": f"matching.read-model.{uuid.uuid4().hex[:8]}",
            "expiry_interval_s": 0.5,
        },
        "agreements": lambda stack: {
            "consumer_group_prefix": f"agreements.{uuid.uuid4().hex[:8]}",
            "scheduler_poll_interval_s": 0.2,
            "matching_url": stack.urls["matching"],
        },
    }
    services = ["actors", "offers", "matching", "agreements"]
    async with start_stack(databases, kafka, services, settings, on_socket=["matching"]) as stack:
        yield Flow(stack)


@pytest.fixture
def stack(flow: Flow) -> Stack:
    return flow.stack


@pytest.fixture
async def territory(flow: Flow) -> Territory:
    return await new_territory(flow.stack)
