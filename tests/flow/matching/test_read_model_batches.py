"""Matching's read model written in batches over the real broker: of each offer's and need's
events in a batch, the newest version is stored with one statement per table, as one record at
a time would store it; only stored versions are forwarded to the territories' owners; each
event applies once; a poison record is dead-lettered alone and the partition moves on.

The group reads every topic from its beginning, where the package's other tests may have left
records: every assertion is about this test's own offers and needs.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from contracts.envelope import CloudEvent
from contracts.needs import NeedPublishedV1, NeedState, NeedUpdatedV1
from contracts.offers import OfferPublishedV1, OfferState, OfferUpdatedV1
from contracts.topics import Topic
from services.matching import consumers, ownership, store
from services.matching.ownership import Territories
from services.runtime.consumer import ConsumerRuntime, EventConsumer, subscribe
from services.runtime.db import Connection, create_pool
from services.runtime.kafka import ensure_topics
from tests.harness import Databases
from tests.support import eventually, read_topic
from tests.unit.matching.payloads import event, need_state, offer_state

KEY = b"one-key"  # every record of a topic on one partition, in the order sent


class ReadModelGroup:
    """A fresh read-model group over a fresh matching database, and what the test reads."""

    def __init__(self, kafka: str, pool: asyncpg.Pool, producer: AIOKafkaProducer) -> None:
        self.kafka, self.pool, self.producer = kafka, pool, producer
        self.group = f"matching.read-model.{uuid.uuid4().hex[:8]}"
        self.consumer: EventConsumer = consumers.read_model_consumer(
            self.group, Territories(replica="test")
        )
        self.runtime = ConsumerRuntime(
            pool=pool,
            producer=producer,
            source="/mcvt/matching",
            retry_backoff_s=0.01,
            session_timeout_ms=2000,
            fetch_max_wait_ms=20,
        )
        self.territory = str(uuid.uuid4())

    def offer(self, model: type[OfferState], version: int, **fields: Any) -> CloudEvent[Any]:
        extra = {"changed": ["asset"]} if model is OfferUpdatedV1 else {}
        state = offer_state(
            provider_id="p-1", territory_id=self.territory, version=version, **fields
        )
        return event(model, state, **extra)

    def need(self, model: type[NeedState], version: int, **fields: Any) -> CloudEvent[Any]:
        extra = {"changed": ["quantity"]} if model is NeedUpdatedV1 else {}
        state = need_state(
            requester_id="r-1", territory_id=self.territory, version=version, **fields
        )
        return event(model, state, **extra)

    async def send(self, topic: Topic, *events: CloudEvent[Any]) -> None:
        for sent in events:
            await self.producer.send_and_wait(str(topic), sent.model_dump_json().encode(), key=KEY)

    @contextlib.asynccontextmanager
    async def member(self) -> AsyncIterator[None]:
        broker = KafkaBroker(self.kafka)
        subscribe(broker, self.consumer, self.runtime)
        await broker.start()
        try:
            yield
        finally:
            await broker.stop()

    async def applied(self, *events: CloudEvent[Any]) -> bool:
        found = await self.pool.fetchval(
            "SELECT count(*) FROM inbox WHERE consumer = $1 AND event_id = ANY($2::text[])",
            self.group,
            [e.id for e in events],
        )
        return bool(found == len({e.id for e in events}))

    async def stored(self, table: str, key: str) -> dict[str, tuple[int, dict[str, Any]]]:
        rows = await self.pool.fetch(
            f"SELECT {key} AS id, version, state FROM {table} WHERE territory_id = $1",
            self.territory,
        )
        return {row["id"]: (row["version"], row["state"]) for row in rows}

    async def forwarded(self) -> list[tuple[str, int]]:
        """The (aggregate id, version) of the owners' records, in the order written."""
        rows = await self.pool.fetch(
            "SELECT payload FROM outbox WHERE topic = $1 ORDER BY seq",
            ownership.topic_of(self.group),
        )
        out = []
        for row in rows:
            data = CloudEvent[Any].model_validate_json(row["payload"]).data
            if data["territory_id"] == self.territory:
                out.append((data.get("offer_id") or data["need_id"], data["version"]))
        return out


@pytest.fixture
async def read_model(databases: Databases, kafka: str) -> AsyncIterator[ReadModelGroup]:
    pool = await create_pool(await databases.for_service("matching"), min_size=1, max_size=3)
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", linger_ms=2)
    await producer.start()
    try:
        group = ReadModelGroup(kafka, pool, producer)
        topics = [*group.consumer.topics, group.consumer.dead_letter_topic]
        await ensure_topics(kafka, topics, 4)
        yield group
    finally:
        await producer.stop()
        await pool.close()


def spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[list[str]]:
    """The ids each call of `store.<name>` was given."""
    calls: list[list[str]] = []
    saved = getattr(store, name)

    async def spied(conn: Connection, states: Sequence[Any]) -> set[str]:
        calls.append([getattr(s, "offer_id", None) or s.need_id for s in states])
        result: set[str] = await saved(conn, states)
        return result

    monkeypatch.setattr(store, name, spied)
    return calls


def only(calls: list[list[str]], ids: set[str]) -> list[list[str]]:
    """The calls that were given some of `ids`, each cut down to those."""
    return [[i for i in call if i in ids] for call in calls if ids & set(call)]


async def test_a_batch_stores_each_aggregates_newest_version_and_forwards_only_it(
    read_model: ReadModelGroup, monkeypatch: pytest.MonkeyPatch
) -> None:
    rm = read_model
    offer_calls, need_calls = spy(monkeypatch, "save_offers"), spy(monkeypatch, "save_needs")
    x, y, z, n = (str(uuid.uuid4()) for _ in range(4))
    x2 = rm.offer(OfferUpdatedV1, 2, offer_id=x, capacity=20)
    x1 = rm.offer(OfferPublishedV1, 1, offer_id=x, capacity=12)
    y1 = rm.offer(OfferPublishedV1, 1, offer_id=y, title="Premier")
    y1_again = rm.offer(OfferUpdatedV1, 1, offer_id=y, title="Second, même version")
    z1 = rm.offer(OfferPublishedV1, 1, offer_id=z, capacity=12)
    z2 = rm.offer(OfferUpdatedV1, 2, offer_id=z, capacity=8)
    # The update overtakes the publication and comes twice; a second event at one version.
    offers = [x2, x1, x2, y1, y1_again, z1, z2]
    n1 = rm.need(NeedPublishedV1, 1, need_id=n, quantity=2)
    n2 = rm.need(NeedUpdatedV1, 2, need_id=n, quantity=4)
    await rm.send(Topic.OFFERS, *offers)
    await rm.send(Topic.NEEDS, n1, n2)
    async with rm.member():
        await eventually(lambda: rm.applied(*offers, n1, n2), timeout=60)

    stored = await rm.stored("offers", "offer_id")
    assert {k: v for k, (v, _) in stored.items()} == {x: 2, y: 1, z: 2}
    assert stored[x][1]["asset"]["capacity"] == 20 and stored[z][1]["asset"]["capacity"] == 8
    assert stored[y][1]["title"] == "Premier"
    needs = await rm.stored("needs", "need_id")
    assert needs[n][0] == 2 and needs[n][1]["quantity"] == 4
    # One statement per table for a batch, given each aggregate once: its newest version. (The
    # records usually come in one batch; a loaded machine's fetch may cut them in two.)
    # (The calls may hold other tests' offers too: the read model reads every record.)
    ours = only(offer_calls, {x, y, z})
    assert all(len(call) == len(set(call)) for call in ours), ours
    assert set().union(*ours) == {x, y, z}
    # n's two events give one call, or two if a fetch cut them apart, or more if a batch was
    # retried one record at a time (another test's poison record on the partition): each call
    # is given n once, its newest version of the run.
    assert all(call == [n] for call in only(need_calls, {n})), need_calls
    # Only what was stored goes to the owners: never the overtaken publication of x, nor the
    # second event at y's version; z's and n's first versions only if a batch ended between.
    forwarded = await rm.forwarded()
    assert len(forwarded) == len(set(forwarded)), forwarded
    assert (
        {(x, 2), (y, 1), (z, 2), (n, 2)}
        <= set(forwarded)
        <= {(x, 2), (y, 1), (z, 1), (z, 2), (n, 1), (n, 2)}
    )
    inbox = await rm.pool.fetchval(
        "SELECT count(*) FROM inbox WHERE consumer = $1 AND event_id = $2", rm.group, x2.id
    )
    assert inbox == 1


async def test_a_poison_record_in_a_batch_is_dead_lettered_alone(
    read_model: ReadModelGroup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An offer PostgreSQL refuses (a NUL character, which jsonb cannot hold) amid good ones:
    the batch rolls back, its records are applied again one at a time, the poison is
    dead-lettered after its retries, the others are stored once, and what follows applies."""
    rm = read_model
    offer_calls = spy(monkeypatch, "save_offers")
    good = [rm.offer(OfferPublishedV1, 1, offer_id=str(uuid.uuid4())) for _ in range(6)]
    poison = rm.offer(OfferPublishedV1, 1, offer_id=str(uuid.uuid4()), title="Four\x00")
    poison_bytes = poison.model_dump_json().encode()
    await rm.send(Topic.OFFERS, *good[:3], poison, *good[3:])
    async with rm.member():
        await eventually(lambda: rm.applied(*good), timeout=60)
        after = rm.offer(OfferPublishedV1, 1, offer_id=str(uuid.uuid4()))
        await rm.send(Topic.OFFERS, after)
        await eventually(lambda: rm.applied(after), timeout=30)
        letters = await read_topic(
            rm.kafka,
            rm.consumer.dead_letter_topic,
            until=lambda records: any(r.value == poison_bytes for r in records),
        )
    mine = [r for r in letters if r.value == poison_bytes]
    assert len(mine) == 1
    assert [r for r in letters if any(e.id.encode() in r.value for e in [*good, after])] == []
    assert not await rm.applied(poison)
    stored = await rm.stored("offers", "offer_id")
    assert set(stored) == {e.data.offer_id for e in [*good, after]}
    # The batch held the poison with the others, then each was given alone.
    assert any(poison.data.offer_id in call and len(call) > 1 for call in offer_calls)
    assert [poison.data.offer_id] in offer_calls
    assert sorted(await rm.forwarded()) == sorted((e.data.offer_id, 1) for e in [*good, after])
