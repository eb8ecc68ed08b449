"""The relay's record batches: the partition a key gets, and a record bigger than a batch."""

from __future__ import annotations

from aiokafka.partitioner import murmur2

from services.runtime.outbox import OutboxRelay, enqueue
from tests.runtime.conftest import actor_event, new_subject
from tests.support import events_of, read_topic

PARTITIONS = 4  # as the `producer` fixture creates the topics


def kafka_partition(key: bytes) -> int:
    """The partition Kafka's default partitioner (the Java client's too) gives a key."""
    return (murmur2(key) & 0x7FFFFFFF) % PARTITIONS


async def test_each_aggregate_lands_in_the_partition_its_key_hashes_to(
    outbox_pool, producer, kafka
) -> None:
    subjects = [new_subject() for _ in range(40)]
    events = [actor_event(s, f"n{i}") for i in range(2) for s in subjects]
    async with outbox_pool.acquire() as conn:
        await enqueue(conn, *events)
        assert await OutboxRelay(outbox_pool, producer).drain_once(conn) == len(events)
    wanted = {e.id for e in events}
    records = await read_topic(
        kafka, "mcvt.actors", until=lambda rs: wanted <= {e["id"] for e in events_of(rs)}
    )
    ours = [r for r in records if r.key and r.key.decode() in subjects]
    assert len(ours) == len(events)
    assert all(r.partition == kafka_partition(r.key) for r in ours)
    for subject in subjects:
        assert [e["data"]["name"] for e in events_of(ours, subject=subject)] == ["n0", "n1"]


async def test_a_record_bigger_than_a_batch_is_published_in_its_place(
    outbox_pool, producer, kafka
) -> None:
    subject = new_subject()
    big_name = "x" * 300_000  # over the producer's 256 KiB batch, under its request size
    events = [actor_event(subject, name) for name in ("before", big_name, "after")]
    async with outbox_pool.acquire() as conn:
        await enqueue(conn, *events)
        assert await OutboxRelay(outbox_pool, producer).drain_once(conn) == 3
    records = await read_topic(
        kafka, "mcvt.actors", until=lambda rs: bool(events_of(rs, id=events[-1].id))
    )
    assert [e["id"] for e in events_of(records, subject=subject)] == [e.id for e in events]
