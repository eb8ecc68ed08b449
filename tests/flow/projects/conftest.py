"""Every service but notifications on the real broker: governance decides the trials, offers
and matching serve the projects' needs, agreements books the projects' evaluations."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
from tests.flow.matching.steps import Flow
from tests.harness import Databases, start_stack
from tests.service.agreements.steps import clock

__all__ = ["clock"]


@pytest.fixture(scope="package")
async def flow(databases: Databases, kafka: str) -> AsyncIterator[Flow]:
    tag = uuid.uuid4().hex[:8]
    settings: dict[str, Any] = {
        "matching": {"consumer_group": f"matching.read-model.{tag}"},
        "agreements": lambda stack: {
            "consumer_group_prefix": f"agreements.{tag}",
            "scheduler_poll_interval_s": 0.2,
            "matching_url": stack.urls["matching"],
        },
        "governance": {
            "members_consumer_group": f"governance.members.{tag}",
            "agreements_consumer_group": f"governance.agreements.{tag}",
        },
        "projects": {
            "decisions_consumer_group": f"projects.decisions.{tag}",
            "needs_consumer_group": f"projects.needs.{tag}",
            "agreements_consumer_group": f"projects.agreements.{tag}",
        },
    }
    services = ["actors", "offers", "matching", "agreements", "governance", "projects"]
    async with start_stack(databases, kafka, services, settings, on_socket=["matching"]) as stack:
        yield Flow(stack)
