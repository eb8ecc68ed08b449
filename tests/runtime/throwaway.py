"""A throwaway consumer group for runtime tests, wired exactly as a service wires its own.

Its handler is deliberately not idempotent: every run appends a row to `effects` in the inbox
transaction, so a redelivery that got past the inbox would leave a second row. Each test gets a
topic of its own (four partitions) and a group of its own, so no other test's records reach it.
What the handler does is chosen by the event's payload (`behaviour`).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord
from faststream.kafka import KafkaBroker

from contracts.envelope import CloudEvent, EventPayload, new_event
from contracts.topics import Topic, dead_letter_topic
from services.runtime.consumer import ConsumerRuntime, EventConsumer, subscribe
from services.runtime.context import Context
from services.runtime.db import Connection
from services.runtime.errors import InvalidInput, NotYet
from services.runtime.kafka import ensure_topics
from tests.support import read_topic

PARTITIONS = 4

SCHEMA = """
CREATE TABLE effects (
    seq      bigserial PRIMARY KEY,
    event_id text NOT NULL,
    member   text NOT NULL
);
CREATE TABLE refs (id text PRIMARY KEY);
"""


class Tick(EventPayload):
    """The throwaway event. `behaviour`: apply | reject | fail | fail-once | hold | needs-ref |
    outage-while-held (the first attempt fails as an outage once a `hold` event is held)."""

    event_type: ClassVar[str] = "mcvt.test.tick.v1"
    topic: ClassVar[Topic]  # each test's own topic, set on a subclass by `Throwaway`

    n: int = 0
    behaviour: str = "apply"
    ref: str | None = None


class Other(EventPayload):
    """An event type the throwaway group does not handle."""

    event_type: ClassVar[str] = "mcvt.test.other.v1"
    topic: ClassVar[Topic]

    n: int = 0


@dataclass
class Throwaway:
    """One test's topic, group, handler and the bookkeeping the tests read."""

    kafka: str
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    topic: str = field(default_factory=lambda: f"mcvt.test.{uuid.uuid4().hex[:12]}")
    group: str = field(default_factory=lambda: f"test.throwaway-{uuid.uuid4().hex[:8]}")
    batch: int | None = None  # the group takes records in batches of up to this many
    partitions_at_once: bool = False  # a fetch's partitions applied side by side
    # Ticks go to a batch handler (`on_batch`), which writes a run's effects in one statement.
    batch_handler: bool = False
    runs: list[list[int]] = field(default_factory=list)  # the ticks' `n` of each batch call
    attempts: Counter[str] = field(default_factory=Counter)  # handler runs per event id
    gate: asyncio.Event = field(default_factory=asyncio.Event)  # releases `hold` events
    holding: asyncio.Event = field(default_factory=asyncio.Event)  # a `hold` event is held
    held: set[str] = field(default_factory=set)  # the `hold` events held now
    busy: set[str] = field(default_factory=set)  # members inside the handler now
    consumer: EventConsumer = field(init=False)
    model: type[Tick] = field(init=False)
    other: type[Other] = field(init=False)

    def __post_init__(self) -> None:
        extra: dict[str, Any] = {"topic": self.topic, "__module__": __name__}
        self.model = type("TestTick", (Tick,), dict(extra))
        self.other = type("TestOther", (Other,), dict(extra))
        self.consumer = EventConsumer(
            self.group,
            description="runtime tests",
            batch=self.batch,
            partitions_at_once=self.partitions_at_once,
        )
        if self.batch_handler:
            self.consumer.on_batch(self.model)(self._handle_run)
        else:
            self.consumer.on(self.model)(self._handle)

    @property
    def dead_letter_topic(self) -> str:
        return dead_letter_topic(self.group)

    async def _handle(self, conn: Connection, event: CloudEvent[Tick], ctx: Context) -> None:
        self.attempts[event.id] += 1
        # The effect first: whatever the handler does next, it must not survive a rollback.
        member = ctx.source
        await conn.execute(
            "INSERT INTO effects (event_id, member) VALUES ($1, $2)", event.id, member
        )
        behaviour = event.data.behaviour
        if behaviour == "reject":
            raise InvalidInput("the throwaway handler rejects this event", field="behaviour")
        if behaviour == "fail" or (behaviour == "fail-once" and self.attempts[event.id] == 1):
            raise RuntimeError(f"handler fault on attempt {self.attempts[event.id]}")
        if behaviour == "needs-ref" and not await conn.fetchval(
            "SELECT true FROM refs WHERE id = $1", event.data.ref
        ):
            raise NotYet(f"reference {event.data.ref} not known yet")
        if behaviour == "outage-while-held" and self.attempts[event.id] == 1:
            await self.holding.wait()  # another transaction is open, held
            raise ConnectionResetError("the database went away mid-transaction")
        if behaviour == "hold" and not self.gate.is_set():
            self.holding.set()
            self.held.add(event.id)
            try:
                await self.gate.wait()
            finally:
                self.held.discard(event.id)
        elif behaviour == "slow":
            self.busy.add(member)
            try:
                await asyncio.sleep(0.01)
            finally:
                self.busy.discard(member)

    async def _handle_run(
        self, conn: Connection, events: Sequence[CloudEvent[Tick]], ctx: Context
    ) -> None:
        """The batch handler: every event's effect in one statement, then their behaviours
        (`apply`, `reject`, `fail-once`)."""
        self.runs.append([event.data.n for event in events])
        for event in events:
            self.attempts[event.id] += 1
        await conn.execute(
            "INSERT INTO effects (event_id, member) SELECT unnest($1::text[]), $2",
            [event.id for event in events],
            ctx.source,
        )
        for event in events:
            behaviour = event.data.behaviour
            if behaviour == "reject":
                raise InvalidInput("the throwaway handler rejects this event", field="behaviour")
            if behaviour == "fail-once" and self.attempts[event.id] == 1:
                raise RuntimeError(f"handler fault on attempt {self.attempts[event.id]}")

    def event(self, n: int = 0, **fields: Any) -> CloudEvent[Any]:
        return new_event(
            self.model(n=n, **fields),
            subject=f"tick-{n}",
            territory="test-territory",
            source="/mcvt/test-producer",
        )

    async def send(
        self,
        value: CloudEvent[Any] | bytes,
        *,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> int:
        """Produce a record to the test topic and wait for the broker's acknowledgement; the
        partition it went to."""
        if isinstance(value, CloudEvent):
            key = key or value.subject.encode()
            value = value.model_dump_json().encode()
        sent = await self.producer.send_and_wait(self.topic, value=value, key=key, headers=headers)
        return int(sent.partition)

    def runtime(self, member: str = "a", **options: Any) -> ConsumerRuntime:
        """A consumer runtime as `create_app` builds one, with quick settings for Tansu; the
        member name goes in the context's source, so each effect row says who applied it."""
        defaults: dict[str, Any] = {
            "pool": self.pool,
            "retry_backoff_s": 0.01,
            "session_timeout_ms": 2000,
            "fetch_max_wait_ms": 20,
        }
        return ConsumerRuntime(producer=self.producer, source=member, **{**defaults, **options})

    @contextlib.asynccontextmanager
    async def member(
        self, runtime: ConsumerRuntime, *, graceful_timeout: float = 15.0
    ) -> AsyncIterator[KafkaBroker]:
        """A member of the group on its own FastStream broker, subscribed as `build_broker`
        does; it leaves the group on exit, after waiting up to `graceful_timeout` for the
        record in hand (then its handler is cancelled)."""
        broker = KafkaBroker(self.kafka, graceful_timeout=graceful_timeout)
        subscribe(broker, self.consumer, runtime)
        await broker.start()
        try:
            yield broker
        finally:
            await broker.stop()

    async def effects(self, event_id: str | None = None) -> int:
        if event_id is None:
            return int(await self.pool.fetchval("SELECT count(*) FROM effects"))
        return int(
            await self.pool.fetchval("SELECT count(*) FROM effects WHERE event_id = $1", event_id)
        )

    async def in_inbox(self, event_id: str) -> bool:
        return bool(
            await self.pool.fetchval(
                "SELECT count(*) FROM inbox WHERE consumer = $1 AND event_id = $2",
                self.group,
                event_id,
            )
        )

    async def dead_letters(
        self, *, at_least: int = 1, timeout: float = 20.0
    ) -> list[ConsumerRecord[bytes, bytes]]:
        return await read_topic(
            self.kafka,
            self.dead_letter_topic,
            until=lambda records: len(records) >= at_least,
            timeout=timeout,
        )


async def evict(broker: KafkaBroker) -> None:
    """End the member's place in the group while its handler runs on, as when its session or
    its poll interval expires: the group hands its partitions to the others."""
    [subscriber] = broker.subscribers
    kafka_consumer: Any = getattr(subscriber, "consumer", None)
    assert kafka_consumer is not None, "the member is not running"
    await kafka_consumer.stop()


@contextlib.asynccontextmanager
async def throwaway(
    kafka: str,
    pool: asyncpg.Pool,
    *,
    batch: int | None = None,
    batch_handler: bool = False,
    partitions_at_once: bool = False,
) -> AsyncIterator[Throwaway]:
    """A throwaway group over a database from the `outbox_pool` fixture (runtime tables only),
    batched when `batch` is given, its ticks applied by a batch handler if `batch_handler`, a
    fetch's partitions side by side if `partitions_at_once`."""
    await pool.execute(SCHEMA)
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", linger_ms=2)
    await producer.start()
    try:
        setup = Throwaway(
            kafka,
            pool,
            producer,
            batch=batch,
            batch_handler=batch_handler,
            partitions_at_once=partitions_at_once,
        )
        await ensure_topics(kafka, [setup.topic, setup.dead_letter_topic], PARTITIONS)
        yield setup
    finally:
        await producer.stop()
