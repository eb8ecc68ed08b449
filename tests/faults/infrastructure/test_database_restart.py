"""PostgreSQL stopped in immediate mode under a steady load of reads and writes on actors and
offers (processes of their own, on a server the test started itself), then started again: every
answer meanwhile is a 2xx or a 503 problem with `Retry-After`, never a 500 and never a dropped
connection; /readyz answers 503 naming the database while it is down; the same processes serve
again once it is back, and every write they acknowledged is there."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.faults.infrastructure.own_postgres import OwnPostgres
from tests.faults.infrastructure.stack import Processes, processes
from tests.harness import Databases, Stack
from tests.scenario import Member, declare, new_member, new_territory, van
from tests.support import eventually

pytestmark = pytest.mark.long

SERVICES = ("actors", "offers")
DOWN_S = 5
WORKERS = 3


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnPostgres]:
    server = OwnPostgres(tmp_path_factory.mktemp("postgres"))
    yield server
    server.close()


@pytest.fixture
async def running(
    own_postgres: OwnPostgres, kafka: str, tmp_path: Path
) -> AsyncIterator[Processes]:
    databases = Databases(own_postgres.url)
    urls = {service: await databases.for_service(service) for service in SERVICES}
    async with processes(urls, kafka, tmp_path, uuid.uuid4().hex[:8]) as started:
        yield started


@dataclass
class Load:
    """What the load saw: each answer as (request, status, Retry-After), each request that got
    no answer, and the assets whose creation was acknowledged."""

    answers: list[tuple[str, int, str | None]] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    def statuses(self) -> Counter[tuple[str, int]]:
        return Counter((request, status) for request, status, _ in self.answers)

    def wrong(self) -> list[tuple[str, int, str | None]]:
        """Answers other than a 2xx or a 503 with Retry-After."""
        return [
            (request, status, retry_after)
            for request, status, retry_after in self.answers
            if not (200 <= status < 300 or (status == 503 and retry_after))
        ]


async def load(stack: Stack, member: Member, stop: asyncio.Event, seen: Load) -> None:
    """Write an asset, list the assets, read the actor, over and over until `stop`."""
    requests = (
        ("POST offers/assets", stack.offers, "POST", "/v1/assets"),
        ("GET offers/assets", stack.offers, "GET", "/v1/assets"),
        ("GET actors/me", stack.actors, "GET", "/v1/actors/me"),
    )
    while not stop.is_set():
        for name, client, method, path in requests:
            body = van(title=f"Fourgon {uuid.uuid4().hex[:6]}") if method == "POST" else None
            try:
                response = await client.request(
                    method, path, json=body, headers=member.headers, timeout=15
                )
            except httpx.HTTPError as error:
                seen.unanswered.append(f"{name}: {type(error).__name__} {error}")
                continue
            seen.answers.append((name, response.status_code, response.headers.get("Retry-After")))
            if method == "POST" and response.status_code == 201:
                seen.created.append(response.json()["id"])
        await asyncio.sleep(0.02)


async def readiness(stack: Stack) -> dict[str, httpx.Response]:
    found = await asyncio.gather(*(stack[s].client.get("/readyz") for s in SERVICES))
    return dict(zip(SERVICES, found, strict=True))


def database_down(response: httpx.Response) -> bool:
    return response.status_code == 503 and response.json()["checks"]["database"] != "ok"


async def test_postgres_restarted_under_load_answers_503_then_recovers_in_the_same_process(
    running: Processes, own_postgres: OwnPostgres
) -> None:
    stack = running.stack
    town = await new_territory(stack)
    business = await new_member(stack, town)
    await declare(stack, business)
    pids = {service: running[service].pid for service in SERVICES}

    stop, seen = asyncio.Event(), Load()
    workers = [asyncio.create_task(load(stack, business, stop, seen)) for _ in range(WORKERS)]
    try:
        await eventually(lambda: len(seen.answers) >= 10, timeout=60)
        before = len(seen.answers)
        await asyncio.to_thread(own_postgres.stop, "immediate")
        stopped_at = time.monotonic()
        down = await eventually(
            lambda: _all_say(stack, database_down), timeout=DOWN_S, interval=0.2
        )
        await asyncio.sleep(max(0.0, DOWN_S - (time.monotonic() - stopped_at)))
        await asyncio.to_thread(own_postgres.start)
        restarted_at = time.monotonic()
        during = len(seen.answers)
        # Served again by the same processes: a write and both reads succeed.
        await eventually(lambda: _served_again(seen, during), timeout=30, interval=0.2)
        recovered = time.monotonic() - restarted_at
        await asyncio.sleep(1)
    finally:
        stop.set()
        await asyncio.gather(*workers)

    print(f"{len(seen.answers)} answers ({before} before the stop), {seen.statuses()}; "
          f"served again {recovered:.1f}s after the start")  # fmt: skip
    assert not seen.unanswered, seen.unanswered[:5]
    assert not seen.wrong(), seen.wrong()[:5]
    unavailable = {request for request, status, _ in seen.answers if status == 503}
    assert {"POST offers/assets", "GET actors/me"} <= unavailable, seen.statuses()
    assert down
    assert {service: running[service].pid for service in SERVICES} == pids
    assert all(running[service].running() for service in SERVICES)
    assert all(r.status_code == 200 for r in (await readiness(stack)).values())
    # Every acknowledged write is there.
    for asset_id in seen.created:
        found = await stack.offers.get(f"/v1/assets/{asset_id}", headers=business.headers)
        assert found.status_code == 200, found.text


async def _all_say(
    stack: Stack, check: Callable[[httpx.Response], bool]
) -> dict[str, httpx.Response] | None:
    found = await readiness(stack)
    return found if all(check(r) for r in found.values()) else None


def _served_again(seen: Load, since: int) -> bool:
    ok = {request for request, status, _ in seen.answers[since:] if 200 <= status < 300}
    return ok >= {"POST offers/assets", "GET offers/assets", "GET actors/me"}
