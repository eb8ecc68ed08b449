"""Exactly-once effects over the real broker, with a handler that is not idempotent by itself.

Every run of the throwaway handler appends a row, so each test counts rows: one per event, however
often and to whichever members of the group the event was delivered.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

import services.runtime.consumer as consumer_module
from services.runtime.consumer import ConsumerRuntime, EventConsumer, Record, process_record
from tests.runtime.throwaway import evict, throwaway
from tests.support import eventually


async def test_the_same_event_delivered_twice_leaves_one_effect(
    outbox_pool: asyncpg.Pool, kafka: str
) -> None:
    async with throwaway(kafka, outbox_pool) as t:
        event = t.event(1)
        runtime = t.runtime()
        async with t.member(runtime):
            await t.send(event)
            await t.send(event)
            await eventually(lambda: runtime.processed >= 2)
        assert await t.effects(event.id) == 1
        assert t.attempts[event.id] == 1  # the second delivery never reached the handler
        assert await t.in_inbox(event.id)


async def test_redelivered_after_a_crash_between_commit_and_offset_commit_leaves_one_effect(
    outbox_pool: asyncpg.Pool, kafka: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first member's process stops dead after the record's transaction committed and
    before FastStream committed its offset; a second member of the group gets the record again."""
    async with throwaway(kafka, outbox_pool) as t:
        event = t.event(1)
        first, second = t.runtime("first"), t.runtime("second")
        committed = asyncio.Event()

        async def dies_before_the_ack(
            consumer: EventConsumer, runtime: ConsumerRuntime, record: Record
        ) -> None:
            await process_record(consumer, runtime, record)
            if runtime is first:
                committed.set()
                await asyncio.Event().wait()  # frozen until the member is torn down

        monkeypatch.setattr(consumer_module, "process_record", dies_before_the_ack)
        await t.send(event)
        async with t.member(first, graceful_timeout=0.1):
            await asyncio.wait_for(committed.wait(), 20)
            assert await t.effects(event.id) == 1
        # The member is gone, its handler cancelled at shutdown: the record's offset was never
        # committed.
        async with t.member(second):
            await eventually(lambda: second.processed >= 1)
        assert await t.effects(event.id) == 1
        assert (first.processed, second.processed) == (1, 1)
        assert t.attempts[event.id] == 1


async def test_an_event_in_flight_at_a_member_evicted_mid_handler_is_applied_once(
    outbox_pool: asyncpg.Pool, kafka: str
) -> None:
    """Two members hold the same record at once: the first is still inside the handler's
    transaction when it loses its membership (as when its session or poll interval expires);
    the group hands the record to the second, whose inbox insert waits for the first
    transaction and then finds the event done."""
    async with throwaway(kafka, outbox_pool) as t:
        held = t.event(1, behaviour="hold")
        evicted, survivor = t.runtime("evicted"), t.runtime("survivor")
        await t.send(held)
        async with t.member(evicted) as evicted_broker:
            await asyncio.wait_for(t.holding.wait(), 20)
            async with t.member(survivor):
                await evict(evicted_broker)

                async def survivor_waits_on_the_inbox_row() -> bool:
                    return bool(
                        await outbox_pool.fetchval(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                        )
                    )

                await eventually(survivor_waits_on_the_inbox_row)
                t.gate.set()
                await eventually(lambda: survivor.processed >= 1)
        rows = await outbox_pool.fetch("SELECT member FROM effects WHERE event_id = $1", held.id)
        assert [row["member"] for row in rows] == ["evicted"]
        assert t.attempts[held.id] == 1


async def test_events_spread_over_a_group_that_grows_and_shrinks_apply_once_each(
    outbox_pool: asyncpg.Pool, kafka: str
) -> None:
    """A member joins mid-stream, then the first is evicted while inside a handler: the record
    it was applying goes to the other member too, and every event still has one effect."""
    async with throwaway(kafka, outbox_pool) as t:
        events = [t.event(n, behaviour="slow") for n in range(300)]
        a, b = t.runtime("a"), t.runtime("b")
        async with t.member(a) as member_a:
            for event in events:
                await t.send(event)
            await eventually(lambda: a.processed >= 60)
            async with t.member(b):  # joins mid-stream: partitions move to it
                await eventually(lambda: b.processed >= 20)
                await eventually(lambda: a.processed + b.processed >= 180)
                await eventually(lambda: "a" in t.busy, interval=0.001)
                await evict(member_a)  # mid-handler: b takes every partition

                async def all_applied() -> bool:
                    return await t.effects() >= len(events)

                await eventually(all_applied, timeout=60)
                await asyncio.sleep(0.5)  # anything redelivered late would land now
        counts = await outbox_pool.fetch("SELECT event_id, count(*) AS n FROM effects GROUP BY 1")
        assert {row["event_id"]: row["n"] for row in counts} == {e.id: 1 for e in events}
        # One group: each member took a share, neither read the topic whole.
        assert 0 < a.processed < len(events) and 0 < b.processed < len(events)
        print(f"deliveries {a.processed + b.processed} for {len(events)} events")
        assert a.processed + b.processed > len(events)  # the evicted member's record came twice
