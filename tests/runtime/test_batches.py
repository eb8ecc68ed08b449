"""Batched consumption over the real broker: one transaction per partition's share of a fetch,
one offset commit per fetch, and the guarantees of record-at-a-time consumption kept.

The records of each test are produced before its member starts, so the member's first fetches
hold many of them; `Batches` records what each call of `process_batch` held, so every test can
check that it exercised batches and not single records.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

import services.runtime.consumer as consumer_module
from contracts.envelope import CloudEvent, new_event
from services.runtime.consumer import ConsumerRuntime, EventConsumer, Record, process_batch
from services.runtime.context import Context
from services.runtime.db import Connection
from tests.runtime.throwaway import Throwaway, throwaway
from tests.support import eventually

BATCH = 100
KEY = b"one-key"  # one key, so one partition, whose offsets on a fresh topic are 0, 1, 2...


class Batches:
    """The offsets each `process_batch` call was given, in call order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offsets: list[list[int]] = []

        async def spied(
            consumer: EventConsumer, runtime: ConsumerRuntime, records: Sequence[Record]
        ) -> None:
            self.offsets.append([record.offset for record in records])
            await process_batch(consumer, runtime, records)

        monkeypatch.setattr(consumer_module, "process_batch", spied)

    def holding(self, offset: int) -> list[int]:
        """The first batch that held this offset."""
        return next(batch for batch in self.offsets if offset in batch)


async def effect_order(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT event_id FROM effects ORDER BY seq")
    return [row["event_id"] for row in rows]


@pytest.mark.parametrize("side_by_side", [False, True], ids=["in-turn", "side-by-side"])
async def test_a_batch_keeps_each_keys_order(
    outbox_pool: asyncpg.Pool, kafka: str, monkeypatch: pytest.MonkeyPatch, side_by_side: bool
) -> None:
    batches = Batches(monkeypatch)
    async with throwaway(kafka, outbox_pool, batch=BATCH, partitions_at_once=side_by_side) as t:
        keys = [f"key-{k}".encode() for k in range(4)]
        sent: dict[bytes, list[str]] = {key: [] for key in keys}
        for n in range(200):
            key = keys[n % len(keys)]
            event = t.event(n)
            sent[key].append(event.id)
            await t.send(event, key=key)
        runtime = t.runtime()
        async with t.member(runtime):
            await eventually(lambda: runtime.processed >= 200)
        order = await effect_order(outbox_pool)
        assert len(order) == 200
        for ids in sent.values():
            assert [i for i in order if i in set(ids)] == ids
        assert max(len(batch) for batch in batches.offsets) > 1


async def test_offsets_are_committed_once_per_batch(
    outbox_pool: asyncpg.Pool, kafka: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = Batches(monkeypatch)
    commits = 0
    commit = AIOKafkaConsumer.commit

    async def counted(self: AIOKafkaConsumer, *args: Any, **kwargs: Any) -> None:
        nonlocal commits
        commits += 1
        await commit(self, *args, **kwargs)

    monkeypatch.setattr(AIOKafkaConsumer, "commit", counted)
    async with throwaway(kafka, outbox_pool, batch=BATCH) as t:
        for n in range(150):
            await t.send(t.event(n), key=KEY)
        runtime = t.runtime()
        async with t.member(runtime):
            await eventually(lambda: runtime.processed >= 150)
            await eventually(lambda: commits >= len(batches.offsets))
            await asyncio.sleep(0.3)  # a commit per record would have landed by now
            assert commits == len(batches.offsets) < 150
        # The group's committed offsets cover every record: a new member gets only a new one.
        later = t.event(150)
        await t.send(later, key=KEY)
        next_member = t.runtime("next")
        async with t.member(next_member):
            await eventually(lambda: next_member.processed >= 1)
            await asyncio.sleep(0.3)
        assert next_member.processed == 1
        assert await t.effects() == 151


async def test_a_redelivered_batch_applies_nothing_twice(
    outbox_pool: asyncpg.Pool, kafka: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every other event is sent twice in a row (the same batch), then, once the group has
    applied them, all of them again (a later batch): the handler, which appends a row per run,
    runs once per event."""
    batches = Batches(monkeypatch)
    async with throwaway(kafka, outbox_pool, batch=BATCH) as t:
        events = [t.event(n) for n in range(40)]
        for event in events:
            await t.send(event, key=KEY)
            if event.data.n % 2:
                await t.send(event, key=KEY)
        runtime = t.runtime()
        async with t.member(runtime):
            await eventually(lambda: runtime.processed >= 60)
        first_batches = len(batches.offsets)
        for event in events:
            await t.send(event, key=KEY)
        async with t.member(runtime):
            await eventually(lambda: runtime.processed >= 100)
        assert runtime.processed == 100
        for event in events:
            assert await t.effects(event.id) == 1
            assert t.attempts[event.id] == 1
        assert max(len(batch) for batch in batches.offsets[:first_batches]) > 1
        assert max(len(batch) for batch in batches.offsets[first_batches:]) > 1


async def test_a_crash_between_the_batch_and_its_offset_commit_applies_nothing_twice(
    outbox_pool: asyncpg.Pool, kafka: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first member's process stops dead after its batches' transactions committed and
    before their offsets were: a second member of the group gets every record again."""
    async with throwaway(kafka, outbox_pool, batch=BATCH) as t:
        events = [t.event(n) for n in range(50)]
        for event in events:
            await t.send(event, key=KEY)
        first, second = t.runtime("first"), t.runtime("second")
        applied = asyncio.Event()

        async def dies_before_the_ack(
            consumer: EventConsumer, runtime: ConsumerRuntime, records: Sequence[Record]
        ) -> None:
            await process_batch(consumer, runtime, records)
            if runtime is first:
                applied.set()
                await asyncio.Event().wait()  # frozen until the member is torn down

        monkeypatch.setattr(consumer_module, "process_batch", dies_before_the_ack)
        async with t.member(first, graceful_timeout=0.1):
            await asyncio.wait_for(applied.wait(), 20)
        assert 1 < first.processed <= len(events)
        async with t.member(second):
            await eventually(lambda: second.processed >= len(events))
        assert await t.effects() == len(events)
        for event in events:
            assert t.attempts[event.id] == 1
        assert [row["member"] for row in await outbox_pool.fetch("SELECT member FROM effects")] == [
            "first"
        ] * first.processed + ["second"] * (len(events) - first.processed)


async def test_a_poison_record_mid_batch_is_dead_lettered_alone(
    outbox_pool: asyncpg.Pool, kafka: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rejected event and a record that is no event, amid good ones: the batch rolls back,
    those two go to the dead-letter topic, every other event applies once, and the partition
    moves on to what comes after."""
    batches = Batches(monkeypatch)
    async with throwaway(kafka, outbox_pool, batch=BATCH) as t:
        good = [t.event(n) for n in range(20)]
        rejected = t.event(100, behaviour="reject")
        for event in good[:7]:
            await t.send(event, key=KEY)
        await t.send(rejected, key=KEY)  # offset 7
        for event in good[7:14]:
            await t.send(event, key=KEY)
        await t.send(b"not an event", key=KEY)  # offset 15
        for event in good[14:]:
            await t.send(event, key=KEY)
        runtime = t.runtime()
        async with t.member(runtime):
            await eventually(lambda: runtime.processed >= len(good) and runtime.dead_lettered >= 2)
            after = t.event(200)
            await t.send(after, key=KEY)
            await eventually(lambda: t.attempts[after.id] >= 1)
            letters = await t.dead_letters(at_least=2)
        assert sorted(int(dict(r.headers)["dlq-original-offset"]) for r in letters) == [7, 15]
        assert {r.value for r in letters} == {rejected.model_dump_json().encode(), b"not an event"}
        assert runtime.dead_lettered == 2
        assert await t.effects(rejected.id) == 0
        for event in [*good, after]:
            assert await t.effects(event.id) == 1
        # The rejected event was in a batch with others, which were rolled back and run again.
        together = batches.holding(7)
        assert len(together) > 1
        assert all(t.attempts[good[o].id] == 2 for o in together if o < 7)


async def test_a_handler_fault_rolls_the_batch_back_and_it_is_tried_again(
    outbox_pool: asyncpg.Pool, kafka: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = Batches(monkeypatch)
    async with throwaway(kafka, outbox_pool, batch=BATCH) as t:
        events = [t.event(n, behaviour="fail-once" if n == 5 else "apply") for n in range(12)]
        for event in events:
            await t.send(event, key=KEY)
        runtime = t.runtime()
        async with t.member(runtime):
            await eventually(lambda: runtime.processed >= len(events))
        assert runtime.dead_lettered == 0
        assert await effect_order(outbox_pool) == [event.id for event in events]
        assert t.attempts[events[5].id] == 2
        together = batches.holding(5)
        assert len(together) > 1
        # What ran before the fault in its batch left nothing and ran again.
        assert all(t.attempts[events[o].id] == 2 for o in together if o < 5)
        assert all(t.attempts[events[o].id] == 1 for o in together if o > 5)


# --- partitions side by side ---------------------------------------------------------------------


async def _two_partitions(t: Throwaway, first: CloudEvent[Any], second: CloudEvent[Any]) -> None:
    """Send `first`, then `second` under keys that put it in another partition."""
    taken = await t.send(first, key=b"key-0")
    for k in range(1, 64):
        # Tried on a look-alike first: only the key that lands elsewhere sends `second`.
        if await t.send(t.event(1000 + k), key=f"key-{k}".encode()) != taken:
            await t.send(second, key=f"key-{k}".encode())
            return
    raise AssertionError("no key landed in another partition")


async def test_partitions_side_by_side_are_applied_at_once(
    outbox_pool: asyncpg.Pool, kafka: str
) -> None:
    """Two held events in two partitions of one fetch are held at the same time: one
    partition's transaction does not wait for the other's."""
    async with throwaway(kafka, outbox_pool, batch=BATCH, partitions_at_once=True) as t:
        one, two = t.event(1, behaviour="hold"), t.event(2, behaviour="hold")
        await _two_partitions(t, one, two)
        runtime = t.runtime()
        async with t.member(runtime):
            await eventually(lambda: t.held == {one.id, two.id})
            t.gate.set()
            await eventually(lambda: runtime.processed >= 3)
            await eventually(lambda: t.effects(two.id))
        assert await t.effects(one.id) == await t.effects(two.id) == 1


async def test_an_outage_in_one_partition_rolls_the_others_back_and_nothing_applies_twice(
    outbox_pool: asyncpg.Pool, kafka: str
) -> None:
    """The database goes away under one partition's transaction while the other's is still
    open: that one is cancelled, so rolled back, the fetch is delivered again, and every
    event applies once."""
    async with throwaway(kafka, outbox_pool, batch=BATCH, partitions_at_once=True) as t:
        held, broken = t.event(1, behaviour="hold"), t.event(2, behaviour="outage-while-held")
        await _two_partitions(t, held, broken)
        runtime = t.runtime()
        async with t.member(runtime):
            # Cancelled by the outage, the held event is tried again with the whole fetch.
            await eventually(lambda: t.attempts[held.id] >= 2)
            t.gate.set()
            await eventually(lambda: t.attempts[broken.id] >= 2)
            await eventually(lambda: t.effects(broken.id))
            await eventually(lambda: t.effects(held.id))
        assert t.attempts[held.id] == 2  # its first transaction was rolled back
        assert t.attempts[broken.id] == 2
        assert runtime.dead_lettered == 0
        rows = await outbox_pool.fetch("SELECT event_id, count(*) AS n FROM effects GROUP BY 1")
        assert {row["n"] for row in rows} == {1}
        assert len(rows) == len(t.attempts)  # every event tried applied once, no more


# --- batch handlers: a partition's new events at once -------------------------------------------


async def test_a_batch_handler_gets_each_new_event_once_in_each_keys_order(
    outbox_pool: asyncpg.Pool, kafka: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every other event is sent twice in a row (the same batch), then, once the group has
    applied them, all of them again: the batch handler is called with runs of several events,
    and never with one the inbox has seen."""
    Batches(monkeypatch)
    async with throwaway(kafka, outbox_pool, batch=BATCH, batch_handler=True) as t:
        events = [t.event(n) for n in range(60)]
        keys = [f"key-{k}".encode() for k in range(3)]
        for event in events:
            await t.send(event, key=keys[event.data.n % 3])
            if event.data.n % 2:
                await t.send(event, key=keys[event.data.n % 3])
        runtime = t.runtime()
        async with t.member(runtime):
            await eventually(lambda: runtime.processed >= 90)
        first_runs = len(t.runs)
        for event in events:
            await t.send(event, key=keys[event.data.n % 3])
        async with t.member(runtime):
            await eventually(lambda: runtime.processed >= 150)
        assert runtime.processed == 150
        assert len(t.runs) == first_runs  # the redelivered batches held nothing new
        assert sorted(n for run in t.runs for n in run) == list(range(60))
        for event in events:
            assert await t.effects(event.id) == 1
            assert t.attempts[event.id] == 1
        order = await effect_order(outbox_pool)
        for k in range(3):
            ids = [event.id for event in events if event.data.n % 3 == k]
            assert [i for i in order if i in set(ids)] == ids
        assert max(len(run) for run in t.runs) > 1


async def test_a_batch_handlers_runs_keep_the_partitions_order_with_other_handlers(
    outbox_pool: asyncpg.Pool, kafka: str
) -> None:
    """Ticks (batch handler) and other events (a record handler) interleaved on one key: the
    effects follow the offsets, each call of the batch handler a stretch of ticks between two
    other events."""
    async with throwaway(kafka, outbox_pool, batch=BATCH, batch_handler=True) as t:

        async def on_other(conn: Connection, event: CloudEvent[Any], ctx: Context) -> None:
            await conn.execute(
                "INSERT INTO effects (event_id, member) VALUES ($1, 'other')", event.id
            )

        t.consumer.on(t.other)(on_other)
        sent: list[CloudEvent[Any]] = []
        for n in range(40):
            if n % 7 == 3:
                sent.append(new_event(t.other(n=n), subject="o", territory="t", source="/test"))
            else:
                sent.append(t.event(n))
            await t.send(sent[-1], key=KEY)
        runtime = t.runtime()
        async with t.member(runtime):
            await eventually(lambda: runtime.processed >= len(sent))
        assert await effect_order(outbox_pool) == [event.id for event in sent]
        others = {n for n in range(40) if n % 7 == 3}
        for run in t.runs:
            assert run == list(range(run[0], run[-1] + 1)) and not others & set(run)
        assert max(len(run) for run in t.runs) > 1


async def test_a_poison_event_in_a_batch_handlers_run_is_dead_lettered_alone(
    outbox_pool: asyncpg.Pool, kafka: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rejected event amid good ones, all given to the batch handler at once: the run rolls
    back, the batch is applied again one event per call, the rejected one goes to the
    dead-letter topic alone, the others apply once, and the partition moves on."""
    batches = Batches(monkeypatch)
    async with throwaway(kafka, outbox_pool, batch=BATCH, batch_handler=True) as t:
        good = [t.event(n) for n in range(20)]
        rejected = t.event(100, behaviour="reject")
        for event in good[:9]:
            await t.send(event, key=KEY)
        await t.send(rejected, key=KEY)  # offset 9
        for event in good[9:]:
            await t.send(event, key=KEY)
        runtime = t.runtime()
        async with t.member(runtime):
            await eventually(lambda: runtime.processed >= len(good) and runtime.dead_lettered >= 1)
            after = t.event(200)
            await t.send(after, key=KEY)
            await eventually(lambda: t.attempts[after.id] >= 1)
            letters = await t.dead_letters(at_least=1)
        assert [int(dict(r.headers)["dlq-original-offset"]) for r in letters] == [9]
        assert letters[0].value == rejected.model_dump_json().encode()
        assert runtime.dead_lettered == 1
        assert await t.effects(rejected.id) == 0
        for event in [*good, after]:
            assert await t.effects(event.id) == 1
        together = batches.holding(9)
        assert len(together) > 1
        # The run that held it was rolled back; then each of its batch's events had a call
        # of its own, the rejected one among them.
        assert any(100 in run and len(run) > 1 for run in t.runs)
        assert [100] in t.runs
        assert all(t.attempts[good[o].id] == 2 for o in together if o < 9)
