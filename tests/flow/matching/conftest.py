"""The matching service beside the real actors and offers services, over the real broker.

One stack per package; matching reads with a consumer group of its own, so that its read model
is built from every topic's beginning.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
from tests.flow.matching.steps import Flow
from tests.harness import Databases, start_stack
from tests.scenario import STALE_NOTICE_DAYS, Territory, new_territory


def matching_group() -> str:
    return f"matching.read-model.{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="package")
async def flow(databases: Databases, kafka: str) -> AsyncIterator[Flow]:
    settings: dict[str, dict[str, Any]] = {
        "offers": {"staleness_interval_s": 0.3, "stale_notice_days": STALE_NOTICE_DAYS},
        "matching": {"expiry_interval_s": 0.2, "consumer_group": matching_group()},
    }
    services = ["actors", "offers", "matching"]
    async with start_stack(databases, kafka, services, settings) as stack:
        yield Flow(stack)


@pytest.fixture
async def territory(flow: Flow) -> Territory:
    return await new_territory(flow.stack)
