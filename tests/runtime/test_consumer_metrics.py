"""The consumer runtime reports every outcome of a record to its metrics."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from contracts.actors import ActorRegisteredV1
from contracts.envelope import CloudEvent
from services.runtime.consumer import ConsumerRuntime, EventConsumer, Record, process_record
from services.runtime.context import Context
from services.runtime.db import Connection, create_pool
from services.runtime.errors import NotYet
from services.runtime.metrics import ConsumerMetrics
from tests.conftest import NewDatabase
from tests.runtime.conftest import actor_event, new_subject

GROUP = "test.consumer-metrics"


def record(value: bytes, offset: int) -> Record:
    return Record(value, None, [], "mcvt.actors", 0, offset)


async def test_each_outcome_of_a_record_is_counted(
    outbox_pool: asyncpg.Pool, producer: AIOKafkaProducer, new_database: NewDatabase
) -> None:
    consumer = EventConsumer(GROUP)

    @consumer.on(ActorRegisteredV1)
    async def apply(conn: Connection, event: CloudEvent[ActorRegisteredV1], ctx: Context) -> None:
        if event.data.name == "broken":
            raise RuntimeError("a fault")
        if event.data.name == "early":
            raise NotYet("an actor not heard of yet")

    registry = CollectorRegistry()
    runtime = ConsumerRuntime(
        pool=outbox_pool,
        producer=producer,
        source="/mcvt/test",
        max_attempts=3,
        retry_backoff_s=0.01,
        not_yet_timeout_s=0.05,
        metrics=ConsumerMetrics(registry),
    )

    def consumed(outcome: str, type_: str = ActorRegisteredV1.event_type) -> float | None:
        labels = {"consumer": GROUP, "type": type_, "outcome": outcome}
        return registry.get_sample_value("mcvt_events_consumed_total", labels)

    def dead_lettered(error: str) -> float | None:
        labels = {"consumer": GROUP, "error": error}
        return registry.get_sample_value("mcvt_events_dead_lettered_total", labels)

    good = actor_event(new_subject(), "good").model_dump_json().encode()
    await process_record(consumer, runtime, record(good, 0))
    await process_record(consumer, runtime, record(good, 1))  # redelivered
    assert consumed("processed") == 1
    assert consumed("duplicate") == 1

    broken = actor_event(new_subject(), "broken").model_dump_json().encode()
    await process_record(consumer, runtime, record(broken, 2))
    assert consumed("retried") == 2  # three attempts
    assert consumed("dead_lettered") == 1
    assert dead_lettered("RuntimeError") == 1

    early = actor_event(new_subject(), "early").model_dump_json().encode()
    await process_record(consumer, runtime, record(early, 3))
    assert (consumed("retried") or 0) > 2
    assert consumed("dead_lettered") == 2
    assert dead_lettered("NotYet") == 1

    await process_record(consumer, runtime, record(b"not an event", 4))
    assert consumed("dead_lettered", "invalid") == 1
    assert dead_lettered("ValidationError") == 1

    # Two committed attempts and three faulty ones were timed.
    duration = {"consumer": GROUP, "type": ActorRegisteredV1.event_type}
    assert registry.get_sample_value("mcvt_event_handler_duration_seconds_count", duration) == 5

    # With the database out of reach the record is left for redelivery and counted as failed.
    unreachable = await create_pool(await new_database("consumer_metrics"))
    await unreachable.close()
    runtime.pool = unreachable
    other = actor_event(new_subject(), "good").model_dump_json().encode()
    with pytest.raises(asyncpg.InterfaceError):  # raised: the record must be redelivered
        await process_record(consumer, runtime, record(other, 5))
    assert consumed("failed") == 1
