"""Benchmark of matching on 1, 2 and 4 replicas: proposals for a synthetic region.

For each replica count, one run starts a Tansu broker of its own and a fresh matching database on
the PostgreSQL server that DATABASE_URL names (else the one on 127.0.0.1:5432, else an embedded
one) and that many `python -m services.matching` processes in one consumer group. The region's
offers are published and applied first (every territory loaded by its owner); then one need per
territory and round is published at once, and the clock runs until every need holds its
proposals (one per offer of its territory).

Figures per replica count: proposals per second; CPU-seconds of the replica processes (from
/proc, user + system) per proposal, also net of what the replicas burn when idle (consumers
polling, heartbeats, relay, scheduler; measured over 5 s before the needs); the territories
that two replicas applied at once (spans of
`territory_tenures` that overlap), which must be 0. Ratios are against one replica measured in
the same run. The machine's cores are shared by PostgreSQL, the broker, the load and the
replicas, so the throughput ratio is reported, not targeted. Target (issue 15): CPU-seconds per
proposal with 2 replicas <= 1.15 x one.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from benchmarks.backbone import Report, load_average, progress, run_on_local_stack
from benchmarks.market import van_need, van_offer
from contracts.envelope import CloudEvent, EventPayload, new_event
from contracts.needs import NeedPublishedV1
from contracts.offers import OfferPublishedV1
from contracts.topics import Topic
from services.devstack.ports import free_port
from services.devstack.postgres import create_database, drop_database
from services.devstack.runner import EchoFilter, Service, start_service, wait_all_ready
from services.devstack.tansu import start_tansu
from services.matching import projection
from services.matching.readmodel import ReadModel

ROOT = Path(__file__).resolve().parent.parent
DIE = {"lat": 44.7536, "lon": 5.3700, "commune": "Die"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def offer_payload(territory_id: str) -> OfferPublishedV1:
    start = datetime.now(UTC) - timedelta(days=1)
    return van_offer(territory_id, DIE, valid_from=start, capacity=100)


def need_payload(territory_id: str) -> NeedPublishedV1:
    expires = datetime.now(UTC) + timedelta(days=60)
    return van_need(territory_id, DIE, expires_at=expires, max_unit_price=40)


def envelope(payload: EventPayload, subject: str, territory_id: str) -> CloudEvent[Any]:
    return new_event(payload, subject=subject, territory=territory_id, source="/bench")


async def publish(bootstrap: str, topic: str, events: Sequence[CloudEvent[Any]]) -> None:
    """Send the events keyed by subject in batches, then wait for every acknowledgement."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, e.model_dump_json().encode(), key=e.subject.encode())
            for e in events
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def resident_bytes() -> int:
    """This process's resident set, from /proc/self/statm."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def index_memory(offers: int, needs: int) -> tuple[float, float]:
    """Resident bytes per offer and per need held in one territory's indexes, loaded as an
    owner loads them (views of stored payloads); the payloads themselves are not kept."""
    territory = str(uuid.uuid4())
    model = ReadModel()
    gc.collect()
    before = resident_bytes()
    views = (projection.matchable_offer(offer_payload(territory)) for _ in range(offers))
    model.load((view for view in views if view is not None), (), ())
    gc.collect()
    middle = resident_bytes()
    stored = (need_payload(territory).model_dump(mode="json") for _ in range(needs))
    model.load((), projection.need_views(stored, model.policy), ())
    gc.collect()
    after = resident_bytes()
    assert len(model.offers) == offers and len(model.needs) == needs
    return (middle - before) / offers, (after - middle) / needs


def resident_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass(frozen=True)
class Round:
    replicas: int
    proposals: int
    seconds: float
    cpu_s: float
    idle_cpu_s: float  # what the replicas burn meanwhile when idle (polling, heartbeats)
    overlaps: int
    owners: int
    rss_mb: float  # resident set of the largest replica once every need is proposed

    @property
    def rate(self) -> float:
        return self.proposals / self.seconds

    @property
    def cpu_per_proposal(self) -> float:
        return self.cpu_s / self.proposals

    @property
    def net_cpu_per_proposal(self) -> float:
        return (self.cpu_s - self.idle_cpu_s) / self.proposals


_OVERLAPS = """
SELECT count(DISTINCT a.territory_id) FROM territory_tenures a
JOIN territory_tenures b ON a.territory_id = b.territory_id AND a.replica < b.replica
WHERE a.first_at <= b.last_at AND b.first_at <= a.last_at
"""


def environment(
    bootstrap: str, database_url: str, group: str, name: str, port: int
) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_ENABLE_IDEMPOTENCE": "false",
        "KAFKA_TOPIC_PARTITIONS": "12",
        "KAFKA_FETCH_MAX_WAIT_MS": "20",
        "JWKS_URL": "http://127.0.0.1:9/.well-known/jwks.json",  # no token is verified here
        "CONSUMER_GROUP": group,
        # One access group for all the replicas, as in production (`matching.access`): a group
        # per replica would have each of them poll every partition of mcvt.actors.
        "ACCESS_CONSUMER_GROUP": f"{group}.access",
        "REPLICA_ID": name,
        "LOG_LEVEL": "WARNING",
    }


def start_replicas(
    count: int, bootstrap: str, database_url: str, group: str, folder: Path
) -> list[Service]:
    services = []
    for n in range(count):
        port = free_port()
        service = Service("matching", port, folder / f"bench-matching-{count}-{n}.log")
        env = environment(bootstrap, database_url, group, f"r{n}", port)
        start_service(service, env, threading.Event(), EchoFilter())
        services.append(service)
    wait_all_ready(services, 300)
    return services


def stop_replicas(services: Sequence[Service]) -> None:
    for service in services:
        if service.process is not None and service.running():
            service.process.terminate()
            service.process.wait(30)


async def one_round(server: str, bootstrap: str, count: int, args: argparse.Namespace) -> Round:
    name = f"mcvt_bench_replicas_{count}_{uuid.uuid4().hex[:8]}"
    database_url = await create_database(server, name)
    group = f"matching.read-model.bench.{uuid.uuid4().hex[:8]}"
    territories = [str(uuid.uuid4()) for _ in range(args.territories)]
    folder = ROOT / ".run"
    progress(f"{count} replica(s): starting")
    services = await asyncio.to_thread(
        start_replicas, count, bootstrap, database_url, group, folder
    )
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        offers = [
            envelope(payload, payload.offer_id, t)
            for t in territories
            for payload in (offer_payload(t) for _ in range(args.offers))
        ]
        await publish(bootstrap, Topic.OFFERS, offers)

        async def loaded() -> bool:
            held = await pool.fetchval("SELECT count(DISTINCT territory_id) FROM territory_tenures")
            return bool(held == len(territories))

        progress(f"{count} replica(s): offers published, waiting for every territory's owner")
        if not await _wait(loaded, 300):
            raise RuntimeError("the owners did not apply every territory's offers in 300 s")
        expected = args.territories * args.rounds * args.offers
        needs = [
            envelope(payload, payload.need_id, t)
            for _ in range(args.rounds)
            for t in territories
            for payload in (need_payload(t),)
        ]
        pids = [s.process.pid for s in services if s.process is not None]
        idle_rate = await idle_cpu_rate(pids)
        cpu_before = sum(cpu_seconds(pid) for pid in pids)
        started = time.perf_counter()
        await publish(bootstrap, Topic.NEEDS, needs)

        async def proposed() -> bool:
            done = await pool.fetchval("SELECT count(*) FROM matches")
            return bool(done >= expected)

        if not await _wait(proposed, 600):
            raise RuntimeError(f"fewer than {expected} proposals after 600 s")
        seconds = time.perf_counter() - started
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
        overlaps = int(await pool.fetchval(_OVERLAPS))
        owners = int(await pool.fetchval("SELECT count(DISTINCT replica) FROM territory_tenures"))
        total = int(await pool.fetchval("SELECT count(*) FROM matches"))
        rss_mb = max(resident_mb(pid) for pid in pids)
    finally:
        await pool.close()
        await asyncio.to_thread(stop_replicas, services)
        await drop_database(server, name)
    return Round(count, total, seconds, cpu, idle_rate * seconds, overlaps, owners, rss_mb)


async def idle_cpu_rate(pids: Sequence[int], settle_s: float = 3.0, window_s: float = 5.0) -> float:
    """CPU-seconds per second the replicas spend with nothing to do, once the offers settled."""
    await asyncio.sleep(settle_s)
    before = sum(cpu_seconds(pid) for pid in pids)
    await asyncio.sleep(window_s)
    return (sum(cpu_seconds(pid) for pid in pids) - before) / window_s


async def _wait(check: Any, limit_s: float) -> bool:
    """Poll an async check every 0.2 s until it holds or `limit_s` runs out."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.2)
    return False


async def bench(server: str, bootstrap: str, args: argparse.Namespace) -> Report:
    report = Report()
    report.setting.append(
        f"{args.territories} territories x {args.offers} offers; {args.rounds} need(s) per "
        f"territory published at once; internal topic of 24 partitions; load {load_average()}"
    )
    rounds = []
    for count in args.replicas:
        # A broker of its own: a new group reads the public topics from their beginning.
        with start_tansu(log_path=ROOT / ".run" / f"bench-replicas-tansu-{count}.log") as tansu:
            rounds.append(await one_round(server, tansu.bootstrap_servers, count, args))
    base = rounds[0]
    for n, done in enumerate(rounds, start=1):
        report.add(
            f"({n}) {done.replicas} replica(s)",
            f"{done.rate:.0f} proposals/s, {done.cpu_per_proposal * 1000:.2f} CPU-ms/proposal "
            f"({done.net_cpu_per_proposal * 1000:.2f} beyond idle)",
            f"{done.proposals} proposals in {done.seconds:.1f} s by {done.owners} replica(s); "
            f"throughput x{done.rate / base.rate:.2f}, CPU/proposal "
            f"x{done.cpu_per_proposal / base.cpu_per_proposal:.2f} "
            f"(beyond idle x{done.net_cpu_per_proposal / base.net_cpu_per_proposal:.2f}) "
            f"of {base.replicas}; "
            f"territories handled by two replicas at once: {done.overlaps}; "
            f"largest replica's RSS {done.rss_mb:.0f} MB",
        )
    per_offer, per_need = index_memory(10_000, 10_000)
    report.add(
        f"({len(rounds) + 1}) index memory",
        f"{per_offer / 1024:.1f} KB per offer, {per_need / 1024:.1f} KB per need",
        "resident growth of one process loading 10,000 offers then 10,000 needs into a "
        "territory's indexes, as an owner loads them",
    )
    for done in rounds[1:]:
        if done.replicas == 2:
            ratio = done.cpu_per_proposal / base.cpu_per_proposal
            report.target("CPU-seconds per proposal, 2 replicas / 1", ratio, 1.15, at_least=False)
            net = done.net_cpu_per_proposal / base.net_cpu_per_proposal
            report.target("the same beyond the replicas' idle CPU", net, 1.15, at_least=False)
    overlaps = sum(done.overlaps for done in rounds)
    report.targets.append(
        f"territories handled by two replicas at once: {overlaps} "
        f"(target 0) {'met' if overlaps == 0 else 'MISSED'}"
    )
    return report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--territories", type=int, default=200, help="territories in the region")
    parser.add_argument("--offers", type=int, default=3, help="offers per territory")
    parser.add_argument("--rounds", type=int, default=1, help="needs per territory")
    parser.add_argument(
        "--replicas", type=int, nargs="+", default=[1, 2, 4], help="replica counts, first = base"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    run_on_local_stack("matching_replicas", bench, parse_args(argv))


if __name__ == "__main__":
    main()
