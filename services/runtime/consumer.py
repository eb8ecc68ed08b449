"""Consuming events: idempotent inbox, bounded retries, dead letters, offsets after commit.

One `EventConsumer` is one consumer group reading some topics and routing event types to
handlers. Each handler runs inside a database transaction that also records the event id in the
inbox; the offset is committed only after that transaction (AckPolicy.NACK_ON_ERROR). A record
that is not a valid event, whose content a handler rejects (ValueError), or whose handler keeps
failing after bounded retries, is copied to the group's dead-letter topic with the error in
headers, and the partition moves on. When the database itself is unreachable nothing is
dead-lettered: the record is redelivered later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import ValidationError

from contracts.envelope import CloudEvent
from contracts.registry import EVENT_TYPES, UnknownEventType, parse_event
from contracts.topics import dead_letter_topic
from services.runtime.db import Connection
from services.runtime.inbox import first_delivery

log = logging.getLogger(__name__)

Handler = Callable[[Connection, CloudEvent[Any]], Awaitable[None]]

# Errors that say the database is out of reach: retry the record later, never dead-letter it.
_UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
)


@dataclass(frozen=True)
class EventConsumer:
    """A consumer group: `group` names it (`<service>.<purpose>`), `handlers` map event types."""

    group: str
    topics: tuple[str, ...]
    handlers: Mapping[str, Handler]
    description: str = ""

    @property
    def dead_letter_topic(self) -> str:
        return dead_letter_topic(self.group)


@dataclass
class ConsumerRuntime:
    """What a running consumer needs from its service."""

    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    max_attempts: int = 3
    retry_backoff_s: float = 0.2
    session_timeout_ms: int = 10_000
    fetch_max_wait_ms: int = 500
    processed: int = 0
    handler_failures: int = 0
    dead_lettered: int = 0


async def process_record(
    consumer: EventConsumer,
    runtime: ConsumerRuntime,
    value: bytes,
    *,
    key: bytes | None,
    headers: list[tuple[str, bytes]],
    origin: tuple[str, int, int],
) -> None:
    """Apply one record (see the module docstring). Raises only when it must be redelivered."""
    try:
        event = parse_event(value)
    except UnknownEventType as unknown:
        log.debug("skipping event of unknown type %s", unknown)
        return
    except (ValidationError, ValueError) as invalid:
        await _dead_letter(consumer, runtime, value, key, headers, origin, invalid)
        return
    handler = consumer.handlers.get(event.type)
    if handler is None:
        return
    with structlog.contextvars.bound_contextvars(
        correlation_id=event.correlationid, event_id=event.id, event_type=event.type
    ):
        failure: Exception | None = None
        for attempt in range(1, runtime.max_attempts + 1):
            try:
                async with runtime.pool.acquire() as conn, conn.transaction():
                    if await first_delivery(conn, consumer.group, event.id, event.type):
                        await handler(conn, event)
                runtime.processed += 1
                return
            except _UNAVAILABLE:
                await asyncio.sleep(runtime.retry_backoff_s * attempt)
                raise
            except Exception as error:
                failure = error
                runtime.handler_failures += 1
                log.warning(
                    "handler failed (attempt %d/%d): %r", attempt, runtime.max_attempts, error
                )
                if isinstance(error, ValueError):
                    break  # the event's content is wrong: trying again cannot help
                if attempt < runtime.max_attempts:
                    await asyncio.sleep(runtime.retry_backoff_s * attempt)
        assert failure is not None
        await _dead_letter(consumer, runtime, value, key, headers, origin, failure)


async def _dead_letter(
    consumer: EventConsumer,
    runtime: ConsumerRuntime,
    value: bytes,
    key: bytes | None,
    headers: list[tuple[str, bytes]],
    origin: tuple[str, int, int],
    error: Exception,
) -> None:
    topic, partition, offset = origin
    extra = {
        "dlq-error": str(error)[:4000],
        "dlq-error-type": type(error).__name__,
        "dlq-consumer": consumer.group,
        "dlq-original-topic": topic,
        "dlq-original-partition": str(partition),
        "dlq-original-offset": str(offset),
    }
    kept = [(k, v) for k, v in headers if not k.startswith("dlq-")]
    await runtime.producer.send_and_wait(
        consumer.dead_letter_topic,
        value=value,
        key=key,
        headers=kept + [(k, v.encode()) for k, v in extra.items()],
    )
    runtime.dead_lettered += 1
    log.error(
        "dead-lettered %s[%d]@%d to %s: %s",
        topic,
        partition,
        offset,
        consumer.dead_letter_topic,
        error,
    )


def subscribe(
    broker: KafkaBroker, consumer: EventConsumer, runtime: ConsumerRuntime | None
) -> None:
    """Register the consumer group on the FastStream broker.

    With `runtime` None the subscriber only documents, in AsyncAPI, the events it consumes.
    """
    options: dict[str, Any] = {
        "group_id": consumer.group,
        "auto_offset_reset": "earliest",
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "title": consumer.group,
        "description": consumer.description or None,
    }
    if runtime is not None:
        options["session_timeout_ms"] = runtime.session_timeout_ms
        options["heartbeat_interval_ms"] = max(100, runtime.session_timeout_ms // 5)
        options["fetch_max_wait_ms"] = runtime.fetch_max_wait_ms
    if runtime is None:
        models = tuple(CloudEvent[EVENT_TYPES[t]] for t in consumer.handlers)  # type: ignore[valid-type]

        async def document(body: Any) -> None:
            raise RuntimeError("subscriber registered for documentation only")

        document.__annotations__["body"] = Union[models] if len(models) > 1 else models[0]  # noqa: UP007
        broker.subscriber(*consumer.topics, **options)(document)
        return

    async def on_record(message: KafkaMessage) -> None:
        record = message.raw_message
        assert not isinstance(record, tuple)
        await process_record(
            consumer,
            runtime,
            message.body,
            key=record.key,
            headers=list(record.headers or ()),
            origin=(record.topic, record.partition, record.offset),
        )

    broker.subscriber(*consumer.topics, **options)(on_record)
