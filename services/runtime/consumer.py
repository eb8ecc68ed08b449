"""Consuming events: idempotent inbox, a written retry policy, dead letters, offsets after commit.

Guarantee: each event's effects commit at most once per consumer group, and the record's offset
is committed only after they did (AckPolicy.NACK_ON_ERROR), so delivery is at-least-once and the
effects exactly-once. Each handler runs inside a database transaction that first records the
event id in the inbox (`first_delivery`); a redelivered event finds its id there and changes
nothing.

One `EventConsumer` is one consumer group. Handlers are registered per contract model,
`@consumer.on(DecisionMadeV1)`, and receive a `CloudEvent[DecisionMadeV1]`, so the type checker
sees what they read from `event.data`. The topics are the models' topics.

The retry policy, by what goes wrong:
- the record is not a valid event of a type the group handles (not JSON, not an envelope, a
  payload that breaks its contract): dead-lettered at once; types the group does not handle are
  skipped without being parsed further;
- the handler raises a `DomainError` (the event is wrong for this service): dead-lettered at once;
- the handler raises `NotYet` (it refers to what this service has not heard of yet): tried again
  with growing pauses for up to `not_yet_timeout_s`, then dead-lettered;
- the database is out of reach (or aborted the transaction for a concurrent one): nothing is
  dead-lettered; the record is redelivered later;
- anything else (a fault): tried `max_attempts` times, then dead-lettered.
A dead-lettered record goes to the group's dead-letter topic with the error in its headers and
the partition moves on. Each outcome (processed, duplicate, retried, dead_lettered, failed) and
each handler attempt's duration is reported to `ConsumerRuntime.metrics`.

Batches (`EventConsumer(group, batch=N)`): the subscriber takes up to N records per fetch and
applies each partition's share in one transaction, the inbox rows of all its events inserted by
one statement, in offset order, so a key's events keep their order; the offsets are committed
once for the whole fetch, after every transaction committed. When anything but an outage fails
inside a batch's transaction, the transaction rolls back and that partition's records are
applied again one at a time under the policy above: a poison record is dead-lettered alone,
the others apply, and the partition moves on. An outage makes the whole fetch redelivered; the
inbox skips what had committed. Only handlers whose effects are all in their own database may
run in batches: a handler that calls out would repeat its call when its batch is rolled back.

Partitions side by side (`EventConsumer(group, batch=N, partitions_at_once=True)`): the
partitions' shares of a fetch are applied at once, each in its own transaction on its own
connection, so that PostgreSQL writes one while Python parses the next. Each partition's order
holds; for a group whose handlers keep no state between events outside the database, such as a
read model (rows of different partitions' keys are different rows; a deadlock on a shared row
is an outage, redelivered). An outage in one partition cancels, so rolls back, the others' and
the whole fetch is redelivered, as above.

Batch handlers (`@consumer.on_batch(...)`, opt-in per event type) receive a partition's new
events at once, so that a read model writes them with a few set-based statements: each call
gets a run of consecutive events of its types that the inbox has not seen, in offset order,
inside the batch's transaction, and derives each event's context with `ctx.caused_by(event)`.
Events of other handlers around the run are applied before and after it, so the partition's
order holds across handlers. Applied one record at a time (a consumer without `batch`, or a
failed batch split), a batch handler gets one event per call, in its own transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, Literal, NamedTuple, TypeVar, Union, cast

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.message import StreamMessage
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model

from contracts.envelope import CloudEvent, EventPayload
from contracts.topics import dead_letter_topic
from services.runtime.collector import collector_paused
from services.runtime.context import Context
from services.runtime.db import Connection
from services.runtime.errors import DomainError, NotYet
from services.runtime.inbox import first_deliveries, first_delivery
from services.runtime.metrics import ConsumerMetrics, Outcome
from services.runtime.outages import OUT_OF_REACH

log = logging.getLogger(__name__)

P = TypeVar("P", bound=EventPayload)

# A handler: the inbox transaction's connection, the typed event, the context of what it causes.
Handler = Callable[[Connection, CloudEvent[P], Context], Awaitable[None]]
# A batch handler: the transaction's connection, new events of one partition in offset order,
# and the consumer's context, from which `ctx.caused_by(event)` makes each event's.
BatchHandler = Callable[[Connection, Sequence[CloudEvent[P]], Context], Awaitable[None]]


class _Head(BaseModel):
    type: str


@dataclass(frozen=True)
class _Route(Generic[P]):
    model: type[P]
    handler: Handler[P] | BatchHandler[P]
    batched: bool
    # The envelope of this type only (its `type` a literal): a variant of the group's union.
    envelope: type[CloudEvent[P]]


def _envelope(model: type[P]) -> type[CloudEvent[P]]:
    literal: Any = Literal[model.event_type]
    typed: Any = create_model(
        f"{model.__name__}Event",
        __base__=CloudEvent[model],  # type: ignore[valid-type]
        type=(literal, ...),
    )
    return cast(type[CloudEvent[P]], typed)


class EventConsumer:
    """A consumer group (`<service>.<purpose>`) and its handlers, one per event type."""

    # The batch a read model's group takes: big enough that a replay from offset 0 pays for a
    # transaction and an offset commit once per several hundred events (a fetch brings about
    # 700 of one partition), small enough that a partition's share applied again one record at
    # a time, after a poison record, stays short.
    READ_MODEL_BATCH = 2000
    # The batch of a group that does a service's work (proposes, books, drafts agreements):
    # its transaction holds the rows and territories it locks until the whole batch commits,
    # so a batch stays short for the commands waiting on them, while a busy partition (and
    # the records of other types it skips) still pays one transaction and one offset commit
    # per batch, not per record.
    WORK_BATCH = 50

    def __init__(
        self,
        group: str,
        *,
        description: str = "",
        batch: int | None = None,
        partitions_at_once: bool = False,
        topics: Sequence[str] = (),
        listener: ConsumerRebalanceListener | None = None,
    ) -> None:
        """`batch`: at most this many records per fetch, applied per partition in one
        transaction (see the module docstring); None applies them one at a time.
        `partitions_at_once`: a fetch's partitions are applied side by side (see the module
        docstring). `topics`: the topics to read, when they are not those of the handled
        events' models."""
        if batch is not None and batch < 1:
            raise ValueError(f"{group}: a batch holds at least one record, not {batch}")
        if partitions_at_once and batch is None:
            raise ValueError(f"{group}: only a batched group applies partitions side by side")
        self.group = group
        self.description = description
        self.batch = batch
        self.partitions_at_once = partitions_at_once
        self._topics = tuple(topics)
        # Told when the group's partitions move between replicas (state kept per partition).
        self.listener = listener
        self._routes: dict[str, _Route[Any]] = {}
        self._reader: TypeAdapter[CloudEvent[Any]] | None = None

    def on(self, *models: type[P]) -> Callable[[Handler[P]], Handler[P]]:
        """Register the decorated handler for these event models (one type, one handler)."""

        def register(handler: Handler[P]) -> Handler[P]:
            self._register(models, handler, batched=False)
            return handler

        return register

    def on_batch(self, *models: type[P]) -> Callable[[BatchHandler[P]], BatchHandler[P]]:
        """Register the decorated batch handler for these event models (see the module
        docstring): it gets runs of new events of these types, in offset order."""

        def register(handler: BatchHandler[P]) -> BatchHandler[P]:
            self._register(models, handler, batched=True)
            return handler

        return register

    def _register(
        self, models: Sequence[type[P]], handler: Handler[P] | BatchHandler[P], *, batched: bool
    ) -> None:
        for model in models:
            if model.event_type in self._routes:
                raise ValueError(f"{self.group} handles {model.event_type} twice")
            self._routes[model.event_type] = _Route(model, handler, batched, _envelope(model))
        self._reader = None

    @property
    def models(self) -> Mapping[str, type[EventPayload]]:
        """The event models this group handles, by event type."""
        return {event_type: route.model for event_type, route in self._routes.items()}

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics given, else those of the handled events in registration order."""
        if self._topics:
            return self._topics
        return tuple(dict.fromkeys(str(route.model.topic) for route in self._routes.values()))

    @property
    def dead_letter_topic(self) -> str:
        return dead_letter_topic(self.group)

    def parse(self, value: bytes) -> tuple[CloudEvent[Any], _Route[Any]] | None:
        """The typed event and its route; None for a type this group does not handle.

        Raises ValidationError when the record is not an event or breaks its type's contract.
        """
        try:
            event: CloudEvent[Any] = self.reader.validate_json(value)
        except ValidationError:
            # Not one of the handled types' events: a type this group skips, or no event.
            if _Head.model_validate_json(value).type not in self._routes:
                return None
            raise
        return event, self._routes[event.type]

    @property
    def reader(self) -> TypeAdapter[CloudEvent[Any]]:
        """The handled types' envelopes as one union told apart by `type`: a record is parsed
        and validated in one pass."""
        if self._reader is None:
            variants = tuple(route.envelope for route in self._routes.values())
            union: Any = (
                Annotated[Union[variants], Field(discriminator="type")]  # noqa: UP007
                if len(variants) > 1
                else variants[0]
            )
            self._reader = TypeAdapter(union)
        return self._reader


@dataclass
class ConsumerRuntime:
    """What a running consumer needs from its service."""

    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    source: str
    max_attempts: int = 3
    retry_backoff_s: float = 0.2
    not_yet_timeout_s: float = 30.0
    session_timeout_ms: int = 10_000
    fetch_max_wait_ms: int = 500
    # How long a batched consumer waits for records in one poll (FastStream then sleeps as long
    # after an empty one): short, as it adds to the latency of an idle consumer.
    batch_wait_ms: int = 50
    # The most partitions of a fetch applied side by side, each holding a connection of the
    # pool for its transaction: the rest of the pool stays for the service's other work.
    partitions_side_by_side: int = 4
    processed: int = 0
    handler_failures: int = 0
    dead_lettered: int = 0
    # The service's registry in an app; a registry of its own where a test builds the runtime.
    metrics: ConsumerMetrics = field(default_factory=lambda: ConsumerMetrics(CollectorRegistry()))


class Record(NamedTuple):
    """A Kafka record as the consumer needs it: its bytes, key, headers and origin (a tuple,
    as a replay from offset 0 makes one per record)."""

    value: bytes
    key: bytes | None
    headers: list[tuple[str, bytes]]
    topic: str
    partition: int
    offset: int


async def process_record(consumer: EventConsumer, runtime: ConsumerRuntime, record: Record) -> None:
    """Apply one record (see the module docstring). Raises only when it must be redelivered."""
    try:
        parsed = consumer.parse(record.value)
    except ValidationError as invalid:
        # Not an event of a known shape: its type cannot be trusted as a label.
        runtime.metrics.consumed(consumer.group, "invalid", "dead_lettered")
        await _dead_letter(consumer, runtime, record, invalid)
        return
    if parsed is None:
        return
    event, route = parsed
    with structlog.contextvars.bound_contextvars(
        correlation_id=event.correlationid, event_id=event.id, event_type=event.type
    ):
        error = await _apply(consumer, runtime, event, route)
        if error is not None:
            runtime.metrics.consumed(consumer.group, event.type, "dead_lettered")
            await _dead_letter(consumer, runtime, record, error)


async def _apply(
    consumer: EventConsumer,
    runtime: ConsumerRuntime,
    event: CloudEvent[Any],
    route: _Route[Any],
) -> Exception | None:
    """Run the handler in the inbox transaction under the retry policy; the error that made
    the event fail for good, or None once it is applied (or was already)."""
    loop = asyncio.get_running_loop()
    not_yet_until = loop.time() + runtime.not_yet_timeout_s
    faults = 0
    metrics = runtime.metrics
    while True:
        started = time.perf_counter()
        try:
            async with runtime.pool.acquire() as conn, conn.transaction():
                first = await first_delivery(conn, consumer.group, event.id, event.type)
                if first:
                    await _handle(conn, route, [event], runtime.source)
            metrics.handled(consumer.group, event.type, time.perf_counter() - started)
            metrics.consumed(consumer.group, event.type, "processed" if first else "duplicate")
            runtime.processed += 1
            return None
        except OUT_OF_REACH:
            metrics.consumed(consumer.group, event.type, "failed")
            await asyncio.sleep(runtime.retry_backoff_s)
            raise
        except DomainError as rejected:
            log.warning("event rejected: %r", rejected)
            return rejected
        except NotYet as early:
            pause = min(5.0, runtime.retry_backoff_s * 2 ** min(faults, 10))
            if loop.time() + pause > not_yet_until:
                return early
            faults += 1
            metrics.consumed(consumer.group, event.type, "retried")
            log.info("event not applicable yet (%s); trying again in %.2fs", early, pause)
            await asyncio.sleep(pause)
        except Exception as fault:
            faults += 1
            runtime.handler_failures += 1
            log.warning("handler failed (attempt %d/%d): %r", faults, runtime.max_attempts, fault)
            metrics.handled(consumer.group, event.type, time.perf_counter() - started)
            if faults >= runtime.max_attempts:
                return fault
            metrics.consumed(consumer.group, event.type, "retried")
            await asyncio.sleep(runtime.retry_backoff_s * faults)


async def process_batch(
    consumer: EventConsumer, runtime: ConsumerRuntime, records: Sequence[Record]
) -> None:
    """Apply one fetch's records, one transaction per partition (see the module docstring).
    Raises only when they must be redelivered."""
    partitions: dict[tuple[str, int], list[Record]] = {}
    for record in records:
        partitions.setdefault((record.topic, record.partition), []).append(record)
    if not consumer.partitions_at_once or len(partitions) == 1:
        for share in partitions.values():
            await _apply_partition(consumer, runtime, share)
        return
    # Side by side: one partition's transaction waits on PostgreSQL while the next one's
    # records are parsed. The first failure cancels (rolls back) the others: the fetch is
    # redelivered whole, and the inbox skips what had committed.
    room = asyncio.Semaphore(runtime.partitions_side_by_side)

    async def apply(share: list[Record]) -> None:
        async with room:
            await _apply_partition(consumer, runtime, share)

    try:
        async with asyncio.TaskGroup() as group:
            for share in partitions.values():
                group.create_task(apply(share))
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None


async def _apply_partition(
    consumer: EventConsumer, runtime: ConsumerRuntime, records: Sequence[Record]
) -> None:
    """One partition's records in offset order: in one transaction when they all apply, else
    one at a time."""
    events: list[tuple[CloudEvent[Any], _Route[Any]]] = []
    invalid: list[tuple[Record, ValidationError]] = []
    with collector_paused():  # the parsed events live until the partition is applied
        for record in records:
            try:
                parsed = consumer.parse(record.value)
            except ValidationError as broken:
                invalid.append((record, broken))
                continue
            if parsed is not None:
                events.append(parsed)
    if events:
        metrics = runtime.metrics
        started = time.perf_counter()
        try:
            applied = await _apply_together(consumer, runtime, events)
        except OUT_OF_REACH:
            for event, _ in events:
                metrics.consumed(consumer.group, event.type, "failed")
            await asyncio.sleep(runtime.retry_backoff_s)
            raise
        except Exception as failure:
            # Rolled back: applying the records one at a time isolates the one that fails.
            log.warning("batch of %d records failed (%r); one at a time now", len(records), failure)
            for record in records:
                await process_record(consumer, runtime, record)
            return
        share = (time.perf_counter() - started) / len(events)
        outcomes: Counter[tuple[str, Outcome]] = Counter(
            (event.type, "processed" if first else "duplicate")
            for (event, _), first in zip(events, applied, strict=True)
        )
        for (event_type, outcome), count in outcomes.items():
            metrics.handled(consumer.group, event_type, share, count)
            metrics.consumed(consumer.group, event_type, outcome, count)
        runtime.processed += len(events)
    for record, reason in invalid:
        runtime.metrics.consumed(consumer.group, "invalid", "dead_lettered")
        await _dead_letter(consumer, runtime, record, reason)


async def _apply_together(
    consumer: EventConsumer,
    runtime: ConsumerRuntime,
    events: Sequence[tuple[CloudEvent[Any], _Route[Any]]],
) -> list[bool]:
    """Run the events' handlers in one inbox transaction, in order, each run of consecutive
    new events of one handler at once; whether each was applied now (False: already applied,
    by an earlier delivery or earlier in the batch)."""
    applied: list[bool] = []
    async with runtime.pool.acquire() as conn, conn.transaction():
        fresh = await first_deliveries(
            conn, consumer.group, [(event.id, event.type) for event, _ in events]
        )
        run: list[CloudEvent[Any]] = []
        run_route: _Route[Any] | None = None
        for event, route in events:
            first = event.id in fresh
            fresh.discard(event.id)
            applied.append(first)
            if not first:
                continue
            if run_route is not None and route.handler is not run_route.handler:
                await _handle(conn, run_route, run, runtime.source)
                run = []
            run_route = route
            run.append(event)
        if run_route is not None:
            await _handle(conn, run_route, run, runtime.source)
    return applied


async def _handle(
    conn: Connection, route: _Route[Any], events: Sequence[CloudEvent[Any]], source: str
) -> None:
    """Apply new events of one route in the caller's transaction: at once for a batch
    handler, else one call per event, each with its own context."""
    if route.batched:
        await route.handler(conn, events, Context(source))  # type: ignore[arg-type]
        return
    for event in events:
        with structlog.contextvars.bound_contextvars(
            correlation_id=event.correlationid, event_id=event.id, event_type=event.type
        ):
            await route.handler(conn, event, Context(source).caused_by(event))  # type: ignore[arg-type]


async def _dead_letter(
    consumer: EventConsumer, runtime: ConsumerRuntime, record: Record, error: Exception
) -> None:
    extra = {
        "dlq-error": str(error)[:4000],
        "dlq-error-type": type(error).__name__,
        "dlq-consumer": consumer.group,
        "dlq-original-topic": record.topic,
        "dlq-original-partition": str(record.partition),
        "dlq-original-offset": str(record.offset),
    }
    kept = [(k, v) for k, v in record.headers if not k.startswith("dlq-")]
    await runtime.producer.send_and_wait(
        consumer.dead_letter_topic,
        value=record.value,
        key=record.key,
        headers=kept + [(k, v.encode()) for k, v in extra.items()],
    )
    runtime.dead_lettered += 1
    runtime.metrics.dead_lettered(consumer.group, error)
    log.error(
        "dead-lettered %s[%d]@%d to %s: %s",
        record.topic,
        record.partition,
        record.offset,
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
    if runtime is None:
        models = tuple(CloudEvent[model] for model in consumer.models.values())  # type: ignore[valid-type]

        async def document(body: Any) -> None:
            raise RuntimeError("subscriber registered for documentation only")

        document.__annotations__["body"] = Union[models] if len(models) > 1 else models[0]  # noqa: UP007
        broker.subscriber(*consumer.topics, **options)(document)
        return

    # The handlers read the records' bytes: FastStream's own JSON decoding would be wasted.
    options["decoder"] = _undecoded
    options["session_timeout_ms"] = runtime.session_timeout_ms
    options["heartbeat_interval_ms"] = max(100, runtime.session_timeout_ms // 5)
    options["fetch_max_wait_ms"] = runtime.fetch_max_wait_ms
    if consumer.listener is not None:
        options["listener"] = consumer.listener
    if consumer.batch is not None:
        options["batch"] = True
        options["max_records"] = consumer.batch
        options["batch_timeout_ms"] = runtime.batch_wait_ms

        async def on_batch(message: KafkaMessage) -> None:
            raw = message.raw_message
            assert isinstance(raw, tuple)
            await process_batch(consumer, runtime, [_record(r) for r in raw])

        broker.subscriber(*consumer.topics, **options)(on_batch)
        return

    async def on_record(message: KafkaMessage) -> None:
        raw = message.raw_message
        assert not isinstance(raw, tuple)
        await process_record(consumer, runtime, _record(raw))

    broker.subscriber(*consumer.topics, **options)(on_record)


async def _undecoded(message: StreamMessage[Any]) -> None:
    return None


def _record(raw: ConsumerRecord[Any, Any]) -> Record:
    return Record(
        raw.value or b"", raw.key, list(raw.headers or ()), raw.topic, raw.partition, raw.offset
    )
