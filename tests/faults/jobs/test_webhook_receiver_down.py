"""A partner's webhook receiver down for a while (it answers 503), notifications killed (SIGKILL)
while its retries are in flight and started again while the receiver is still down: once the
receiver is back, every delivery completes, one success per event and subscription, every
attempt of an event under the same `webhook-id`.

The receiver's answers are set by the count of requests it answered, so the test knows which
attempts succeeded; the retries the kill cut are held by the receiver (it never answers them),
so the kill falls between a retry's claim and its completion."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path

import pytest

from tests.faults.jobs.steps import as_process
from tests.flow.notifications.test_restart import queue_states, subscribed
from tests.harness import Databases, Stack
from tests.scenario import new_member, new_territory
from tests.service.notifications.receiver import Behaviour, receiver
from tests.service.notifications.steps import proposed, publish_many
from tests.support import eventually

EVENTS = 10
DOWN = 503


@pytest.mark.long
async def test_deliveries_retried_across_a_restart_complete_once_when_the_receiver_is_back(
    actors: Stack, databases: Databases, tmp_path: Path
) -> None:
    territory = await new_territory(actors)
    member = await new_member(actors, territory)
    async with (
        receiver() as partner,
        as_process(
            actors,
            databases,
            "notifications",
            tmp_path,
            webhook_require_https=False,
            webhook_allow_loopback=True,
            delivery_timeout_s=5,
            delivery_lease_margin_s=1,
            delivery_poll_interval_s=0.1,
            # About two minutes of retries: the receiver is down longer than a restart.
            delivery_retry_schedule_s=[0.5, 1, 2, 3, 5, 10, 10, 10, 10, 10, 10, 10, 10, 10],
        ) as notifications,
    ):
        database_url = notifications.env["DATABASE_URL"]
        hook = uuid.uuid4().hex[:12]
        down = Behaviour(statuses=[DOWN])
        partner.on(hook, down)
        await subscribed(actors["notifications"].client, member.headers, partner.url(hook))
        matches = [proposed(territory.id, member.id, str(uuid.uuid4())) for _ in range(EVENTS)]
        events = await publish_many(actors, list(matches), "m", territory.id)
        expected = {event.id for event in events}

        def each_refused(times: int) -> bool:
            counts = Counter(a.headers["webhook-id"] for a in partner.of(hook))
            return all(counts[event_id] >= times for event_id in expected)

        # Down: every event tried and refused, then its retries held in flight and cut.
        await eventually(lambda: each_refused(2), timeout=60)
        down.hang = True
        held_from = partner.arrivals(hook)
        await eventually(lambda: partner.arrivals(hook) > held_from, timeout=60)
        notifications.kill()
        down.hang = False

        await notifications.start()  # still down
        await eventually(lambda: each_refused(3), timeout=90)
        # Back: whatever is answered from now on succeeds.
        back_from = len(partner.of(hook))
        down.statuses = [DOWN] * back_from + [204]
        await eventually(lambda: queue_states(database_url), timeout=120)
        assert await queue_states(database_url) == {"succeeded": EVENTS}

    attempts = partner.of(hook)
    for attempt in attempts:
        assert attempt.headers["webhook-id"] == json.loads(attempt.body)["id"]
    assert {a.headers["webhook-id"] for a in attempts} == expected
    succeeded = Counter(a.headers["webhook-id"] for a in attempts[back_from:])
    assert succeeded == dict.fromkeys(expected, 1), succeeded.most_common(3)
    refused = Counter(a.headers["webhook-id"] for a in attempts[:back_from])
    assert min(refused[event_id] for event_id in expected) >= 3  # before, during, after the kill
