"""A row the broker cannot take is parked, with a log and a count, instead of wedging the relay."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError

from services.runtime.outbox import OutboxRelay, enqueue
from tests.runtime.conftest import actor_event, new_subject
from tests.support import events_of, read_topic

BIG_NAME = "N" * 5000  # makes a record of about 5.5 kB


async def _enqueue_small_big_small(pool) -> tuple[str, str, str]:
    subjects = new_subject(), new_subject(), new_subject()
    names = "before", BIG_NAME, "after"
    async with pool.acquire() as conn:
        for subject, name in zip(subjects, names, strict=True):
            await enqueue(conn, actor_event(subject, name))
    return subjects


async def _parked(pool) -> list[tuple[str, str]]:
    rows = await pool.fetch(
        "SELECT key, parked_reason FROM outbox WHERE parked_at IS NOT NULL ORDER BY seq"
    )
    return [(row["key"], row["parked_reason"]) for row in rows]


async def _reach_the_broker(kafka: str, *subjects: str) -> None:
    def arrived(records) -> bool:
        return all(events_of(records, subject=subject) for subject in subjects)

    records = await read_topic(kafka, "mcvt.actors", until=arrived)
    assert arrived(records)


async def test_a_row_over_the_record_limit_is_parked_and_the_rest_published(
    outbox_pool, producer, kafka, caplog
) -> None:
    before, big, after = await _enqueue_small_big_small(outbox_pool)
    relay = OutboxRelay(outbox_pool, producer, max_record_bytes=4096)
    with caplog.at_level(logging.ERROR, logger="services.runtime.outbox"):
        async with outbox_pool.acquire() as conn:
            assert await relay.drain_once(conn) == 3
            assert await relay.drain_once(conn) == 0  # never tried again
    assert (relay.published, relay.parked) == (2, 1)
    [(key, reason)] = await _parked(outbox_pool)
    assert key == big and "exceeds the maximum" in reason
    assert any("parked" in record.getMessage() for record in caplog.records)
    await _reach_the_broker(kafka, before, after)


class RefusingBroker:
    """The producer, with a broker that refuses record batches over `limit` bytes."""

    def __init__(self, producer: Any, limit: int) -> None:
        self._producer = producer
        self._limit = limit

    def __getattr__(self, name: str) -> Any:
        return getattr(self._producer, name)

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any:
        if batch.size() > self._limit:
            refused: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            refused.set_exception(MessageSizeTooLargeError())
            return refused
        return await self._producer.send_batch(batch, topic, partition=partition)


async def test_a_row_the_broker_refuses_as_too_large_is_parked(
    outbox_pool, producer, kafka
) -> None:
    before, big, after = await _enqueue_small_big_small(outbox_pool)
    relay = OutboxRelay(outbox_pool, RefusingBroker(producer, limit=4096))
    async with outbox_pool.acquire() as conn:
        assert await relay.drain_once(conn) == 3
        assert await relay.drain_once(conn) == 0
    assert (relay.published, relay.parked) == (2, 1)
    [(key, reason)] = await _parked(outbox_pool)
    assert key == big and "refused by the broker" in reason
    await _reach_the_broker(kafka, before, after)
