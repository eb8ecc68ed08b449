"""The notifications service killed (SIGKILL) in the middle of its queue and started again
delivers everything, once per subscription: the queue is in PostgreSQL, a claim cut by the kill
is taken again when its lease runs out, and the receiver dedupes the few attempts the kill cut
after they had arrived by their `webhook-id` (the event id), as Standard Webhooks intends."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from services.devstack.ports import free_port
from services.devstack.runner import EchoFilter, Service, start_service, wait_all_ready
from tests.harness import Databases, Stack, start_stack
from tests.scenario import new_member, new_territory
from tests.service.notifications.receiver import Behaviour, Receiver, receiver
from tests.service.notifications.steps import proposed, publish_many
from tests.support import eventually

ENDPOINT_CAP = 2


@pytest.fixture
async def actors(databases: Databases, kafka: str) -> AsyncIterator[Stack]:
    async with start_stack(databases, kafka, ["actors"]) as stack:
        yield stack


def environment(stack: Stack, database_url: str, port: int) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "KAFKA_BOOTSTRAP_SERVERS": stack.kafka,
        "KAFKA_ENABLE_IDEMPOTENCE": "false",
        "KAFKA_FETCH_MAX_WAIT_MS": "20",
        "KAFKA_SESSION_TIMEOUT_MS": "2000",
        "JWKS_URL": f"{stack.urls['actors']}/.well-known/jwks.json",
        "CONSUMER_GROUP_PREFIX": f"notifications.{suffix}",
        "ACCESS_CONSUMER_GROUP": f"notifications.access.{suffix}",
        "WEBHOOK_REQUIRE_HTTPS": "false",
        "WEBHOOK_ALLOW_LOOPBACK": "true",
        "DELIVERY_TIMEOUT_S": "2",
        "DELIVERY_LEASE_MARGIN_S": "1",
        "DELIVERY_POLL_INTERVAL_S": "0.1",
        "DELIVERY_RETRY_SCHEDULE_S": "[0.3, 0.3, 0.3]",
        "ENDPOINT_CONCURRENCY": str(ENDPOINT_CAP),
        "PYTHONUNBUFFERED": "1",
    }


def started(service: Service, env: dict[str, str]) -> Service:
    start_service(service, env, threading.Event(), EchoFilter())
    wait_all_ready([service], 60)
    return service


async def test_killed_mid_queue_then_restarted_delivers_everything_once_per_subscription(
    actors: Stack, databases: Databases, tmp_path: Path
) -> None:
    database_url = await databases.for_service("notifications")
    port = free_port()
    env = environment(actors, database_url, port)
    service = Service("notifications", port, tmp_path / "notifications.log")
    territory = await new_territory(actors)
    member = await new_member(actors, territory)
    async with receiver() as partner:
        hooks = [uuid.uuid4().hex[:12] for _ in range(2)]
        for hook in hooks:
            partner.on(hook, Behaviour(delay_s=0.05))  # a queue that takes a few seconds
        try:
            await asyncio.to_thread(started, service, env)
            async with httpx.AsyncClient(base_url=service.url) as client:
                for hook in hooks:
                    await subscribed(client, member.headers, partner.url(hook))

            matches = [proposed(territory.id, member.id, str(uuid.uuid4())) for _ in range(40)]
            events = await publish_many(actors, list(matches), "m", territory.id)
            expected = {event.id for event in events}
            await eventually(lambda: len(partner.received) >= 10, timeout=60)
            assert service.process is not None
            service.process.send_signal(signal.SIGKILL)
            service.process.wait()
            cut_at = len(partner.received)
            assert cut_at < 2 * len(events), "the queue ended before the kill"

            await asyncio.to_thread(started, service, env)
            for hook in hooks:
                await eventually(functools.partial(has_all, partner, hook, expected), timeout=60)
            # And the queue knows it: one delivery per subscription and event, each succeeded
            # (the claims the kill cut were taken again once their lease ran out).
            await eventually(lambda: queue_states(database_url), timeout=60)
            assert await queue_states(database_url) == {"succeeded": 2 * len(events)}
        finally:
            if service.running() and service.process is not None:
                service.process.terminate()
                service.process.wait(10)
            await databases.drop([database_url.rsplit("/", 1)[1]])
        for hook in hooks:
            counts = ids(partner, hook)
            # Sent again: at most the attempts in flight when the process died.
            assert sum(counts.values()) - len(expected) <= ENDPOINT_CAP, counts.most_common(3)


async def queue_states(database_url: str) -> dict[str, int] | None:
    """The deliveries by status, once none is pending."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT status, count(*) AS n FROM deliveries GROUP BY status")
    finally:
        await conn.close()
    states = {row["status"]: row["n"] for row in rows}
    return None if states.get("pending") else states


def has_all(partner: Receiver, hook: str, expected: set[str]) -> bool:
    return ids(partner, hook).keys() == expected


def ids(partner: Receiver, hook: str) -> Counter[str]:
    return Counter(r.headers["webhook-id"] for r in partner.of(hook))


async def subscribed(client: httpx.AsyncClient, headers: dict[str, str], url: str) -> None:
    """Subscribe once the new service has heard of the actor (401 with Retry-After until) and of
    its admission (403 until, the actor known as registered only)."""

    async def made() -> bool:
        response = await client.post(
            "/v1/subscriptions",
            json={"url": url, "event_types": ["mcvt.match.*"]},
            headers=headers,
        )
        if response.status_code == 201:
            return True
        not_yet_admitted = (
            response.status_code == 403
            and "until your actor is admitted" in response.json()["detail"]
        )
        assert response.status_code == 401 or not_yet_admitted, response.text
        return False

    await eventually(made, timeout=30, interval=0.2)
