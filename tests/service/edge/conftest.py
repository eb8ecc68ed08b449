"""The services side by side, for what every service must do at its edge.

One stack per package: starting the services costs seconds, so tests share them and keep
apart by working in territories and actors of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
from tests.harness import Databases, Stack, start_stack
from tests.scenario import Member, Territory, new_member, new_territory

SERVICES = ("actors", "offers", "matching", "agreements", "governance")


@pytest.fixture(scope="package")
async def stack(databases: Databases, kafka: str) -> AsyncIterator[Stack]:
    settings: dict[str, dict[str, Any]] = {
        "matching": {"consumer_group": f"matching.read-model.{uuid.uuid4().hex[:8]}"},
        "agreements": {"consumer_group_prefix": f"agreements.{uuid.uuid4().hex[:8]}"},
        "governance": {"members_consumer_group": f"governance.members.{uuid.uuid4().hex[:8]}"},
    }
    async with start_stack(databases, kafka, SERVICES, settings) as stack:
        yield stack


@pytest.fixture(scope="package")
async def territory(stack: Stack) -> Territory:
    return await new_territory(stack)


@pytest.fixture(scope="package")
async def member(stack: Stack, territory: Territory) -> Member:
    return await new_member(stack, territory, kind="association")
