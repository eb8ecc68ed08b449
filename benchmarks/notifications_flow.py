"""Benchmark of notifications: a need published → the partner's webhook received; deliveries
per second; healthy endpoints while one hangs.

One run starts its own Tansu broker and uses fresh databases on the PostgreSQL server that
DATABASE_URL names, else the one on 127.0.0.1:5432, else an embedded one; they are dropped at the
end. Actors serves on a loopback socket (the others fetch its key set), offers and notifications
run in this process as deployed, and the partner's receiver is a uvicorn on loopback answering
204 and noting when each `webhook-id` arrived.

(1) The raw broker round trip, as `backbone` measures it: `send_and_wait`, received by a plain
    consumer waiting 10 ms per fetch.
(2) Need published → webhook received: POST /v1/needs at offers; the need event goes through
    offers' outbox and relay to mcvt.needs, notifications' consumer (fetch wait 10 ms, as the
    raw consumer) logs it and queues the delivery of the facilitator's territory subscription,
    the delivery worker signs and POSTs it. The clock starts when the POST returns. Target:
    p99 <= 15 x p99 of (1).
(3) Deliveries per second: N deliveries queued at once for one endpoint, sent by the worker with
    C in flight, against N raw signed httpx POSTs (standardwebhooks) with C in flight, to the
    same receiver. Target: >= 0.3 x the raw rate.
(4) Healthy endpoints' p99 (queue → received) at a steady rate while one more endpoint never
    answers, against the same without it; the median of three runs of each. Target: <= 1.5 x.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Request, Response

from benchmarks.backbone import (
    PLAIN_FETCH_WAIT_MS,
    ROUNDTRIP_TOPIC,
    Receipts,
    Report,
    load_average,
    percentile,
    plain_consumer,
    poll_until,
    progress,
    run_on_local_stack,
)
from benchmarks.matching_flow import (
    admitted,
    figures,
    in_process,
    measure_raw,
    open_territory,
    serving,
)
from contracts.topics import Topic
from services.actors.app import build_app as build_actors
from services.actors.settings import ActorsSettings
from services.devstack.demo import NEED
from services.devstack.ports import free_port
from services.devstack.postgres import create_database, drop_database
from services.notifications.app import build_app as build_notifications
from services.notifications.sender import signed_headers
from services.notifications.settings import NotificationsSettings
from services.offers.app import build_app as build_offers
from services.offers.settings import OffersSettings
from services.runtime.kafka import ensure_topics, make_producer
from services.runtime.settings import ServiceSettings

PARTITIONS = 4
NEED_PUBLISHED = "mcvt.need.published.v1"


@dataclass
class Partner:
    """The receiver: when each webhook-id arrived, by endpoint; `hang` endpoints never answer."""

    base: str = ""
    arrived: dict[str, dict[str, float]] = field(default_factory=dict)
    need_of: dict[str, str] = field(default_factory=dict)  # need id -> webhook id
    hang: set[str] = field(default_factory=set)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, endpoint: str) -> str:
        return f"{self.base}/{endpoint}"


@contextlib.asynccontextmanager
async def partner_receiver() -> AsyncIterator[Partner]:
    partner = Partner()
    app = FastAPI()

    @app.post("/{endpoint}")
    async def receive(endpoint: str, request: Request) -> Response:
        if endpoint in partner.hang:
            await partner.release.wait()
            return Response(status_code=503)
        body = await request.body()
        now = time.perf_counter()
        webhook_id = request.headers["webhook-id"]
        partner.arrived.setdefault(endpoint, {})[webhook_id] = now
        if endpoint == "needs":
            partner.need_of[json.loads(body)["data"]["need_id"]] = webhook_id
        return Response(status_code=204)

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="off", backlog=4096
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    if not await poll_until(lambda: server.started or task.done(), limit_s=30):
        raise RuntimeError("the receiver did not start")
    partner.base = f"http://127.0.0.1:{port}"
    try:
        yield partner
    finally:
        partner.release.set()
        server.should_exit = True
        await task


async def subscribe(
    client: httpx.AsyncClient, headers: dict[str, str], url: str, types: list[str], scope: str
) -> dict[str, Any]:
    for _ in range(300):  # until notifications has heard of the actor
        response = await client.post(
            "/v1/subscriptions",
            json={"url": url, "event_types": types, "scope": scope},
            headers=headers,
        )
        if response.status_code == 201:
            body: dict[str, Any] = response.json()
            return body
        await asyncio.sleep(0.1)
    raise RuntimeError(f"subscribing kept failing: {response.status_code} {response.text}")


def sample_body(event_id: str) -> str:
    """A delivery's body of the usual size (a match event is about 700 bytes)."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "/mcvt/bench",
            "type": "mcvt.match.proposed.v1",
            "time": datetime.now(UTC).isoformat(),
            "subject": event_id,
            "territory": str(uuid.uuid4()),
            "data": {"padding": "x" * 600},
        }
    )


async def queue(pool: asyncpg.Pool, subscription: str, event_ids: Sequence[str]) -> None:
    """Queue deliveries as the consumer does (rows, then NOTIFY), in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            """INSERT INTO deliveries (id, subscription_id, event_id, event_type, body, event_time)
            VALUES ($1, $2, $3, 'mcvt.match.proposed.v1', $4, now())""",
            [(uuid.uuid4(), uuid.UUID(subscription), i, sample_body(i)) for i in event_ids],
        )
        await conn.execute("SELECT pg_notify('deliveries', '')")


async def measure_webhooks(
    offers: httpx.AsyncClient,
    association: dict[str, str],
    partner: Partner,
    count: int,
    rate: float,
) -> list[float]:
    """Latencies, in ms, from the need POST's return to the partner's receipt."""
    returned: dict[str, float] = {}
    start = time.perf_counter()
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        response = await offers.post("/v1/needs", json=NEED, headers=association)
        response.raise_for_status()
        returned[response.json()["id"]] = time.perf_counter()
    if not await poll_until(lambda: all(n in partner.need_of for n in returned), limit_s=60):
        raise RuntimeError("some needs reached no webhook within 60 s")
    arrived = partner.arrived["needs"]
    return [(arrived[partner.need_of[n]] - t) * 1000 for n, t in returned.items()]


async def delivery_rate(
    pool: asyncpg.Pool, partner: Partner, subscription: str, endpoint: str, count: int
) -> float:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    start = time.perf_counter()
    await queue(pool, subscription, ids)
    got = partner.arrived.setdefault(endpoint, {})
    if not await poll_until(lambda: all(i in got for i in ids), limit_s=120):
        raise RuntimeError("the queued deliveries were not all received within 120 s")
    return count / (max(got[i] for i in ids) - start)


async def raw_rate(partner: Partner, endpoint: str, count: int, concurrency: int) -> float:
    """Signed POSTs straight from httpx, `concurrency` in flight."""
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    ids = iter([str(uuid.uuid4()) for _ in range(count)])
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=15, trust_env=False) as client:

        async def worker() -> None:
            for event_id in ids:
                body = sample_body(event_id)
                headers = signed_headers(event_id, body, [secret], datetime.now(UTC))
                response = await client.post(partner.url(endpoint), content=body, headers=headers)
                response.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - start)


async def healthy_p99(
    pool: asyncpg.Pool,
    partner: Partner,
    healthy: Sequence[tuple[str, str]],
    hanging: tuple[str, str] | None,
    seconds: float,
    rate: float,
) -> float:
    """p99 (ms) from queueing to receipt of the healthy endpoints' deliveries, one per endpoint
    and tick at `rate` ticks per second (and as many for the hanging one, when given)."""
    queued: dict[str, float] = {}
    targets = [*healthy, *([hanging] if hanging else [])]
    start = time.perf_counter()
    for tick in range(int(seconds * rate)):
        delay = start + tick / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        for endpoint, subscription in targets:
            event_id = str(uuid.uuid4())
            now = time.perf_counter()
            await queue(pool, subscription, [event_id])
            if hanging is None or endpoint != hanging[0]:
                queued[event_id] = now
    arrived: dict[str, float] = {}

    def all_arrived() -> bool:
        for endpoint, _ in healthy:
            arrived.update(partner.arrived.get(endpoint, {}))
        return all(i in arrived for i in queued)

    if not await poll_until(all_arrived, limit_s=60):
        raise RuntimeError("healthy deliveries missing after 60 s")
    return percentile([(arrived[i] - t) * 1000 for i, t in queued.items()], 0.99)


async def bench(server: str, bootstrap: str, args: argparse.Namespace) -> Report:
    report = Report()
    report.setting.append(load_average())
    suffix = uuid.uuid4().hex[:8]
    databases = {n: f"mcvt_bench_{n}_{suffix}" for n in ("actors", "offers", "notifications")}
    urls = {name: await create_database(server, db) for name, db in databases.items()}
    await ensure_topics(bootstrap, [str(t) for t in Topic] + [ROUNDTRIP_TOPIC], PARTITIONS)
    producer: AIOKafkaProducer = make_producer(ServiceSettings(kafka_bootstrap_servers=bootstrap))
    await producer.start()
    receipts, ready = Receipts(), asyncio.Event()
    reader = asyncio.create_task(plain_consumer(bootstrap, [ROUNDTRIP_TOPIC], receipts, ready))
    await asyncio.wait_for(ready.wait(), 30)
    common: dict[str, Any] = {"kafka_bootstrap_servers": bootstrap}
    try:
        actors = build_actors(ActorsSettings(database_url=urls["actors"], **common))
        async with serving(actors) as actors_url, partner_receiver() as partner:
            common["jwks_url"] = f"{actors_url}/.well-known/jwks.json"
            offers_app = build_offers(OffersSettings(database_url=urls["offers"], **common))
            notifications_app = build_notifications(
                NotificationsSettings(
                    database_url=urls["notifications"],
                    webhook_require_https=False,
                    webhook_allow_loopback=True,
                    kafka_fetch_max_wait_ms=PLAIN_FETCH_WAIT_MS,
                    # (3) sends to one endpoint with its cap at C; the replica's own bound is
                    # the default (64), so that in (4) a hanging endpoint holds C of 64.
                    endpoint_concurrency=args.concurrency,
                    **common,
                )
            )
            async with (
                in_process(offers_app, "offers") as offers,
                in_process(notifications_app, "notifications") as notifications,
            ):
                territory = await territory_with_association(actors_url, urls["actors"])
                facilitator = territory.facilitator
                await subscribe(
                    notifications, facilitator, partner.url("needs"), [NEED_PUBLISHED], "territory"
                )
                progress("(1) raw round trip: warming up, then measuring")
                await measure_raw(producer, receipts, 20, 50)
                raw = await measure_raw(producer, receipts, args.events, args.rate)
                pace = f"{args.events} at {args.rate:g}/s"
                report.add("(1) raw send_and_wait -> plain consumer", figures(raw), pace)

                progress("(2) need POST -> webhook: warming up, then measuring")
                await measure_webhooks(offers, territory.association, partner, 20, args.rate)
                flow = await measure_webhooks(
                    offers, territory.association, partner, args.events, args.rate
                )
                report.add("(2) need POST -> partner webhook received", figures(flow), pace)
                report.target(
                    "(2) p99 / raw p99", percentile(flow, 0.99) / percentile(raw, 0.99), 15,
                    at_least=False,
                )  # fmt: skip

                pool: asyncpg.Pool = notifications_app.state.runtime.pool
                bulk = await subscribe(
                    notifications, facilitator, partner.url("bulk"), ["mcvt.match.*"], "actor"
                )
                progress(f"(3) {args.deliveries} deliveries, {args.concurrency} in flight")
                await delivery_rate(pool, partner, bulk["id"], "bulk", 100)
                worker = await delivery_rate(pool, partner, bulk["id"], "bulk", args.deliveries)
                await raw_rate(partner, "raw", 100, args.concurrency)
                direct = await raw_rate(partner, "raw", args.deliveries, args.concurrency)
                note = f"{args.deliveries} to one endpoint, {args.concurrency} in flight"
                report.add("(3) deliveries by the worker", f"{worker:.0f}/s", note)
                report.add("(3) raw signed httpx POSTs", f"{direct:.0f}/s", note)
                report.target("(3) worker / raw rate", worker / direct, 0.3, at_least=True)

                healthy = [
                    (name, (await subscribe(
                        notifications, facilitator, partner.url(name), ["mcvt.match.*"], "actor"
                    ))["id"])
                    for name in ("h1", "h2", "h3", "h4")
                ]  # fmt: skip
                partner.hang.add("stuck")
                stuck = await subscribe(
                    notifications, facilitator, partner.url("stuck"), ["mcvt.match.*"], "actor"
                )
                runs: dict[str, list[float]] = {"without": [], "with": []}
                for run in range(3):
                    for case, hanging in (("without", None), ("with", ("stuck", stuck["id"]))):
                        progress(f"(4) run {run + 1}/3 {case} a hanging endpoint")
                        runs[case].append(
                            await healthy_p99(
                                pool, partner, healthy, hanging, args.seconds, args.tick_rate
                            )
                        )
                without, with_hang = (statistics.median(runs[c]) for c in ("without", "with"))
                note = (
                    f"4 healthy endpoints, {args.tick_rate:g}/s each for {args.seconds:g} s; "
                    f"p99 of each run: {runs}"
                )
                report.add("(4) healthy p99 without a hanging endpoint", f"{without:.1f} ms", note)
                report.add("(4) healthy p99 with one hanging endpoint", f"{with_hang:.1f} ms")
                report.target("(4) with / without", with_hang / without, 1.5, at_least=False)
                partner.release.set()
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await producer.stop()
        for name in databases.values():
            await drop_database(server, name)
    return report


@dataclass
class Territory:
    id: str
    facilitator: dict[str, str]
    association: dict[str, str]


async def territory_with_association(actors_url: str, actors_db: str) -> Territory:
    """A territory with its facilitator and an admitted association, signed in."""
    territory, facilitator = await open_territory(actors_url, actors_db)
    async with httpx.AsyncClient(base_url=actors_url, timeout=30) as actors:
        _, association = await admitted(
            actors, territory, facilitator, kind="association", name="Paniers"
        )
    return Territory(territory, facilitator, association)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=200, help="publications per path")
    parser.add_argument("--rate", type=float, default=10.0, help="publications per second")
    parser.add_argument("--deliveries", type=int, default=1000, help="deliveries for (3)")
    parser.add_argument("--concurrency", type=int, default=16, help="in flight for (3)")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each run of (4)")
    parser.add_argument("--tick-rate", type=float, default=10.0, help="per endpoint, for (4)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    run_on_local_stack("notifications", bench, parse_args(argv))


if __name__ == "__main__":
    main()
