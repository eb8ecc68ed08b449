"""Services as processes of their own beside an in-process actors: a broker of the package's own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
from tests.harness import Databases, Stack, start_stack


@pytest.fixture
async def actors(databases: Databases, kafka: str) -> AsyncIterator[Stack]:
    """Actors on a real socket: the processes fetch its key set and hear of its actors."""
    async with start_stack(databases, kafka, ["actors"]) as stack:
        yield stack
