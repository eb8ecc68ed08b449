"""The transactional outbox against a real PostgreSQL and a real Kafka-protocol broker."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from aiokafka.errors import KafkaError

from services.runtime.context import Context
from services.runtime.outbox import OutboxRelay, emit, enqueue
from tests.runtime.conftest import actor_event, new_subject
from tests.support import events_of, eventually, read_topic


class Rollback(Exception):
    pass


async def unpublished(pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay):
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_event_reaches_the_broker_after_commit_and_never_for_a_rollback(
    outbox_pool, producer, kafka
) -> None:
    subject = new_subject()
    first, rolled_back, last = (actor_event(subject, n) for n in ("first", "rolled back", "last"))
    async with running(OutboxRelay(outbox_pool, producer, poll_interval_s=0.1)):
        async with outbox_pool.acquire() as conn, conn.transaction():
            await enqueue(conn, first)
            await asyncio.sleep(0.5)  # the relay is awake but cannot see an uncommitted row
            on_topic = await read_topic(kafka, "mcvt.actors", until=lambda _: False, timeout=0.5)
            assert events_of(on_topic, subject=subject) == []
        with pytest.raises(Rollback):
            async with outbox_pool.acquire() as conn, conn.transaction():
                await enqueue(conn, rolled_back)
                raise Rollback
        async with outbox_pool.acquire() as conn, conn.transaction():
            await enqueue(conn, last)
        # One key, one partition: once `last` is there, anything enqueued before it is too.
        records = await read_topic(
            kafka, "mcvt.actors", until=lambda rs: bool(events_of(rs, id=last.id))
        )
    assert [e["id"] for e in events_of(records, subject=subject)] == [first.id, last.id]
    assert await unpublished(outbox_pool) == 0


async def test_records_carry_key_and_cloudevent_headers(outbox_pool, producer, kafka) -> None:
    subject = new_subject()
    # One key: the second record joins the first one's batch and must keep its own headers.
    events = [actor_event(subject, "keyed"), actor_event(subject, "batched")]
    async with outbox_pool.acquire() as conn:
        await enqueue(conn, *events)
        assert await OutboxRelay(outbox_pool, producer).drain_once(conn) == 2
    records = await read_topic(
        kafka, "mcvt.actors", until=lambda rs: sum(r.key == subject.encode() for r in rs) >= 2
    )
    ours = [r for r in records if r.key == subject.encode()]
    assert len(ours) == 2
    for record, event in zip(ours, events, strict=True):
        headers = dict(record.headers)
        assert headers["ce_id"] == event.id.encode()
        assert headers["ce_type"] == b"mcvt.actor.registered.v1"
        assert headers["content-type"] == b"application/cloudevents+json"
        assert headers["correlation_id"] == event.correlationid.encode()


async def test_emit_writes_the_envelope_of_the_context(outbox_pool) -> None:
    payload = actor_event(new_subject(), "emitted").data
    ctx = Context("/mcvt/actors", correlation_id="flow-1", causation_id="cause-1", actor_id="a-1")
    async with outbox_pool.acquire() as conn:
        event = await emit(conn, payload, subject="s-1", territory="t-1", ctx=ctx)
        row = await conn.fetchrow("SELECT * FROM outbox")
    assert (event.source, event.correlationid, event.causationid, event.actorid) == (
        "/mcvt/actors",
        "flow-1",
        "cause-1",
        "a-1",
    )
    assert (event.subject, event.territory, event.type) == ("s-1", "t-1", payload.event_type)
    assert event.data == payload
    assert (str(row["event_id"]), row["key"], row["topic"]) == (event.id, "s-1", "mcvt.actors")
    assert json.loads(row["payload"]) == json.loads(event.model_dump_json())


class Crash(Exception):
    """The relay process dying between the broker's acknowledgement and the mark."""


async def test_relay_crash_after_ack_before_mark_republishes(outbox_pool, producer, kafka) -> None:
    subject = new_subject()
    event = actor_event(subject, "crash")
    async with outbox_pool.acquire() as conn:
        await enqueue(conn, event)

    async def crash(rows) -> None:
        raise Crash

    async with outbox_pool.acquire() as conn:
        with pytest.raises(Crash):
            await OutboxRelay(outbox_pool, producer, before_mark=crash).drain_once(conn)
    assert await unpublished(outbox_pool) == 1  # acknowledged by the broker, not marked

    async with outbox_pool.acquire() as conn:
        assert await OutboxRelay(outbox_pool, producer).drain_once(conn) == 1
    assert await unpublished(outbox_pool) == 0
    records = await read_topic(
        kafka, "mcvt.actors", until=lambda rs: len(events_of(rs, id=event.id)) >= 2
    )
    assert len(events_of(records, id=event.id)) == 2  # at-least-once: the consumer's inbox dedupes


async def test_only_one_relay_is_active_per_database(outbox_pool, producer) -> None:
    first = OutboxRelay(outbox_pool, producer, poll_interval_s=0.05)
    second = OutboxRelay(outbox_pool, producer, poll_interval_s=0.05)
    async with running(first):
        for _ in range(100):
            if first.active:
                break
            await asyncio.sleep(0.02)
        async with running(second):
            await asyncio.sleep(0.3)
            assert first.active and not second.active
        assert first.active
    assert not first.active


async def test_a_relay_woken_as_it_is_cancelled_stops(outbox_pool, producer) -> None:
    relay = OutboxRelay(outbox_pool, producer, poll_interval_s=30)
    task = asyncio.create_task(relay.run())
    await eventually(lambda: relay.active)
    await asyncio.sleep(0.2)  # its first drain found nothing: it waits for a notification
    # A notification landing as the service stops (what the relay's listener does with it).
    relay._wake.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(5):
            await task


async def test_batches_drain_a_backlog_in_order(outbox_pool, producer, kafka) -> None:
    subject = new_subject()
    events = [actor_event(subject, f"n{i}") for i in range(2500)]
    async with outbox_pool.acquire() as conn, conn.transaction():
        await enqueue(conn, *events)
    relay = OutboxRelay(outbox_pool, producer, batch_size=1000)
    async with outbox_pool.acquire() as conn:
        drained = [await relay.drain_once(conn) for _ in range(4)]
    assert drained == [1000, 1000, 500, 0]
    assert relay.published == 2500
    last = events[-1].id
    records = await read_topic(kafka, "mcvt.actors", until=lambda rs: bool(events_of(rs, id=last)))
    assert [e["id"] for e in events_of(records, subject=subject)] == [e.id for e in events]


async def test_a_running_relay_drains_a_backlog_without_waiting_between_batches(
    outbox_pool, producer
) -> None:
    events = [actor_event(new_subject(), f"n{i}") for i in range(35)]
    # Far longer than the test waits: only the NOTIFY and the full batches keep it going.
    relay = OutboxRelay(outbox_pool, producer, batch_size=10, poll_interval_s=30)
    async with running(relay):
        for _ in range(100):
            if relay.active:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # listening
        async with outbox_pool.acquire() as conn, conn.transaction():
            await enqueue(conn, *events)
        for _ in range(100):
            if not await unpublished(outbox_pool):
                break
            await asyncio.sleep(0.05)
    assert await unpublished(outbox_pool) == 0
    assert relay.published == 35


async def test_a_running_relay_polls_for_rows_whose_notification_it_missed(
    outbox_pool, producer
) -> None:
    relay = OutboxRelay(outbox_pool, producer, poll_interval_s=0.1)
    async with running(relay):
        async with outbox_pool.acquire() as conn, conn.transaction():
            # The replica role skips the table's triggers, so this insert sends no NOTIFY.
            await conn.execute("SET LOCAL session_replication_role = replica")
            await enqueue(conn, actor_event(new_subject(), "silent"))
        for _ in range(100):
            if not await unpublished(outbox_pool):
                break
            await asyncio.sleep(0.05)
    assert await unpublished(outbox_pool) == 0


async def test_a_running_relay_carries_on_after_a_failed_drain(outbox_pool, producer) -> None:
    failures = 0

    async def fails_once(rows) -> None:
        nonlocal failures
        if not failures:
            failures += 1
            raise Crash

    async with outbox_pool.acquire() as conn:
        await enqueue(conn, actor_event(new_subject(), "retried"))
    relay = OutboxRelay(outbox_pool, producer, poll_interval_s=0.05, before_mark=fails_once)
    async with running(relay):
        for _ in range(100):
            if not await unpublished(outbox_pool):
                break
            await asyncio.sleep(0.05)
    assert failures == 1
    assert await unpublished(outbox_pool) == 0


async def test_a_running_relay_deletes_old_published_rows_now_and_then(
    outbox_pool, producer
) -> None:
    async with outbox_pool.acquire() as conn:
        await enqueue(conn, actor_event(new_subject(), "old"))
        await conn.execute("UPDATE outbox SET published_at = now() - interval '2 hours'")
    relay = OutboxRelay(
        outbox_pool, producer, poll_interval_s=0.05, retention_s=3600, cleanup_every_s=0.1
    )
    async with running(relay):
        for _ in range(100):
            if not await outbox_pool.fetchval("SELECT count(*) FROM outbox"):
                break
            await asyncio.sleep(0.05)
    assert await outbox_pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_cleanup_deletes_only_old_published_rows(outbox_pool, producer) -> None:
    async with outbox_pool.acquire() as conn:
        await enqueue(
            conn, actor_event(new_subject(), "old"), actor_event(new_subject(), "pending")
        )
        await conn.execute(
            "UPDATE outbox SET published_at = now() - interval '8 days' "
            "WHERE seq = (SELECT min(seq) FROM outbox)"
        )
        relay = OutboxRelay(outbox_pool, producer, retention_s=7 * 24 * 3600)
        assert await relay.cleanup(conn) == 1
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 1


async def test_rows_stay_unpublished_until_the_broker_acknowledges(
    outbox_pool, producer, kafka, tansu
) -> None:
    if tansu is None:
        pytest.skip("needs the Tansu broker the tests start, to pause it")
    events = [actor_event(new_subject(), f"n{i}") for i in range(3)]
    async with outbox_pool.acquire() as conn:
        await enqueue(conn, *events)
    await producer.partitions_for("mcvt.actors")  # metadata known: the sends go out at once
    relay = OutboxRelay(outbox_pool, producer)
    tansu.pause()
    try:
        async with outbox_pool.acquire() as conn:
            draining = asyncio.create_task(relay.drain_once(conn))
            await asyncio.sleep(1.5)
            assert not draining.done()  # waiting for the acknowledgements
            assert await unpublished(outbox_pool) == 3
            tansu.resume()
            assert await asyncio.wait_for(draining, 30) == 3
    finally:
        tansu.resume()
    assert await unpublished(outbox_pool) == 0
    wanted = {e.id for e in events}  # three keys: they may lie in different partitions
    records = await read_topic(
        kafka, "mcvt.actors", until=lambda rs: wanted <= {e["id"] for e in events_of(rs)}
    )
    assert wanted <= {e["id"] for e in events_of(records)}


class Refusing:
    """A producer whose every batch the broker refuses (its future fails)."""

    def __init__(self, producer) -> None:
        self._producer = producer

    def __getattr__(self, name: str):
        return getattr(self._producer, name)

    async def send_batch(self, batch, topic: str, *, partition: int) -> asyncio.Future[None]:
        refused: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        refused.set_exception(KafkaError(f"{topic}[{partition}] refused"))
        return refused


async def test_rows_stay_unpublished_when_the_broker_refuses_them(outbox_pool, producer) -> None:
    async with outbox_pool.acquire() as conn:
        await enqueue(conn, actor_event(new_subject(), "refused"))
        with pytest.raises(KafkaError):
            await OutboxRelay(outbox_pool, Refusing(producer)).drain_once(conn)
        assert await unpublished(outbox_pool) == 1
        assert await OutboxRelay(outbox_pool, producer).drain_once(conn) == 1
    assert await unpublished(outbox_pool) == 0
