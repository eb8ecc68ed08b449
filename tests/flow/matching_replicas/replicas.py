"""Steps of the replica tests: matching processes sharing one database and one group, offers
and needs put on the broker as the offers service would publish them, and the journal of which
replica applied which territory."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from contracts.needs import NeedPublishedV1
from contracts.offers import OfferPublishedV1
from contracts.topics import Topic
from services.devstack.ports import free_port
from services.devstack.runner import EchoFilter, Service, start_service, wait_all_ready
from tests.harness import Databases
from tests.support import eventually
from tests.unit.matching.payloads import event, need_state, offer_state

PARTITIONS = 12
SESSION_TIMEOUT_MS = 3000
OFFERS_PER_TERRITORY = 3  # fewer than the default top_k: a need's set is all of them


def territories(count: int) -> list[str]:
    """Territory ids on low even partitions and high odd ones in turn (0, 7, 2, 9, 4, 11, ...),
    so that two replicas split them evenly whether the group assigns by range or round robin,
    and a third gets some of them either way (each of its shares holds one of those six
    partitions, and every one of them gets a territory once `count` >= 6)."""
    partitions = list(range(PARTITIONS))
    targets = (0, 7, 2, 9, 4, 11)
    found: list[str] = []
    while len(found) < count:
        territory = str(uuid.uuid4())
        partition = DefaultPartitioner()(territory.encode(), partitions, partitions)
        if partition == targets[len(found) % len(targets)]:
            found.append(territory)
    return found


@dataclass
class Replicas:
    """Matching replicas of one database and one consumer group."""

    kafka: str
    database_url: str
    folder: Path
    group: str = field(default_factory=lambda: f"matching.read-model.{uuid.uuid4().hex[:8]}")
    running: dict[str, Service] = field(default_factory=dict)
    # One connection for the test's reads, held throughout: on a PostgreSQL server shared with
    # other tests, a connection opened per poll can be refused once its slots are taken.
    conn: asyncpg.Connection | None = None

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        assert self.conn is not None, "opened by `replicas`"
        return list(await self.conn.fetch(sql, *args))

    def environment(self, name: str, port: int) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "PORT": str(port),
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka,
            "KAFKA_ENABLE_IDEMPOTENCE": "false",
            "KAFKA_FETCH_MAX_WAIT_MS": "20",
            "KAFKA_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
            "JWKS_URL": "http://127.0.0.1:9/.well-known/jwks.json",  # no request is made here
            "CONSUMER_GROUP": self.group,
            "ACCESS_CONSUMER_GROUP": f"{self.group}.access.{name}",
            "TERRITORY_PARTITIONS": str(PARTITIONS),
            "REPLICA_ID": name,
            "PYTHONUNBUFFERED": "1",
        }

    async def start(self, *names: str) -> None:
        services = [
            Service("matching", free_port(), self.folder / f"matching-{name}.log") for name in names
        ]
        self.running.update(zip(names, services, strict=True))
        await asyncio.to_thread(self._started, services)

    def _started(self, services: list[Service]) -> None:
        for service in services:
            name = service.log_path.stem.removeprefix("matching-")
            start_service(service, self.environment(name, service.port), threading.Event(),
                          EchoFilter())  # fmt: skip
        wait_all_ready(services, 180)

    def kill(self, name: str) -> None:
        """SIGKILL: no leave-group, no offset commit, no last transaction."""
        service = self.running.pop(name)
        assert service.process is not None
        service.process.send_signal(signal.SIGKILL)
        service.process.wait()

    def stop_all(self) -> None:
        for service in self.running.values():
            if service.process is not None and service.running():
                service.process.terminate()
                service.process.wait(20)
        self.running.clear()


@asynccontextmanager
async def replicas(databases: Databases, kafka: str, folder: Path) -> AsyncIterator[Replicas]:
    database_url = await databases.for_service("matching")
    made = Replicas(kafka, database_url, folder, conn=await asyncpg.connect(database_url))
    try:
        yield made
    finally:
        made.stop_all()
        assert made.conn is not None
        await made.conn.close()


@dataclass
class Market:
    """What the test put on the broker: offers per territory, needs published."""

    kafka: str
    territories: list[str]
    needs: dict[str, str] = field(default_factory=dict)  # need id -> territory

    async def _send(self, topic: str, events: list[Any]) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.kafka)
        await producer.start()
        try:
            for sent in events:
                value = sent.model_dump_json().encode()
                await producer.send_and_wait(topic, value=value, key=sent.subject.encode())
        finally:
            await producer.stop()

    async def publish_offers(self) -> None:
        offers = [
            event(
                OfferPublishedV1,
                offer_state(
                    offer_id=str(uuid.uuid4()),
                    provider_id=str(uuid.uuid4()),
                    territory_id=territory,
                ),
            )
            for territory in self.territories
            for _ in range(OFFERS_PER_TERRITORY)
        ]
        await self._send(Topic.OFFERS, offers)

    async def publish_needs(self, territories: list[str] | None = None) -> list[str]:
        """One need in each territory; their ids."""
        made = {}
        for territory in territories or self.territories:
            made[str(uuid.uuid4())] = territory
        needs = [
            event(
                NeedPublishedV1,
                need_state(need_id=need_id, requester_id=str(uuid.uuid4()), territory_id=t),
            )
            for need_id, t in made.items()
        ]
        await self._send(Topic.NEEDS, needs)
        self.needs.update(made)
        return list(made)


async def owners(group: Replicas, territories: list[str]) -> dict[str, set[str]]:
    """The replicas that applied each of these territories' records. Only these: the package's
    tests share a broker, and a new group replays the public topics from their beginning, so a
    test's replicas also apply the territories of the tests before it, which get no records
    after that replay."""
    rows = await group.fetch(
        "SELECT territory_id, replica FROM territory_tenures WHERE territory_id = ANY($1::text[])",
        territories,
    )
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row["territory_id"], set()).add(row["replica"])
    return found


async def overlapping_tenures(group: Replicas) -> list[tuple[str, str, str]]:
    """Territories two replicas applied at once: spans of one territory that overlap."""
    rows = await group.fetch(
        """SELECT a.territory_id, a.replica, b.replica AS other FROM territory_tenures a
           JOIN territory_tenures b ON a.territory_id = b.territory_id AND a.replica < b.replica
           WHERE a.first_at <= b.last_at AND b.first_at <= a.last_at""",
    )
    return [(r["territory_id"], r["replica"], r["other"]) for r in rows]


async def taken_over(group: Replicas, replica: str, territories: list[str]) -> datetime:
    """When `replica` had applied a first record of each of these territories (whatever the
    tenure: a later rebalance gives it tenures of its own)."""
    rows = await group.fetch(
        """SELECT max(first) AS at FROM (
               SELECT min(first_at) AS first FROM territory_tenures
               WHERE replica = $1 AND territory_id = ANY($2::text[]) GROUP BY territory_id) f""",
        replica,
        territories,
    )
    at: datetime = rows[0]["at"]
    return at


async def proposals(group: Replicas, need_ids: list[str]) -> dict[str, list[str]]:
    """The offers proposed to each need (every match, whatever its status)."""
    rows = await group.fetch(
        "SELECT need_id, offer_id FROM matches WHERE need_id = ANY($1::text[])",
        need_ids,
    )
    found: dict[str, list[str]] = {need_id: [] for need_id in need_ids}
    for row in rows:
        found[row["need_id"]].append(row["offer_id"])
    return found


async def all_proposed(group: Replicas, need_ids: list[str], timeout: float = 60) -> None:
    """Wait until every need has its set of proposals (one per offer of its territory)."""

    async def done() -> bool:
        found = await proposals(group, need_ids)
        return all(len(offers) >= OFFERS_PER_TERRITORY for offers in found.values())

    await eventually(done, timeout=timeout, interval=0.2)


async def until(check: Callable[[], Any], timeout: float = 60) -> Any:
    return await eventually(check, timeout=timeout, interval=0.2)
