"""The matching service with the real actors service beside it (for tokens and actor events)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
from tests.harness import Databases, Stack, start_stack


@pytest.fixture(scope="package")
async def stack(databases: Databases, kafka: str) -> AsyncIterator[Stack]:
    settings = {"matching": {"consumer_group": f"matching.read-model.{uuid.uuid4().hex[:8]}"}}
    async with start_stack(databases, kafka, ["actors", "matching"], settings) as stack:
        yield stack
