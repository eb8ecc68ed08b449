"""Benchmark of a read model rebuilt from offset 0: matching's, batched against one at a time.

One run starts its own Tansu broker, publishes 100,000 offers and 10,000 needs (spread over 200
territories) to mcvt.offers and mcvt.needs with four partitions each, then reads them back from
offset 0 three ways, in this order:

(1) raw: a plain aiokafka consumer assigned every partition, counting records, nothing else;
    then the same consumer validating each record against its contract as the group does
    (`EventConsumer.parse`), storing nothing: the most a rebuild that validates every record
    can reach here;
(2) batched: matching's read-model consumer group as the service subscribes it (batches of
    `EventConsumer.READ_MODEL_BATCH`, its batch handlers writing each partition's share of a
    fetch with one inbox statement and one statement per table), in a shadow read model
    (proposing nothing, so no forward to the owners and no index), on a fresh database with
    matching's migrations;
(3) one at a time: the same group with batches off (the same handlers, one event per call and
    per transaction), on another fresh database. Far slower, it is measured over its first
    `--single-records` records, not the whole backlog.

Each rate counts from the first record consumed to the last, so the group's join is not in it.
The broker, PostgreSQL and Python share this machine's cores: the load average is printed, and
each read's processor time per record, of this process, of PostgreSQL's processes and of the
broker's, over the same stretch. From (2)'s, the most this machine's cores allow a rebuild
doing that work: (6), its rate were every core busy with it and nothing else.
Targets (issue 15): (2) >= 10 x (3) and (2) >= 0.3 x (1).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faststream.kafka import KafkaBroker

from benchmarks.backbone import PARTITIONS, Report, load_average, progress, run_on_local_stack
from benchmarks.market import van_need, van_offer
from contracts.envelope import new_event
from contracts.needs import NeedPublishedV1
from contracts.offers import OfferPublishedV1
from contracts.topics import Topic
from services.devstack.postgres import create_database, drop_database
from services.matching.app import MIGRATIONS
from services.matching.consumers import read_model_consumer
from services.matching.ownership import Territories
from services.runtime.consumer import ConsumerRuntime, EventConsumer, subscribe
from services.runtime.db import create_pool, migrate
from services.runtime.kafka import ensure_topics, make_producer
from services.runtime.settings import ServiceSettings

TERRITORIES = 200
START = datetime(2026, 6, 1, tzinfo=UTC)


# --- the published market -----------------------------------------------------------------------


def _place(rng: random.Random, territory: int) -> dict[str, Any]:
    """A point within about 10 km of the territory's centre, territories spread over France."""
    lat = 43.0 + (territory % 20) * 0.3 + rng.uniform(-0.09, 0.09)
    lon = -1.0 + (territory // 20) * 0.6 + rng.uniform(-0.12, 0.12)
    return {"lat": lat, "lon": lon, "commune": f"Commune {territory}"}


def _offer(rng: random.Random, territory_id: str, place: dict[str, Any]) -> OfferPublishedV1:
    return van_offer(
        territory_id,
        place,
        valid_from=START,
        capacity=rng.choice((8, 12, 20)),
        unit_price=rng.randrange(20, 60),
        start_minute=420 + 60 * rng.randrange(4),
    )


def _need(rng: random.Random, territory_id: str, place: dict[str, Any]) -> NeedPublishedV1:
    expires = START + timedelta(days=300)
    return van_need(territory_id, place, expires_at=expires, quantity=rng.choice((4, 8)))


async def publish_market(bootstrap: str, offers: int, needs: int) -> None:
    """Produce the offers then the needs, keyed by aggregate as the relays send them."""
    rng = random.Random(15)
    territories = [str(uuid.uuid4()) for _ in range(TERRITORIES)]
    producer = make_producer(ServiceSettings(kafka_bootstrap_servers=bootstrap))
    await producer.start()
    try:
        for n in range(offers + needs):
            territory = n % TERRITORIES
            place = _place(rng, territory)
            payload: OfferPublishedV1 | NeedPublishedV1
            if n < offers:
                payload = _offer(rng, territories[territory], place)
                subject = payload.offer_id
            else:
                payload = _need(rng, territories[territory], place)
                subject = payload.need_id
            event = new_event(
                payload, subject=subject, territory=payload.territory_id, source="/bench"
            )
            await producer.send(
                str(payload.topic), event.model_dump_json().encode(), key=subject.encode()
            )
            if n % 5000 == 4999:
                await producer.flush()
        await producer.flush()
    finally:
        await producer.stop()


# --- the three reads ----------------------------------------------------------------------------


SIDES = ("Python", "PostgreSQL", "broker")


def processor_seconds() -> dict[str, float]:
    """Processor seconds used so far by this process, PostgreSQL's processes and the broker's."""
    used = dict.fromkeys(SIDES, 0.0)
    used["Python"] = time.process_time()
    for process in psutil.process_iter(["name", "cpu_times"]):
        name, times = process.info["name"] or "", process.info["cpu_times"]
        side = "PostgreSQL" if name == "postgres" else "broker" if name.startswith("tansu") else ""
        if side and times is not None:
            used[side] += times.user + times.system
    return used


@dataclass(frozen=True)
class Reading:
    """A read's records per second and processor microseconds per record, by side."""

    rate: float
    cpu_us: dict[str, float]

    def cpu(self) -> str:
        return ", ".join(f"{side} {self.cpu_us[side]:.0f}" for side in SIDES) + " us/record"


class Clock:
    """When a reader consumed its first record and when it reached its goal."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.count_at_first = 0

    async def rate(self, count: Callable[[], int], goal: int, limit_s: float) -> Reading:
        """Records per second from the first consumed to `goal` (or to what `limit_s` allows),
        and the processor time spent meanwhile."""
        deadline = time.perf_counter() + limit_s
        used = processor_seconds()
        while count() < goal and time.perf_counter() < deadline:
            if self.first is None and count() > 0:
                self.first, self.count_at_first = time.perf_counter(), count()
                used = processor_seconds()
            await asyncio.sleep(0.01)
        done, end = count(), time.perf_counter()
        if self.first is None or done <= self.count_at_first:
            raise RuntimeError(f"only {done} of {goal} records consumed within {limit_s:g} s")
        records = done - self.count_at_first
        spent = processor_seconds()
        return Reading(
            records / (end - self.first),
            {side: (spent[side] - used[side]) / records * 1e6 for side in SIDES},
        )


async def raw_rate(
    bootstrap: str, total: int, limit_s: float, parse: Callable[[bytes], Any] | None = None
) -> Reading:
    """A plain consumer's reading; with `parse`, each record's value given to it."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    consumed = 0

    async def read() -> None:
        nonlocal consumed
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                if parse is not None:
                    for record in records:
                        parse(record.value or b"")
                consumed += len(records)

    try:
        topics = (Topic.OFFERS, Topic.NEEDS)
        consumer.assign([TopicPartition(t, p) for t in topics for p in range(PARTITIONS)])
        await consumer.seek_to_beginning()
        reader = asyncio.create_task(read())
        try:
            return await Clock().rate(lambda: consumed, total, limit_s)
        finally:
            reader.cancel()
    finally:
        await consumer.stop()


async def rebuild_rate(
    server: str,
    bootstrap: str,
    producer: AIOKafkaProducer,
    *,
    batched: bool,
    goal: int,
    limit_s: float,
) -> tuple[Reading, int]:
    """Matching's read-model group rebuilding into a fresh database; its reading and the
    offers stored."""
    name = f"mcvt_bench_rebuild_{uuid.uuid4().hex[:10]}"
    url = await create_database(server, name)
    try:
        await migrate(url, "matching", MIGRATIONS)
        pool = await create_pool(url)
        territories = Territories(replica="rebuild", proposing=False)
        consumer: EventConsumer = read_model_consumer(f"matching.rebuild.{name}", territories)
        if not batched:
            consumer.batch = None
        await ensure_topics(bootstrap, [*consumer.topics, consumer.dead_letter_topic], PARTITIONS)
        runtime = ConsumerRuntime(pool=pool, producer=producer, source="/mcvt/bench-rebuild")
        broker = KafkaBroker(bootstrap, logger=logging.getLogger("bench.broker"))
        subscribe(broker, consumer, runtime)
        await broker.start()
        try:
            rate = await Clock().rate(lambda: runtime.processed, goal, limit_s)
        finally:
            await broker.stop()
        if runtime.dead_lettered:
            raise RuntimeError(f"{runtime.dead_lettered} records dead-lettered in the rebuild")
        stored = int(await pool.fetchval("SELECT count(*) FROM offers"))
        await pool.close()
        return rate, stored
    finally:
        await drop_database(server, name)


async def bench(server: str, bootstrap: str, args: argparse.Namespace) -> Report:
    report = Report()
    report.setting.append(load_average())
    total = args.offers + args.needs
    await ensure_topics(bootstrap, [str(t) for t in Topic], PARTITIONS)
    progress(f"publishing {args.offers} offers and {args.needs} needs")
    started = time.perf_counter()
    await publish_market(bootstrap, args.offers, args.needs)
    report.setting.append(
        f"{args.offers} offers and {args.needs} needs in {TERRITORIES} territories, "
        f"{PARTITIONS} partitions per topic, published in {time.perf_counter() - started:.0f} s"
    )
    producer = make_producer(ServiceSettings(kafka_bootstrap_servers=bootstrap))
    await producer.start()
    try:
        progress("(1) raw consume")
        raw = await raw_rate(bootstrap, total, args.limit_s)
        report.add("(1) raw aiokafka consume", f"{raw.rate:,.0f} records/s", raw.cpu())
        progress("(1b) raw consume, each record validated")
        reader = read_model_consumer("matching.validate", Territories(replica="validate"))
        valid = await raw_rate(bootstrap, total, args.limit_s, reader.parse)
        report.add(
            "(1b) raw consume + validation",
            f"{valid.rate:,.0f} records/s",
            f"{valid.rate / raw.rate:.2f} x raw: the most a validating rebuild reaches "
            f"in one process; {valid.cpu()}",
        )
        progress("(2) batched rebuild")
        batched, indexed = await rebuild_rate(
            server, bootstrap, producer, batched=True, goal=total, limit_s=args.limit_s
        )
        note = f"{indexed} offers stored; {batched.cpu()}"
        report.add("(2) rebuild, batched", f"{batched.rate:,.0f} records/s", note)
        goal = min(total, args.single_records)
        progress(f"(3) rebuild one record at a time: first {goal} records")
        single, _ = await rebuild_rate(
            server, bootstrap, producer, batched=False, goal=goal, limit_s=args.limit_s
        )
        note = f"first {goal}; {single.cpu()}"
        report.add("(3) rebuild, one at a time", f"{single.rate:,.0f} records/s", note)
    finally:
        await producer.stop()
    report.add("(4) batched / one at a time", f"{batched.rate / single.rate:.1f} x")
    report.add("(5) batched / raw", f"{batched.rate / raw.rate:.2f} x")
    cores = os.cpu_count() or 1
    ceiling = cores / sum(batched.cpu_us.values()) * 1e6
    report.add(
        "(6) the most (2) reaches here",
        f"{ceiling:,.0f} records/s",
        f"{ceiling / raw.rate:.2f} x raw: {cores} cores / (2)'s processor time per record",
    )
    report.target("(4) batched / one at a time", batched.rate / single.rate, 10, at_least=True)
    report.target("(5) batched / raw", batched.rate / raw.rate, 0.3, at_least=True)
    return report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--offers", type=int, default=100_000, help="offers published")
    parser.add_argument("--needs", type=int, default=10_000, help="needs published")
    parser.add_argument(
        "--single-records",
        type=int,
        default=5_000,
        help="records the one-at-a-time rebuild is measured over",
    )
    parser.add_argument(
        "--limit-s", type=float, default=math.inf, help="give up a read after this long"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    run_on_local_stack("rebuild", bench, parse_args(argv))


if __name__ == "__main__":
    main()
