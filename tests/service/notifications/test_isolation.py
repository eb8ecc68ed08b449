"""One hanging endpoint does not delay a healthy one: it holds at most its own share of the
workers (the per-endpoint cap), and the others go on being served."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from tests.harness import Databases, Stack, start_stack
from tests.scenario import new_member, new_territory
from tests.service.notifications.conftest import NOTIFICATIONS_TEST_SETTINGS
from tests.service.notifications.receiver import Behaviour, Receiver
from tests.service.notifications.steps import proposed, publish_many, subscribe
from tests.support import eventually


@pytest.fixture(scope="module")
async def patient(databases: Databases, kafka: str) -> AsyncIterator[Stack]:
    """A stack whose deliveries wait a minute for an answer: the hanging endpoint hangs for
    the whole test."""
    settings = {
        "notifications": {
            **NOTIFICATIONS_TEST_SETTINGS,
            "delivery_timeout_s": 60.0,
            "delivery_concurrency": 4,
            "endpoint_concurrency": 2,
            "consumer_group_prefix": f"notifications.{uuid.uuid4().hex[:8]}",
        }
    }
    async with start_stack(databases, kafka, ["actors", "notifications"], settings) as stack:
        yield stack


async def test_a_hanging_endpoint_does_not_delay_a_healthy_one(
    patient: Stack, partner: Receiver
) -> None:
    territory = await new_territory(patient)
    member = await new_member(patient, territory)
    hanging, healthy = uuid.uuid4().hex[:12], uuid.uuid4().hex[:12]
    partner.on(hanging, Behaviour(hang=True))
    await subscribe(patient, member, partner.url(hanging), ["mcvt.match.*"])
    await subscribe(patient, member, partner.url(healthy), ["mcvt.match.*"])

    # Twice as many events as this replica has workers.
    matches = [proposed(territory.id, member.id, str(uuid.uuid4())) for _ in range(8)]
    events = await publish_many(patient, list(matches), "m", territory.id)

    await eventually(lambda: len(partner.of(healthy)) == len(events), timeout=30)
    assert partner.of(hanging) == []  # still hanging, none answered
    await asyncio.sleep(0.5)
    assert partner.arrivals(hanging) == 2  # the per-endpoint cap, not the whole pool
