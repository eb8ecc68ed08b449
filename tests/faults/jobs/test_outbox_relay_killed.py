"""The outbox relay killed (SIGKILL) between the broker's acknowledgement of a batch and the
marking of its rows: the rows stay unpublished, the service started again publishes them a second
time (at-least-once), and a consumer whose handler is not idempotent by itself still applies each
event once, through its inbox.

The window is made wide and certain with locks: the test holds the relay's advisory lock while
the needs are written (the relay waits as a standby), then holds `outbox` in SHARE mode, which
lets the relay's claim (FOR UPDATE) through and stops its UPDATE; it lets the relay go, sees the
records on the broker and the relay waiting on its UPDATE, and kills the process there."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord
from faststream.kafka import KafkaBroker

from contracts.envelope import CloudEvent
from contracts.needs import NeedPublishedV1
from contracts.topics import Topic
from services.runtime.consumer import ConsumerRuntime, EventConsumer, subscribe
from services.runtime.context import Context
from services.runtime.db import Connection
from services.runtime.outbox import _RELAY_LOCK
from tests.faults.jobs.steps import as_process, gone, held, waiting_on_a_lock
from tests.harness import Databases, Stack
from tests.scenario import Member, need_for, new_member, new_territory
from tests.support import eventually, read_topic

NEEDS = 10
MARK = "UPDATE outbox SET published_at"


@contextlib.asynccontextmanager
async def counting_consumer(
    kafka: str, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> AsyncIterator[ConsumerRuntime]:
    """A group of its own on mcvt.needs whose handler appends a row per run: only the inbox
    keeps a second delivery of an event from leaving a second row."""
    await pool.execute("CREATE TABLE effects (event_id text NOT NULL, need_id text NOT NULL)")
    consumer = EventConsumer(f"test.relay-kill-{uuid.uuid4().hex[:8]}", description="counts")

    @consumer.on(NeedPublishedV1)
    async def count(conn: Connection, event: CloudEvent[NeedPublishedV1], ctx: Context) -> None:
        await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, event.data.need_id)

    runtime = ConsumerRuntime(
        pool=pool,
        producer=producer,
        source="/mcvt/test",
        retry_backoff_s=0.01,
        session_timeout_ms=2000,
        fetch_max_wait_ms=20,
    )
    broker = KafkaBroker(kafka)
    subscribe(broker, consumer, runtime)
    await broker.start()
    try:
        yield runtime
    finally:
        await broker.stop()


async def post_need(client: httpx.AsyncClient, member: Member) -> str:
    """Publish a need once offers heard of the member (401 until its access read model has it)."""

    async def posted() -> str | None:
        response = await client.post("/v1/needs", json=need_for(), headers=member.headers)
        if response.status_code == 401:
            return None
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    return str(await eventually(posted, timeout=30, interval=0.2))


async def on_the_broker(kafka: str, need_ids: set[str], copies: int) -> dict[str, int]:
    """How many NeedPublished records of each need are on mcvt.needs, once each has `copies`."""

    def count(records: list[ConsumerRecord[bytes, bytes]]) -> dict[str, int]:
        seen: dict[str, int] = dict.fromkeys(need_ids, 0)
        for record in records:
            if dict(record.headers).get("ce_type") == NeedPublishedV1.event_type.encode():
                subject = record.key.decode()
                if subject in seen:
                    seen[subject] += 1
        return seen

    records = await read_topic(
        kafka, Topic.NEEDS, until=lambda r: min(count(r).values()) >= copies, timeout=30
    )
    return count(records)


@pytest.mark.long
async def test_relay_killed_after_the_ack_before_the_mark_publishes_again_and_applies_once(
    actors: Stack,
    databases: Databases,
    kafka: str,
    outbox_pool: asyncpg.Pool,
    producer: AIOKafkaProducer,
    tmp_path: Path,
) -> None:
    territory = await new_territory(actors)
    member = await new_member(actors, territory, kind="association", name="Paniers du Diois")
    relay_lock: list[asyncpg.Connection] = []

    async def hold_the_relay(url: str) -> None:
        relay_lock.append(await asyncpg.connect(url))
        assert await relay_lock[0].fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK)

    async with (
        counting_consumer(kafka, outbox_pool, producer) as consumer,
        as_process(actors, databases, "offers", tmp_path, before_start=hold_the_relay) as offers,
    ):
        pool = actors.pool("offers")
        client = actors.offers
        need_ids = {await post_need(client, member) for _ in range(NEEDS)}
        waiting = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        assert waiting >= NEEDS  # the relay stands by: nothing went out

        async with held(pool, "LOCK TABLE outbox IN SHARE MODE"):
            await relay_lock[0].close()  # the relay takes its lock, and the batch
            await waiting_on_a_lock(pool, MARK)
            # Acknowledged by the broker, and consumed, while the rows are not marked yet.
            assert set((await on_the_broker(kafka, need_ids, 1)).values()) == {1}
            await eventually(lambda: consumer.processed >= NEEDS, timeout=30)
            offers.kill()
        await gone(pool, MARK)
        assert (
            await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == waiting
        ), "the killed relay's marks were committed"

        await offers.start()
        await eventually(
            lambda: pool.fetchval("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"),
            timeout=30,
        )
        # At-least-once: every record went out a second time.
        assert set((await on_the_broker(kafka, need_ids, 2)).values()) == {2}
        await eventually(lambda: consumer.processed >= 2 * NEEDS, timeout=30)
        await asyncio.sleep(0.5)  # room for a wrongly applied extra delivery to show
        rows = await outbox_pool.fetch(
            "SELECT need_id, count(*) AS n FROM effects GROUP BY need_id"
        )
        assert {row["need_id"]: row["n"] for row in rows} == dict.fromkeys(need_ids, 1)
