"""Benchmark of the event backbone: outbox writes, relay drain, commit-to-consumer latency.

One run starts its own Tansu broker and uses a fresh database on the PostgreSQL server that
DATABASE_URL names (its maintenance database), else the one on 127.0.0.1:5432, else an embedded
one; the database is dropped at the end. The broker, PostgreSQL and Python share this machine's
cores, so other work on the machine lowers every figure: the load average is printed with them.

(1) Actor registrations per second, 32 in flight on the runtime's pool of 10 connections:
    (a) POST /v1/actors on the actors app through an in-process ASGI client (no socket), with
    the relay off and then running as deployed; (b) `handlers.register_actor` called directly;
    (c) raw asyncpg transactions inserting the same six rows register_actor inserts (actors,
    api_keys, people, memberships, sign_in_links, outbox) with values prepared beforehand: no
    territory check, no domain model, no key generation, no event building. (b) and (c)
    alternate in rounds, to see the same load.
(2) A 20,000-event backlog written by 32 concurrent single-event transactions (the write rate),
    then drained by an `OutboxRelay` (the drain rate).
(3) Latency, events paced at a steady rate: from just after a transaction with an outbox row
    commits (the relay running, woken by NOTIFY) to a consumer receiving the record, against a
    direct `send_and_wait` to the broker (a producer with the relay's settings) received the
    same way. Two consumers read every record: a plain aiokafka consumer, and the runtime's
    consumer group (FastStream, inbox insert, handler entered inside its transaction).

Targets (issue 2): (1) (b) >= 0.7 x (c); (2) drain >= 5 x write; (3) outbox p99 <= 5 x raw p99.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import logging
import math
import os
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from asgi_lifespan import LifespanManager
from faststream.kafka import KafkaBroker
from stdnum import luhn

from contracts.actors import ActorRegisteredV1
from contracts.envelope import CONTENT_TYPE, CloudEvent, new_event
from contracts.topics import Topic, dead_letter_topic
from services.actors import domain, people
from services.actors.app import build_app
from services.actors.app import spec as actors_spec
from services.actors.domain import ActorRegistration
from services.actors.handlers import bootstrap_territory, register_actor
from services.actors.settings import ActorsSettings
from services.devstack.postgres import create_database, drop_database, server_url
from services.devstack.tansu import start_tansu
from services.runtime.consumer import ConsumerRuntime, EventConsumer, subscribe
from services.runtime.context import Context
from services.runtime.db import Connection, create_pool, migrate
from services.runtime.kafka import ensure_topics, make_producer
from services.runtime.outbox import OutboxRelay, enqueue
from services.runtime.settings import ServiceSettings

ROOT = Path(__file__).resolve().parent.parent
PARTITIONS = 4
ROUNDTRIP_TOPIC = "mcvt.bench.roundtrip"
LATENCY_GROUP = "bench.latency"
PLAIN_FETCH_WAIT_MS = 10

Job = Callable[[], Awaitable[object]]


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


# --- the report -----------------------------------------------------------------------------------


@dataclass
class Report:
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    setting: list[str] = field(default_factory=list)  # what the figures depend on

    def add(self, measure: str, figure: str, note: str = "") -> None:
        self.rows.append((measure, figure, note))
        progress(f"{measure}: {figure}")

    def target(self, name: str, ratio: float, bound: float, *, at_least: bool) -> None:
        met = ratio >= bound if at_least else ratio <= bound
        sign = ">=" if at_least else "<="
        verdict = "met" if met else "MISSED"
        self.targets.append(f"{name}: {ratio:.2f} (target {sign} {bound:g}) {verdict}")

    def print(self, header: str) -> None:
        # Sections ran in another order (latency first, on quiet topics); show them by number.
        self.rows.sort(key=lambda row: row[0][1])
        self.targets.sort(key=lambda target: target[1])
        table = [("measure", "figure", "note"), *self.rows]
        widths = [max(len(row[i]) for row in table) for i in range(3)]
        template = "| " + " | ".join(f"{{:{w}}}" for w in widths) + " |"
        print(f"\n{header}")
        for fact in self.setting:
            print(f"  {fact}")
        print()
        print(template.format("measure", "figure", "note"))
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for row in self.rows:
            print(template.format(*row))
        print()
        for target in self.targets:
            print(target)


# --- helpers --------------------------------------------------------------------------------------


async def run_concurrently(jobs: Sequence[Job], concurrency: int) -> float:
    """Run the jobs with `concurrency` of them in flight; return the elapsed seconds."""
    pending = iter(jobs)

    async def worker() -> None:
        for job in pending:
            await job()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


_sirens = itertools.count(10_000_000)


def new_siret() -> str:
    """A fresh SIRET that passes the checksums: a Luhn SIREN, then a Luhn 14-digit whole."""
    siren = str(next(_sirens))
    siren += luhn.calc_check_digit(siren)
    body = siren + "0001"
    return body + luhn.calc_check_digit(body)


def registration(territory_id: uuid.UUID, n: int) -> dict[str, Any]:
    return {
        "territory_id": str(territory_id),
        "kind": "business",
        "name": f"Transports Frigo Diois {n}",
        # One registration per e-mail and territory: every run of every path its own addresses.
        "email": f"contact{n}-{uuid.uuid4().hex[:8]}@frigo-diois.example",
        "phone": "+33 4 75 22 00 00",
        "location": {"lat": 44.75, "lon": 5.37, "commune": "Die"},
        "description": "Camion frigorifique disponible le week-end",
        "siret": new_siret(),
    }


def actor_event(n: int) -> CloudEvent[Any]:
    """An actor-registered event like the ones the actors service writes to its outbox."""
    subject = str(uuid.uuid4())
    payload = ActorRegisteredV1(
        actor_id=subject, territory_id="t-bench", kind="business", name=f"Bench {n}",
        status="pending", version=1,
    )  # fmt: skip
    return new_event(payload, subject=subject, territory="t-bench", source="/mcvt/bench")


def record_headers(event: CloudEvent[Any]) -> list[tuple[str, bytes]]:
    """The headers the relay puts on a record."""
    headers = {
        "content-type": CONTENT_TYPE,
        "ce_id": event.id,
        "ce_type": event.type,
        "correlation_id": event.correlationid,
    }
    return [(k, v.encode()) for k, v in headers.items()]


async def write_event(pool: asyncpg.Pool, event: CloudEvent[Any]) -> None:
    """A transaction that only writes one event to the outbox."""
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, event)


async def poll_until(check: Callable[[], bool], *, limit_s: float) -> bool:
    """Check every few milliseconds until `check()` holds (True) or `limit_s` passes (False)."""
    deadline = time.monotonic() + limit_s
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[OutboxRelay]:
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# --- (1) registrations ----------------------------------------------------------------------------

_RAW_ACTOR = """INSERT INTO actors (id, territory_id, kind, name, email, phone, lat, lon, commune,
    description, siret, status, roles, version, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"""
_RAW_KEY = "INSERT INTO api_keys (id, actor_id, label, secret_hash) VALUES ($1, $2, $3, $4)"
_RAW_PERSON = "INSERT INTO people (id, email, name) VALUES ($1, $2, $3)"
_RAW_MEMBER = "INSERT INTO memberships (actor_id, person_id, role) VALUES ($1, $2, 'admin')"
_RAW_LINK = """INSERT INTO sign_in_links (token_hash, person_id, created_at, expires_at)
    VALUES ($1, $2, $3, $4)"""
_RAW_OUTBOX = """INSERT INTO outbox (event_id, topic, key, event_type, payload, headers)
    VALUES ($1, $2, $3, $4, $5, $6)"""


@dataclass(frozen=True)
class RawRows:
    """The values of the rows one registration writes, computed before the clock starts."""

    actor: tuple[Any, ...]
    key: tuple[Any, ...]
    person: tuple[Any, ...]
    member: tuple[Any, ...]
    link: tuple[Any, ...]
    outbox: tuple[Any, ...]


def raw_rows(draft: ActorRegistration) -> RawRows:
    now = datetime.now(UTC)
    actor = domain.register(draft, actor_id=uuid.uuid4(), now=now)
    loc = actor.location
    key_id, _, digest = domain.new_api_key()
    event = new_event(
        ActorRegisteredV1(**domain.state(actor)),
        subject=str(actor.id), territory=str(actor.territory_id), source="/mcvt/actors",
    )  # fmt: skip
    headers = {k: v.decode() for k, v in record_headers(event)}
    actor_row: tuple[Any, ...] = (
        actor.id, actor.territory_id, str(actor.kind), actor.name, actor.email, actor.phone,
        loc.lat if loc else None, loc.lon if loc else None, loc.commune if loc else None,
        actor.description, actor.siret, str(actor.status), [], 1, now, now,
    )  # fmt: skip
    payload = event.model_dump_json().encode()
    person_id = uuid.uuid4()
    _, link_digest = people.new_secret()
    return RawRows(
        actor=actor_row,
        key=(key_id, actor.id, "first key", digest),
        person=(person_id, actor.email, ""),
        member=(actor.id, person_id),
        link=(link_digest, person_id, now, people.link_expiry(now)),
        outbox=(event.id, str(Topic.ACTORS), event.subject, event.type, payload, headers),
    )


async def insert_raw(pool: asyncpg.Pool, rows: RawRows) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_RAW_ACTOR, *rows.actor)
        await conn.execute(_RAW_KEY, *rows.key)
        await conn.execute(_RAW_PERSON, *rows.person)
        await conn.execute(_RAW_MEMBER, *rows.member)
        await conn.execute(_RAW_LINK, *rows.link)
        await conn.execute(_RAW_OUTBOX, *rows.outbox)


async def post_registration(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await client.post("/v1/actors", json=body)
    if response.status_code != 201:
        raise RuntimeError(f"registration failed: {response.status_code} {response.text}")


async def http_rate(
    settings: ActorsSettings, territory_id: uuid.UUID, count: int, concurrency: int
) -> float:
    """Registrations per second through POST /v1/actors on an in-process ASGI client."""
    async with LifespanManager(build_app(settings), startup_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://actors") as client:
            warm = [registration(territory_id, n) for n in range(100)]
            await run_concurrently(
                [functools.partial(post_registration, client, b) for b in warm], concurrency
            )
            bodies = [registration(territory_id, n) for n in range(count)]
            jobs = [functools.partial(post_registration, client, body) for body in bodies]
            return count / await run_concurrently(jobs, concurrency)


@dataclass
class PairedRates:
    """Registrations per second of register_actor and of raw inserts, over alternated rounds."""

    handler: float
    raw: float
    round_ratios: list[float]  # handler/raw per round: how much background load moved them

    @property
    def ratio(self) -> float:
        return self.handler / self.raw


async def handler_and_raw_rates(
    pool: asyncpg.Pool, territory_id: uuid.UUID, count: int, concurrency: int, rounds: int
) -> PairedRates:
    """Time register_actor and raw inserts in alternated rounds, so that both see the same load."""
    per_round = max(1, count // rounds)
    handler_s = raw_s = 0.0
    ratios = []
    ctx = Context("/mcvt/actors")
    for round_no in range(rounds + 1):  # round 0 warms both paths up and is not counted
        drafts = [
            ActorRegistration.model_validate(registration(territory_id, n))
            for n in range(per_round)
        ]
        prepared = [  # other SIRETs: one organisation registers once per territory
            raw_rows(ActorRegistration.model_validate(registration(territory_id, n)))
            for n in range(per_round)
        ]
        handler_jobs = [functools.partial(register_actor, pool, d, ctx) for d in drafts]
        raw_jobs = [functools.partial(insert_raw, pool, rows) for rows in prepared]
        h = await run_concurrently(handler_jobs, concurrency)
        r = await run_concurrently(raw_jobs, concurrency)
        if round_no > 0:
            handler_s, raw_s = handler_s + h, raw_s + r
            ratios.append(r / h)
    done = per_round * rounds
    return PairedRates(done / handler_s, done / raw_s, ratios)


async def bench_registrations(
    report: Report, url: str, bootstrap: str, args: argparse.Namespace
) -> None:
    pool = await create_pool(url)
    try:
        territory_id, _, _ = await bootstrap_territory(
            pool, "Vallée de la Drôme", None, Context("/mcvt/actors")
        )
        # One client address registers thousands: the limits against mass sign-ups are lifted.
        settings = ActorsSettings(
            database_url=url,
            kafka_bootstrap_servers=bootstrap,
            run_background=False,
            rate_limit_sensitive="1000000/minute",
            rate_limit_per_address="1000000/minute",
        )
        progress("(1a) HTTP API, relay off")
        http_off = await http_rate(settings, territory_id, args.registrations, args.concurrency)
        report.add(
            "(1a) registrations/s, HTTP API, relay off",
            f"{http_off:,.0f}/s",
            "in-process ASGI client",
        )
        progress("(1a) HTTP API, relay running")
        settings = settings.model_copy(update={"run_background": True})
        http_on = await http_rate(settings, territory_id, args.registrations, args.concurrency)
        report.add("(1a) registrations/s, HTTP API, relay on", f"{http_on:,.0f}/s", "as deployed")
        progress("(1b, 1c) register_actor and raw inserts, alternated rounds")
        rates = await handler_and_raw_rates(
            pool, territory_id, args.registrations, args.concurrency, args.rounds
        )
        report.add(
            "(1b) registrations/s, register_actor", f"{rates.handler:,.0f}/s", "no HTTP, relay off"
        )
        report.add(
            "(1c) registrations/s, raw asyncpg",
            f"{rates.raw:,.0f}/s",
            "same 6 rows, values prepared",
        )
        spread = sorted(rates.round_ratios)
        report.add(
            "(1) ratio (b)/(c)",
            f"{rates.ratio:.2f}",
            f"{args.rounds} rounds: median {statistics.median(spread):.2f}, "
            f"{spread[0]:.2f}-{spread[-1]:.2f}",
        )
        report.target("(1) register_actor / raw", rates.ratio, 0.7, at_least=True)
    finally:
        await pool.close()


# --- (2) relay drain ------------------------------------------------------------------------------


async def write_backlog(pool: asyncpg.Pool, count: int, writers: int) -> float:
    """Fill the outbox with `count` events, one per transaction; return events per second.

    The events live only here: a relay's process does not hold its writers' objects, and
    keeping them alive would slow its garbage collections down.
    """
    events = [actor_event(n) for n in range(count)]
    jobs = [functools.partial(write_event, pool, event) for event in events]
    return count / await run_concurrently(jobs, writers)


async def drain_backlog(pool: asyncpg.Pool, producer: AIOKafkaProducer, count: int) -> float:
    """Run a relay until it has published and marked `count` events; return events per second."""
    relay = OutboxRelay(pool, producer)
    start = time.perf_counter()
    async with running(relay):
        await poll_until(lambda: relay.published >= count, limit_s=600)
    rate = relay.published / (time.perf_counter() - start)
    left = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    if left:
        raise RuntimeError(f"{left} events left unpublished")
    return rate


async def bench_drain(report: Report, url: str, bootstrap: str, args: argparse.Namespace) -> None:
    pool = await create_pool(url)
    producer = make_producer(ServiceSettings(kafka_bootstrap_servers=bootstrap))
    await producer.start()
    try:
        await pool.execute("TRUNCATE outbox")  # only this backlog from here on
        progress(f"(2) writing {args.backlog:,} events, {args.writers} writers")
        write_rate = await write_backlog(pool, args.backlog, args.writers)
        note = f"{args.writers} writers, 1 event/txn"
        report.add("(2) outbox write rate", f"{write_rate:,.0f} events/s", note)
        progress("(2) draining")
        drain_rate = await drain_backlog(pool, producer, args.backlog)
        note = f"{args.backlog:,} backlog, acked and marked"
        report.add("(2) relay drain rate", f"{drain_rate:,.0f} events/s", note)
        report.add("(2) ratio drain/write", f"{drain_rate / write_rate:.1f}x")
        report.target("(2) drain / write", drain_rate / write_rate, 5, at_least=True)
    finally:
        await producer.stop()
        await pool.close()


# --- (3) latency ----------------------------------------------------------------------------------


@dataclass
class Receipts:
    """When each consumer received each event id (perf_counter seconds)."""

    plain: dict[str, float] = field(default_factory=dict)
    runtime: dict[str, float] = field(default_factory=dict)

    def have(self, ids: Sequence[str]) -> bool:
        return all(i in self.plain and i in self.runtime for i in ids)


async def plain_consumer(
    bootstrap: str, topics: Sequence[str], receipts: Receipts, ready: asyncio.Event
) -> None:
    """Read every partition from its end, without a group; note each record's ce_id.

    Tansu answers a waiting fetch only when its wait runs out, not when a record arrives, so the
    client's default 500 ms wait would swamp what is measured: this consumer waits 10 ms.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=PLAIN_FETCH_WAIT_MS
    )
    await consumer.start()
    try:
        await consumer.topics()  # loads the metadata
        consumer.assign(
            [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        )
        await consumer.seek_to_end()
        ready.set()
        async for record in consumer:
            now = time.perf_counter()
            ce_id = dict(record.headers).get("ce_id")
            if ce_id:
                receipts.plain[ce_id.decode()] = now
    finally:
        await consumer.stop()


@contextlib.asynccontextmanager
async def runtime_consumer(
    pool: asyncpg.Pool, producer: AIOKafkaProducer, bootstrap: str, receipts: Receipts
) -> AsyncIterator[None]:
    """The runtime's consumer path: FastStream group, parse, inbox insert, then the handler.

    It subscribes with the runtime's own options, hence the client's default fetch wait: on
    Tansu its figures measure mostly that wait.
    """

    consumer = EventConsumer(LATENCY_GROUP)

    @consumer.on(ActorRegisteredV1)
    async def on_event(
        conn: Connection, event: CloudEvent[ActorRegisteredV1], ctx: Context
    ) -> None:
        receipts.runtime[event.id] = time.perf_counter()

    broker = KafkaBroker(bootstrap, logger=logging.getLogger("bench.broker"))
    runtime = ConsumerRuntime(pool=pool, producer=producer, source="/mcvt/bench")
    subscribe(broker, consumer, runtime)
    await broker.start()
    try:
        yield
    finally:
        await broker.stop()


async def paced(count: int, rate: float, send: Callable[[int], Awaitable[float]]) -> list[float]:
    """Call send(i) at a steady rate; return the start time each send reports."""
    start = time.perf_counter()
    sent = []
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent.append(await send(i))
    return sent


def latencies_ms(
    ids: Sequence[str], sent: Sequence[float], received: dict[str, float]
) -> list[float]:
    return [(received[i] - t) * 1000 for i, t in zip(ids, sent, strict=True) if i in received]


@dataclass
class Senders:
    """The two ways of getting an event to the consumers; each returns when its clock starts."""

    pool: asyncpg.Pool
    producer: AIOKafkaProducer

    async def outbox(self, events: Sequence[CloudEvent[Any]], i: int) -> float:
        await write_event(self.pool, events[i])
        return time.perf_counter()  # just after the commit returned

    async def raw(self, events: Sequence[CloudEvent[Any]], i: int) -> float:
        event = events[i]
        value, headers = event.model_dump_json().encode(), record_headers(event)
        start = time.perf_counter()  # the record is ready, as a committed outbox row is
        await self.producer.send_and_wait(
            ROUNDTRIP_TOPIC, value=value, key=event.subject.encode(), headers=headers
        )
        return start


# Latencies of one path: (to the plain consumer, to the runtime consumer), in ms.
Latencies = tuple[list[float], list[float]]


async def measure(
    send: Callable[..., Awaitable[float]], receipts: Receipts, count: int, rate: float
) -> Latencies:
    events = [actor_event(n) for n in range(count)]
    ids = [e.id for e in events]
    sent = await paced(count, rate, functools.partial(send, events))
    if not await poll_until(lambda: receipts.have(ids), limit_s=30):
        raise RuntimeError("some events did not reach both consumers within 30 s")
    return latencies_ms(ids, sent, receipts.plain), latencies_ms(ids, sent, receipts.runtime)


async def bench_latency(report: Report, url: str, bootstrap: str, args: argparse.Namespace) -> None:
    pool = await create_pool(url)
    relay_producer = make_producer(ServiceSettings(kafka_bootstrap_servers=bootstrap))
    raw_producer = make_producer(ServiceSettings(kafka_bootstrap_servers=bootstrap))
    await relay_producer.start()
    await raw_producer.start()
    senders = Senders(pool, raw_producer)
    receipts, ready = Receipts(), asyncio.Event()
    topics = (str(Topic.ACTORS), ROUNDTRIP_TOPIC)
    reader = asyncio.create_task(plain_consumer(bootstrap, topics, receipts, ready))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        relay = OutboxRelay(pool, relay_producer)  # polls every second: NOTIFY is what wakes it
        async with runtime_consumer(pool, relay_producer, bootstrap, receipts), running(relay):
            progress("(3) warming up until both consumers receive events from both paths")
            await measure(senders.raw, receipts, 20, 50)
            await measure(senders.outbox, receipts, 20, 50)
            progress(f"(3) raw: {args.latency_events} events at {args.rate:g}/s")
            raw = await measure(senders.raw, receipts, args.latency_events, args.rate)
            progress(f"(3) outbox: {args.latency_events} events at {args.rate:g}/s")
            outbox = await measure(senders.outbox, receipts, args.latency_events, args.rate)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await raw_producer.stop()
        await relay_producer.stop()
        await pool.close()
    pace = f"{args.latency_events} events at {args.rate:g}/s"
    for index, consumer in enumerate(("plain aiokafka consumer", "runtime consumer")):
        report_latency(report, consumer, raw[index], outbox[index], pace)


def report_latency(
    report: Report, consumer: str, raw: list[float], outbox: list[float], pace: str
) -> None:
    p50 = {"raw": percentile(raw, 0.5), "outbox": percentile(outbox, 0.5)}
    p99 = {"raw": percentile(raw, 0.99), "outbox": percentile(outbox, 0.99)}
    for name, label in (("raw", "raw send_and_wait"), ("outbox", "outbox commit")):
        report.add(
            f"(3) {label} -> {consumer}", f"p50 {p50[name]:.1f} ms, p99 {p99[name]:.1f} ms", pace
        )
    ratio50, ratio99 = p50["outbox"] / p50["raw"], p99["outbox"] / p99["raw"]
    report.add(f"(3) ratio outbox/raw, {consumer}", f"p50 {ratio50:.1f}x, p99 {ratio99:.1f}x")
    report.target(f"(3) p99 outbox / raw, {consumer}", ratio99, 5, at_least=False)


# --- the run --------------------------------------------------------------------------------------


async def postgres_setting(url: str) -> str:
    """The server settings that bound commit rates."""
    conn = await asyncpg.connect(url)
    try:
        values = [
            f"{name} {await conn.fetchval(f'SHOW {name}')}"
            for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers")
        ]
    finally:
        await conn.close()
    return "PostgreSQL: " + ", ".join(values)


def load_average() -> str:
    """Other work on the machine skews every figure: show how busy it was before this run."""
    one, five, _ = os.getloadavg()
    return f"load average before the run: {one:.2f} (1 min), {five:.2f} (5 min)"


async def bench(server: str, bootstrap: str, args: argparse.Namespace) -> Report:
    name = f"mcvt_bench_{uuid.uuid4().hex[:10]}"
    report = Report()
    url = await create_database(server, name)
    try:
        actors = actors_spec(ActorsSettings())
        await migrate(url, actors.name, actors.migrations)
        report.setting.append(await postgres_setting(url))
        report.setting.append(load_average())
        topics = [str(Topic.ACTORS), ROUNDTRIP_TOPIC, dead_letter_topic(LATENCY_GROUP)]
        await ensure_topics(bootstrap, topics, PARTITIONS)
        # Latency first, while the topics are empty and the machine is quiet.
        await bench_latency(report, url, bootstrap, args)
        await bench_registrations(report, url, bootstrap, args)
        await bench_drain(report, url, bootstrap, args)
    finally:
        await drop_database(server, name)
    return report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--registrations", type=int, default=3000, help="per path in (1)")
    parser.add_argument("--rounds", type=int, default=6, help="alternated rounds of (1b)/(1c)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight in (1)")
    parser.add_argument("--backlog", type=int, default=20_000, help="events in (2)")
    parser.add_argument("--writers", type=int, default=32, help="concurrent writers in (2)")
    parser.add_argument("--latency-events", type=int, default=1000, help="events per path in (3)")
    parser.add_argument("--rate", type=float, default=100.0, help="events per second in (3)")
    return parser.parse_args(argv)


def run_on_local_stack(
    name: str,
    bench: Callable[[str, str, argparse.Namespace], Coroutine[Any, Any, Report]],
    args: argparse.Namespace,
) -> None:
    """Run `bench(server, bootstrap, args)` on this machine's PostgreSQL and a fresh Tansu."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run_dir = ROOT / ".run"
    run_dir.mkdir(exist_ok=True)
    server = server_url(os.environ.get("DATABASE_URL"), run_dir / "bench-postgres")
    progress("starting Tansu")
    with start_tansu(log_path=run_dir / "bench-tansu.log") as tansu:
        report = asyncio.run(bench(server, tansu.bootstrap_servers, args))
    report.print(
        f"{name} benchmark: Tansu (memory) and PostgreSQL on this machine "
        f"({os.cpu_count()} cores shared by the broker, PostgreSQL and Python)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    run_on_local_stack("backbone", bench, parse_args(argv))


if __name__ == "__main__":
    main()
