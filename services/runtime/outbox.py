"""Transactional outbox: `enqueue` inside the state change's transaction, `OutboxRelay` publishes.

The relay holds a session advisory lock (one active relay per service database; other replicas
wait as standbys), wakes on LISTEN/NOTIFY with a polling fallback, claims unpublished rows in
`seq` order with FOR UPDATE SKIP LOCKED, sends them keyed by aggregate id in one record batch
per partition (never one awaited send per message), awaits every acknowledgement, then marks
the rows in the same transaction. A crash between the broker's acknowledgement and the mark
republishes the rows: delivery is at-least-once and consumers' inboxes make the effect
exactly-once. Each row carries in its headers the W3C trace context of the span that enqueued
it, so the trace continues in every consumer (services/runtime/tracing.py).

A row the broker cannot take, bigger than `max_record_bytes` or refused by the broker as too
large, is parked (`parked_at`, `parked_reason`), logged as an error and counted in `parked`,
instead of being retried for ever in front of every row behind it. Its key's later rows are
still sent: a consumer sees a version gap there, which the parked row's log explains.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError, RecordTooLargeError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from opentelemetry import propagate

from contracts.envelope import CONTENT_TYPE, CloudEvent, EventPayload, new_event
from services.runtime.context import Context
from services.runtime.db import Connection
from services.runtime.waits import until_set

log = logging.getLogger(__name__)

_INSERT = """
INSERT INTO outbox (event_id, topic, key, event_type, payload, headers)
VALUES ($1, $2, $3, $4, $5, $6)
"""
_CLAIM = """
SELECT seq, event_id, topic, key, payload, headers FROM outbox
WHERE published_at IS NULL AND parked_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED
"""
_MARK = "UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[])"
_PARK = "UPDATE outbox SET parked_at = now(), parked_reason = $2 WHERE seq = $1"
# What the broker refuses as too large, from its answer or from the producer's own check.
_TOO_LARGE = (MessageSizeTooLargeError, RecordTooLargeError)
_CLEANUP = """
DELETE FROM outbox WHERE seq IN (
    SELECT seq FROM outbox WHERE published_at < now() - make_interval(secs => $1) LIMIT 10000)
"""
_RELAY_LOCK = 0x6F7574626F78  # "outbox"
# The producer's own key hashing (murmur2, as the Java client): an aggregate keeps its partition.
_PARTITIONER = DefaultPartitioner()


async def emit(
    conn: Connection,
    payload: EventPayload,
    *,
    subject: object,
    territory: object,
    ctx: Context,
    topic: str | None = None,
) -> CloudEvent[Any]:
    """Wrap a payload in an envelope from `ctx` and write it to the outbox, in the caller's
    transaction. `topic` sends it elsewhere than its contract's topic (a service's internal
    topic), keyed by `subject` all the same."""
    event = envelope(payload, subject=subject, territory=territory, ctx=ctx)
    await enqueue(conn, event, topic=topic)
    return event


def envelope(
    payload: EventPayload, *, subject: object, territory: object, ctx: Context
) -> CloudEvent[Any]:
    """A payload in a fresh envelope from `ctx`: what `emit` writes; `enqueue` writes many."""
    return new_event(
        payload,
        subject=str(subject),
        territory=str(territory),
        source=ctx.source,
        correlation_id=ctx.correlation_id,
        causation_id=ctx.causation_id,
        actor_id=ctx.actor_id,
    )


def _row(event: CloudEvent[Any], topic: str | None = None) -> tuple[Any, ...]:
    headers: dict[str, str | None] = {
        "content-type": CONTENT_TYPE,
        "ce_id": event.id,
        "ce_type": event.type,
        "correlation_id": event.correlationid,
    }
    # W3C traceparent/tracestate of the current span (none when tracing is off): the trace of
    # the request or consumer that enqueues the event continues in its consumers.
    propagate.inject(headers)
    topic = topic or str(event.data.topic)
    return (event.id, topic, event.subject, event.type, event.model_dump_json().encode(), headers)


async def enqueue(conn: Connection, *events: CloudEvent[Any], topic: str | None = None) -> None:
    """Write events to the outbox (to `topic` if given, else each to its contract's topic).
    Call inside the transaction that makes the state change."""
    if len(events) == 1:
        await conn.execute(_INSERT, *_row(events[0], topic))
    elif events:
        await conn.executemany(_INSERT, [_row(event, topic) for event in events])


BeforeMark = Callable[[Sequence[asyncpg.Record]], Awaitable[None]]


async def forget_published(conn: Connection, key: str) -> int:
    """Delete the published rows of one aggregate (an RGPD erasure: they hold its past states);
    rows not yet published stay, so that every consumer still hears of the erasure in order."""
    status = await conn.execute(
        "DELETE FROM outbox WHERE key = $1 AND published_at IS NOT NULL", key
    )
    return int(status.split()[-1])


def _record_size(row: asyncpg.Record) -> int:
    """About what the row weighs as a Kafka record: key, value and headers."""
    headers = sum(len(k) + len(str(v)) for k, v in row["headers"].items())
    return len(row["key"]) + len(row["payload"]) + headers


class OutboxRelay:
    """Publishes the outbox of one service database to Kafka (see the module docstring)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 1000,
        poll_interval_s: float = 1.0,
        retention_s: float = 7 * 24 * 3600,
        cleanup_every_s: float = 60.0,
        max_record_bytes: int = 1_000_000,
        before_mark: BeforeMark | None = None,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._retention_s = retention_s
        self._cleanup_every_s = cleanup_every_s
        self._max_record_bytes = max_record_bytes
        self._before_mark = before_mark  # fault-injection point for tests
        self._wake = asyncio.Event()
        self.published = 0
        self.parked = 0  # rows set aside as too large; a metric to alert on
        self.active = False

    def wake(self) -> None:
        """Ask for a drain now (the NOTIFY listener does this on every committed insert)."""
        self._wake.set()

    async def run(self) -> None:
        """Run until cancelled: wait for the lock, then drain forever; reconnect after errors."""
        while True:
            try:
                async with self._pool.acquire() as conn:
                    await self._hold_lock(conn)
                    try:
                        await self._drain_forever(conn)
                    finally:
                        self.active = False
                        with contextlib.suppress(Exception):
                            await conn.execute("SELECT pg_advisory_unlock($1)", _RELAY_LOCK)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(self._poll_interval_s)

    async def _hold_lock(self, conn: Connection) -> None:
        # Standby replicas poll for the lock: PostgreSQL offers no notification of its release.
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK):  # noqa: ASYNC110
            await asyncio.sleep(self._poll_interval_s)
        self.active = True

    async def _drain_forever(self, conn: Connection) -> None:
        def on_notify(*_: object) -> None:
            self._wake.set()

        await conn.add_listener("outbox", on_notify)
        loop = asyncio.get_running_loop()
        next_cleanup = loop.time() + self._cleanup_every_s
        try:
            while True:
                self._wake.clear()
                if await self.drain_once(conn) == self._batch_size:
                    continue  # more is waiting
                if loop.time() >= next_cleanup:
                    await self.cleanup(conn)
                    next_cleanup = loop.time() + self._cleanup_every_s
                await until_set(self._wake, self._poll_interval_s)
        finally:
            # On a broken connection this fails too: let the error that stopped the drain be
            # the one logged, not this clean-up's.
            with contextlib.suppress(Exception):
                await conn.remove_listener("outbox", on_notify)

    async def drain_once(self, conn: Connection) -> int:
        """Publish one batch of unpublished rows; return how many were handled (published, or
        parked as too large)."""
        async with conn.transaction():
            rows = await conn.fetch(_CLAIM, self._batch_size)
            if not rows:
                return 0
            sendable = []
            for row in rows:
                size = _record_size(row)
                if size > self._max_record_bytes:
                    await self._park(conn, row, f"record of {size} bytes exceeds the maximum")
                else:
                    sendable.append(row)
            try:
                await self._publish(sendable)
            except _TOO_LARGE:
                # One row of the batch is over the broker's own limit: find it by sending alone.
                sendable = await self._publish_one_by_one(conn, sendable)
            if self._before_mark is not None:
                await self._before_mark(sendable)
            await conn.execute(_MARK, [row["seq"] for row in sendable])
        self.published += len(sendable)
        return len(rows)

    async def _publish_one_by_one(
        self, conn: Connection, rows: Sequence[asyncpg.Record]
    ) -> list[asyncpg.Record]:
        """Send each row alone, parking those refused as too large; return the others."""
        sent = []
        for row in rows:
            try:
                await self._publish([row])
            except _TOO_LARGE as refused:
                await self._park(conn, row, f"refused by the broker: {type(refused).__name__}")
            else:
                sent.append(row)
        return sent

    async def _park(self, conn: Connection, row: asyncpg.Record, reason: str) -> None:
        await conn.execute(_PARK, row["seq"], reason)
        self.parked += 1
        log.error(
            "outbox row %s parked (event %s on %s): %s",
            row["seq"],
            row["event_id"],
            row["topic"],
            reason,
        )

    async def _publish(self, rows: Sequence[asyncpg.Record]) -> None:
        """Send the rows in `seq` order and wait until the broker has acknowledged all of them.

        Rows go into one record batch per partition, the one the producer's partitioner gives
        their key: a future per batch rather than per record, whose bookkeeping in the producer
        was most of the relay's CPU time. An empty batch takes any record, even one bigger than
        the batch size; the broker still refuses one bigger than its maximum message size.
        """
        producer = self._producer
        partitions: dict[str, list[int]] = {}
        filling: dict[tuple[str, int], BatchBuilder] = {}
        acks: list[asyncio.Future[Any]] = []
        for row in rows:
            topic, key, value = row["topic"], row["key"].encode(), row["payload"]
            headers = [(k, str(v).encode()) for k, v in row["headers"].items()]
            if topic not in partitions:
                partitions[topic] = sorted(await producer.partitions_for(topic))
            partition = _PARTITIONER(key, partitions[topic], partitions[topic])
            batch = filling.get((topic, partition))
            if batch is not None:
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is not None:
                    continue
                # Full: submit it before anything later for this partition.
                acks.append(await producer.send_batch(batch, topic, partition=partition))
            batch = filling[(topic, partition)] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                raise RuntimeError(f"outbox row {row['seq']} does not fit in an empty batch")
        for (topic, partition), batch in filling.items():
            acks.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*acks)

    async def cleanup(self, conn: Connection) -> int:  # parked rows stay, for an operator
        """Delete published rows older than the retention; return how many."""
        status = await conn.execute(_CLEANUP, self._retention_s)
        return int(status.split()[-1])
