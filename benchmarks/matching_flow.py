"""Benchmark of matching end to end: a need published → `match.proposed` on the broker.

One run starts its own Tansu broker and uses fresh databases on the PostgreSQL server that
DATABASE_URL names (its maintenance database), else the one on 127.0.0.1:5432, else an embedded
one; they are dropped at the end. Actors serves on a loopback socket (the others fetch its key
set), offers and matching run in this process as they are deployed (relays woken by NOTIFY,
the runtime's consumer), with a territory of a few dozen published vans.

(1) The raw broker round trip, as `backbone` measures it: `send_and_wait` of an event, received
    by a plain aiokafka consumer waiting 10 ms per fetch.
(2) Publication → proposal: POST /v1/needs at the offers service; the need event goes through
    offers' outbox and relay to mcvt.needs, matching's consumer ranks the vans and writes up to
    `top_k` proposals with their events in the same transaction, matching's relay publishes them
    to mcvt.matches, where the same plain consumer receives the need's first proposal. The clock
    starts when the POST returns (the need is committed); the figure from before the POST is
    shown beside it. Matching's consumer is measured with the runtime's default fetch wait
    (500 ms, aiokafka's) and with the wait the raw consumer uses: Apache Kafka answers a fetch
    as soon as a record arrives, Tansu only when the wait runs out.

Both paths are paced at the same steady rate. Target (issue 4): p99 of (2) <= 10 x p99 of (1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from benchmarks.backbone import (
    PLAIN_FETCH_WAIT_MS,
    ROUNDTRIP_TOPIC,
    Receipts,
    Report,
    actor_event,
    latencies_ms,
    load_average,
    paced,
    percentile,
    plain_consumer,
    poll_until,
    progress,
    record_headers,
    run_on_local_stack,
)
from contracts.topics import Topic
from services.actors.app import build_app as build_actors
from services.actors.domain import ActorRegistration
from services.actors.handlers import bootstrap_territory
from services.actors.settings import ActorsSettings
from services.devstack.demo import NEED, OFFER, VAN
from services.devstack.ports import free_port
from services.devstack.postgres import create_database, drop_database
from services.matching.app import build_app as build_matching
from services.matching.settings import MatchingSettings
from services.offers.app import build_app as build_offers
from services.offers.settings import OffersSettings
from services.runtime.context import Context
from services.runtime.db import create_pool
from services.runtime.kafka import ensure_topics, make_producer
from services.runtime.settings import ServiceSettings

ROOT = Path(__file__).resolve().parent.parent
PARTITIONS = 4
DIE = (44.7536, 5.3700)
PROPOSED = "mcvt.match.proposed.v1"


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Serve the app on a free loopback port; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    if not await poll_until(lambda: server.started or task.done(), limit_s=60) or task.done():
        raise RuntimeError("actors did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def in_process(app: FastAPI, name: str) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url=f"http://{name}", timeout=30
        ) as client:
            yield client


async def token(client: httpx.AsyncClient, api_key: str) -> dict[str, str]:
    response = await client.post("/v1/auth/token", json={"api_key": api_key})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def admitted(
    actors: httpx.AsyncClient, territory_id: str, facilitator: dict[str, str], **body: Any
) -> tuple[str, dict[str, str]]:
    """Register and admit an actor; return its id and auth headers."""
    registration = {
        "territory_id": territory_id,
        "email": f"{uuid.uuid4().hex[:8]}@bench.example",
        "location": {"lat": DIE[0], "lon": DIE[1], "commune": "Die"},
        **body,
    }
    response = await actors.post("/v1/actors", json=registration)
    response.raise_for_status()
    actor_id = response.json()["actor"]["id"]
    (await actors.post(f"/v1/actors/{actor_id}/admit", headers=facilitator)).raise_for_status()
    return actor_id, await token(actors, response.json()["api_key"]["key"])


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: Any) -> Any:
    """POST, retrying while the service has not yet heard (by event) of the actor."""
    for _ in range(300):
        response = await client.post(path, json=body, headers=headers)
        if response.status_code not in (403, 404):
            response.raise_for_status()
            return response.json()
        await asyncio.sleep(0.1)
    response.raise_for_status()
    raise RuntimeError(f"POST {path} kept failing")


def spread(n: int, count: int, radius_km: float = 8.0) -> dict[str, float]:
    """The n-th of `count` points on a spiral around Die."""
    angle = n * 2.399963  # the golden angle spreads points evenly
    distance = radius_km * math.sqrt((n + 0.5) / count)
    return {
        "lat": DIE[0] + distance / 111.2 * math.cos(angle),
        "lon": DIE[1] + distance / (111.2 * math.cos(math.radians(DIE[0]))) * math.sin(angle),
    }


@dataclass
class Market:
    territory_id: str
    association: dict[str, str]
    offers: int


async def open_territory(actors_url: str, actors_db: str) -> tuple[str, dict[str, str]]:
    """A new territory and its facilitator, signed in: (territory id, its auth headers)."""
    pool = await create_pool(actors_db, min_size=1, max_size=2)
    try:
        draft = ActorRegistration.model_validate(
            {
                "territory_id": str(uuid.uuid4()),
                "kind": "association",
                "name": "Équipe MCVT",
                "email": "animation@bench.example",
            }
        )
        territory, _, key = await bootstrap_territory(
            pool, "Banc d'essai", draft, Context("/mcvt/actors")
        )
    finally:
        await pool.close()
    assert key is not None
    async with httpx.AsyncClient(base_url=actors_url, timeout=30) as actors:
        return str(territory), await token(actors, key.api_key)


async def open_market(
    actors_url: str, actors_db: str, offers: httpx.AsyncClient, count: int
) -> Market:
    territory, facilitator = await open_territory(actors_url, actors_db)
    async with httpx.AsyncClient(base_url=actors_url, timeout=30) as actors:
        _, business = await admitted(
            actors, territory, facilitator, kind="business", name="Frigo Diois"
        )
        _, association = await admitted(
            actors, territory, facilitator, kind="association", name="Paniers"
        )
    for n in range(count):
        location = {**spread(n, count), "commune": "Die"}
        asset = await post(offers, "/v1/assets", {**VAN, "location": location}, business)
        await post(offers, "/v1/offers", {**OFFER, "asset_id": asset["id"]}, business)
    return Market(territory, association, count)


async def proposals_consumer(bootstrap: str, first: dict[str, float], ready: asyncio.Event) -> None:
    """Note when the first proposal of each need arrives on mcvt.matches (as `plain_consumer`)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=PLAIN_FETCH_WAIT_MS
    )
    await consumer.start()
    try:
        await consumer.topics()
        topic = str(Topic.MATCHES)
        consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)])
        await consumer.seek_to_end()
        ready.set()
        async for record in consumer:
            now = time.perf_counter()
            if dict(record.headers).get("ce_type") != PROPOSED.encode():
                continue
            need_id = json.loads(record.value)["data"]["need_id"]
            first.setdefault(need_id, now)
    finally:
        await consumer.stop()


@dataclass
class Publications:
    """Need publications: when each POST began and returned, by need id."""

    offers: httpx.AsyncClient
    association: dict[str, str]
    ids: list[str]
    began: list[float]
    returned: list[float]

    async def publish(self, i: int) -> float:
        start = time.perf_counter()
        need = await post(self.offers, "/v1/needs", NEED, self.association)
        done = time.perf_counter()
        self.ids.append(need["id"])
        self.began.append(start)
        self.returned.append(done)
        return done


async def measure_raw(
    producer: AIOKafkaProducer, receipts: Receipts, count: int, rate: float
) -> list[float]:
    events = [actor_event(n) for n in range(count)]

    async def send(i: int) -> float:
        event, start = events[i], time.perf_counter()
        await producer.send_and_wait(
            ROUNDTRIP_TOPIC, value=event.model_dump_json().encode(),
            key=event.subject.encode(), headers=record_headers(event),
        )  # fmt: skip
        return start

    sent = await paced(count, rate, send)
    ids = [e.id for e in events]
    if not await poll_until(lambda: all(i in receipts.plain for i in ids), limit_s=30):
        raise RuntimeError("raw events did not all arrive within 30 s")
    return latencies_ms(ids, sent, receipts.plain)


async def measure_flow(
    market: Market, offers: httpx.AsyncClient, first: dict[str, float], count: int, rate: float
) -> tuple[list[float], list[float]]:
    """Latencies of the first proposal from the POST's return and from its start, in ms."""
    runs = Publications(offers, market.association, [], [], [])
    await paced(count, rate, runs.publish)
    if not await poll_until(lambda: all(i in first for i in runs.ids), limit_s=60):
        missing = sum(1 for i in runs.ids if i not in first)
        raise RuntimeError(f"{missing} of {count} needs got no proposal within 60 s")
    return (
        latencies_ms(runs.ids, runs.returned, first),
        latencies_ms(runs.ids, runs.began, first),
    )


def figures(samples: Sequence[float]) -> str:
    return f"p50 {percentile(samples, 0.5):.1f} ms, p99 {percentile(samples, 0.99):.1f} ms"


async def bench(server: str, bootstrap: str, args: argparse.Namespace) -> Report:
    report = Report()
    report.setting.append(load_average())
    suffix = uuid.uuid4().hex[:8]
    databases = {name: f"mcvt_bench_{name}_{suffix}" for name in ("actors", "offers")}
    urls = {name: await create_database(server, db) for name, db in databases.items()}
    made = list(databases.values())
    topics = [str(t) for t in Topic] + [ROUNDTRIP_TOPIC]
    await ensure_topics(bootstrap, topics, PARTITIONS)
    producer = make_producer(ServiceSettings(kafka_bootstrap_servers=bootstrap))
    await producer.start()
    receipts, first = Receipts(), dict[str, float]()
    ready = [asyncio.Event(), asyncio.Event()]
    readers = [
        asyncio.create_task(plain_consumer(bootstrap, [ROUNDTRIP_TOPIC], receipts, ready[0])),
        asyncio.create_task(proposals_consumer(bootstrap, first, ready[1])),
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 30)
    common: dict[str, Any] = {"kafka_bootstrap_servers": bootstrap}
    try:
        actors = build_actors(ActorsSettings(database_url=urls["actors"], **common))
        async with serving(actors) as actors_url:
            common["jwks_url"] = f"{actors_url}/.well-known/jwks.json"
            offers_app = build_offers(OffersSettings(database_url=urls["offers"], **common))
            async with in_process(offers_app, "offers") as offers:
                progress(f"publishing {args.offers} offers")
                market = await open_market(actors_url, urls["actors"], offers, args.offers)
                progress("(1) raw round trip: warming up, then measuring")
                await measure_raw(producer, receipts, 20, 50)
                raw = await measure_raw(producer, receipts, args.events, args.rate)
                pace = f"{args.events} at {args.rate:g}/s"
                report.add("(1) raw send_and_wait -> plain consumer", figures(raw), pace)
                for wait in args.fetch_waits:
                    name = f"mcvt_bench_matching_{wait}_{suffix}"
                    made.append(name)
                    settings = MatchingSettings(
                        database_url=await create_database(server, name),
                        consumer_group=f"matching.bench.{wait}.{suffix}",
                        kafka_fetch_max_wait_ms=wait,
                        **common,
                    )
                    matching = build_matching(settings)
                    async with in_process(matching, "matching"):
                        progress(f"(2) matching consumer waiting {wait} ms: catching up")
                        await caught_up(matching, market)
                        await measure_flow(market, offers, first, 20, args.rate)
                        progress(f"(2) {args.events} needs at {args.rate:g}/s")
                        after, before = await measure_flow(
                            market, offers, first, args.events, args.rate
                        )
                    label = f"(2) need POST -> first match.proposed, consumer fetch wait {wait} ms"
                    report.add(label, figures(after), f"{pace}; from POST start: {figures(before)}")
                    ratio = percentile(after, 0.99) / percentile(raw, 0.99)
                    report.target(
                        f"(2) p99 / raw p99, fetch wait {wait} ms", ratio, 10, at_least=False
                    )
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await producer.stop()
        for name in made:
            await drop_database(server, name)
    return report


async def caught_up(matching: FastAPI, market: Market) -> None:
    """Wait until a new matching instance, reading every topic from the start, holds the
    market's offers: its first records are history, not the measured publications."""
    model = matching.state.read_model
    if not await poll_until(lambda: len(model.offers) >= market.offers, limit_s=60):
        raise RuntimeError("matching did not read the market's offers within 60 s")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=200, help="publications per path")
    parser.add_argument("--rate", type=float, default=10.0, help="publications per second")
    parser.add_argument("--offers", type=int, default=40, help="vans published beforehand")
    parser.add_argument(
        "--fetch-waits",
        type=lambda text: [int(v) for v in text.split(",")],
        default=[500, PLAIN_FETCH_WAIT_MS],
        help="matching consumer fetch waits to measure, in ms (default: 500,10)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    run_on_local_stack("matching flow", bench, parse_args(argv))


if __name__ == "__main__":
    main()
