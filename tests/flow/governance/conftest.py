"""Governance beside actors, offers and matching over the real broker: decisions voted through
governance's API take effect in the services that apply them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
from tests.flow.matching.steps import Flow
from tests.harness import Databases, start_stack


@pytest.fixture(scope="package")
async def flow(databases: Databases, kafka: str) -> AsyncIterator[Flow]:
    tag = uuid.uuid4().hex[:8]
    settings: dict[str, dict[str, Any]] = {
        "matching": {"consumer_group": f"matching.read-model.{tag}"},
        "governance": {
            "members_consumer_group": f"governance.members.{tag}",
            "agreements_consumer_group": f"governance.agreements.{tag}",
        },
    }
    services = ["actors", "offers", "matching", "governance"]
    async with start_stack(databases, kafka, services, settings) as stack:
        yield Flow(stack)
