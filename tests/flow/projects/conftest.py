"""Every service but notifications on the real broker: governance decides the trials, offers
and matching serve the projects' needs, agreements books the projects' evaluations."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
from tests.flow.matching.steps import Flow
from tests.harness import Databases, groups_of_its_own, start_stack
from tests.service.agreements.steps import clock

__all__ = ["clock"]


@pytest.fixture(scope="package")
async def flow(databases: Databases, kafka: str) -> AsyncIterator[Flow]:
    settings = groups_of_its_own(uuid.uuid4().hex[:8])
    services = ["actors", "offers", "matching", "agreements", "governance", "projects"]
    async with start_stack(databases, kafka, services, settings, on_socket=["matching"]) as stack:
        yield Flow(stack)
