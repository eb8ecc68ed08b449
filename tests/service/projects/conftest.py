"""The projects service with the real actors service beside it (for tokens and actor events)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
from tests.harness import Databases, Stack, start_stack


@pytest.fixture(scope="package")
async def stack(databases: Databases, kafka: str) -> AsyncIterator[Stack]:
    tag = uuid.uuid4().hex[:8]
    groups = {
        "decisions_consumer_group": f"projects.decisions.{tag}",
        "needs_consumer_group": f"projects.needs.{tag}",
        "agreements_consumer_group": f"projects.agreements.{tag}",
    }
    async with start_stack(databases, kafka, ["actors", "projects"], {"projects": groups}) as s:
        yield s
