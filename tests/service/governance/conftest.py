"""The governance service with the real actors service beside it (for tokens and actor events)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
from tests.harness import Databases, Stack, start_stack


@pytest.fixture(scope="package")
async def stack(databases: Databases, kafka: str) -> AsyncIterator[Stack]:
    group = {"members_consumer_group": f"governance.members.{uuid.uuid4().hex[:8]}"}
    async with start_stack(databases, kafka, ["actors", "governance"], {"governance": group}) as s:
        yield s
