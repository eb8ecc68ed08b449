"""The broker frozen (SIGSTOP) for 30 s while actors, offers and matching run as processes: every
write is still accepted (it lands in the service's outbox, in the same transaction), the
outboxes grow, /readyz answers 503 naming the broker; once the broker is back (SIGCONT), the
outboxes drain to nothing and the consumers apply what was written meanwhile: matching proposes
a match for every need published during the pause, and every service knows the actors
registered then. Tansu keeps nothing across a restart, hence a pause rather than a stop."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.devstack.tansu import TansuBroker
from tests.faults.infrastructure.stack import Processes, processes, unpublished
from tests.harness import Databases, Stack
from tests.scenario import (
    Member,
    declare,
    known_everywhere,
    need,
    new_member,
    new_territory,
    offer,
    registration,
)
from tests.support import eventually

pytestmark = pytest.mark.long

SERVICES = ("actors", "offers", "matching")
PAUSE_S = 30
ANY_DAY = {"weekly": [{"weekday": d, "start_minute": 0, "end_minute": 1440} for d in range(7)]}


def slot(index: int) -> dict[str, Any]:
    """A need of two hours a week of its own (weekday, then hour): no two needs compete for the
    van's capacity, so each one gets a proposal."""
    start = (index // 7) * 120
    return {
        "weekly_windows": [
            {"weekday": index % 7, "start_minute": start, "end_minute": start + 120}
        ],
        "min_duration_minutes": 60,
    }


@pytest.fixture
async def running(databases: Databases, kafka: str, tmp_path: Path) -> AsyncIterator[Processes]:
    urls = {service: await databases.for_service(service) for service in SERVICES}
    try:
        async with processes(urls, kafka, tmp_path, uuid.uuid4().hex[:8]) as started:
            yield started
    finally:
        await databases.drop([url.rsplit("/", 1)[1] for url in urls.values()])


async def proposed(stack: Stack, member: Member, needs: set[str]) -> bool:
    """Whether matching proposed a match for each of the member's `needs` (read at its API)."""
    response = await stack["matching"].client.get(
        "/v1/matches", params={"limit": 100}, headers=member.headers
    )
    assert response.status_code == 200, response.text
    return needs <= {match["need_id"] for match in response.json()["items"]}


async def all_published(stack: Stack) -> bool:
    return not any((await unpublished(stack, SERVICES)).values())


async def readiness(stack: Stack) -> dict[str, httpx.Response]:
    found = await asyncio.gather(*(stack[s].client.get("/readyz") for s in SERVICES))
    return dict(zip(SERVICES, found, strict=True))


async def all_ready(stack: Stack) -> bool:
    return all(r.status_code == 200 for r in (await readiness(stack)).values())


async def all_say_broker_down(stack: Stack) -> bool:
    return all(broker_down(r) for r in (await readiness(stack)).values())


def broker_down(response: httpx.Response) -> bool:
    checks = response.json().get("checks", {})
    return (
        response.status_code == 503
        and checks.get("database") == "ok"
        and checks.get("broker", "ok") != "ok"
    )


async def test_writes_are_accepted_while_the_broker_is_paused_and_flow_on_once_it_is_back(
    running: Processes, tansu: TansuBroker | None
) -> None:
    if tansu is None:
        pytest.skip("the broker is not this session's own (KAFKA_BOOTSTRAP_SERVERS): no pause")
    stack = running.stack
    town = await new_territory(stack)
    business = await new_member(stack, town)
    association = await new_member(stack, town, kind="association", name="Paniers solidaires")
    asset = await declare(stack, business, availability=ANY_DAY)
    await offer(stack, business, asset["id"])
    first = await need(stack, association, **slot(0))
    await eventually(lambda: proposed(stack, association, {first["id"]}), timeout=60)
    listed = await stack["matching"].client.get("/v1/matches", headers=association.headers)
    [match] = listed.json()["items"]
    assert all(r.status_code == 200 for r in (await readiness(stack)).values())
    await eventually(lambda: all_published(stack), timeout=30)

    tansu.pause()
    try:
        paused_at = time.monotonic()
        # Every service says it is not ready, and why, within a few seconds.
        await eventually(lambda: all_say_broker_down(stack), timeout=15, interval=0.5)
        # matching: both parties accept the match proposed before the pause.
        for member in (business, association):
            accepted = await stack["matching"].client.post(
                f"/v1/matches/{match['id']}/accept", headers=member.headers
            )
            assert accepted.status_code == 200, accepted.text
        needs: list[str] = []
        registered: list[str] = []
        while time.monotonic() - paused_at < PAUSE_S:
            needs.append((await need(stack, association, **slot(len(needs) + 1)))["id"])
            body = registration(town.id, kind="association", siret=None)
            response = await stack.actors.post("/v1/actors", json=body)
            assert response.status_code == 201, response.text
            registered.append(response.json()["actor"]["id"])
            await asyncio.sleep(0.5)
        backlog = await unpublished(stack, SERVICES)
        still = await readiness(stack)
    finally:
        tansu.resume()
    paused_for = time.monotonic() - paused_at
    print(f"paused {paused_for:.1f}s: {len(needs)} needs, {len(registered)} actors, "
          f"outbox backlog {backlog}")  # fmt: skip
    assert all(broker_down(r) for r in still.values()), {s: r.text for s, r in still.items()}
    assert backlog["offers"] >= len(needs), backlog
    assert backlog["actors"] >= len(registered), backlog
    assert backlog["matching"] >= 1, backlog

    resumed_at = time.monotonic()
    await eventually(lambda: all_published(stack), timeout=90, interval=0.5)
    drained = time.monotonic() - resumed_at
    await eventually(lambda: all_ready(stack), timeout=30, interval=0.5)
    # The consumers resumed: every need of the pause got its proposal, every actor is known.
    await eventually(lambda: proposed(stack, association, set(needs)), timeout=90, interval=0.5)
    for actor_id in registered:
        await known_everywhere(stack, actor_id, "pending")
    print(f"outboxes drained {drained:.1f}s after the broker came back; "
          f"every need proposed {time.monotonic() - resumed_at:.1f}s after")  # fmt: skip
