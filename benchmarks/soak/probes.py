"""What the soak reads from the running stack besides its APIs: each service's outbox backlog
and its scheduler's jobs due and not yet run (from its database), each consumer group's lag
(from the broker: committed against end offsets), and each process's resident memory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

import asyncpg
import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

UNPUBLISHED = "SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL"
# The scheduler's backlog: jobs whose time has come, waiting for a worker (mails, digests...).
DUE = "SELECT count(*) FROM scheduled_jobs WHERE status = 'pending' AND due_at <= now()"
# Notifications' own queue: webhook deliveries due and not in flight.
DUE_DELIVERIES = """SELECT count(*) FROM deliveries WHERE status = 'pending'
    AND next_attempt_at <= now() AND (leased_until IS NULL OR leased_until < now())"""


class Backlogs:
    """One connection per service database, asking how many outbox rows wait for the relay."""

    def __init__(self, connections: Mapping[str, asyncpg.Connection]) -> None:
        self.connections = dict(connections)

    async def read(self) -> dict[str, int]:
        """Outbox rows waiting for the relay, per service."""
        return await self._count(UNPUBLISHED)

    async def due_jobs(self) -> dict[str, int]:
        """Scheduled jobs and webhook deliveries due and waiting for a worker, per service."""
        found = await self._count(DUE)
        for name, count in (await self._count(DUE_DELIVERIES)).items():
            found[name] = found.get(name, 0) + count
        return found

    async def _count(self, query: str) -> dict[str, int]:
        found: dict[str, int] = {}
        for name, conn in self.connections.items():
            try:
                found[name] = int(await conn.fetchval(query))
            except asyncpg.UndefinedTableError:
                continue  # a service without an outbox or a scheduler
        return found


@contextlib.asynccontextmanager
async def backlogs(database_urls: Mapping[str, str]) -> AsyncIterator[Backlogs]:
    connections: dict[str, asyncpg.Connection] = {}
    try:
        for name, url in database_urls.items():
            connections[name] = await asyncpg.connect(url)
        yield Backlogs(connections)
    finally:
        for conn in connections.values():
            await conn.close()


class Lags:
    """Each consumer group's lag: the sum over its partitions of the end offset less the
    committed offset, as the broker reports them."""

    def __init__(self, admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer) -> None:
        self.admin = admin
        self.consumer = consumer

    async def read(self) -> dict[str, int]:
        groups = sorted(str(group[0]) for group in await self.admin.list_consumer_groups())
        topics = await self.consumer.topics()
        every = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in self.consumer.partitions_for_topic(topic) or ()
        ]
        # Tansu answers an offset fetch for "every partition" (none named) with bytes aiokafka
        # cannot read: name them all.
        committed: dict[str, dict[TopicPartition, int]] = {}
        for group in groups:
            offsets = await self.admin.list_consumer_group_offsets(group, partitions=every)
            committed[group] = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
        partitions = {tp for offsets in committed.values() for tp in offsets}
        ends: dict[TopicPartition, int] = (
            await self.consumer.end_offsets(list(partitions)) if partitions else {}
        )
        return {
            group: sum(max(0, ends.get(tp, offset) - offset) for tp, offset in offsets.items())
            for group, offsets in committed.items()
        }


@contextlib.asynccontextmanager
async def lags(bootstrap_servers: str) -> AsyncIterator[Lags]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="mcvt-soak")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, client_id="mcvt-soak")
    await admin.start()
    try:
        await consumer.start()
        try:
            yield Lags(admin, consumer)
        finally:
            await consumer.stop()
    finally:
        await admin.close()


def listening(ports: Mapping[str, int]) -> dict[str, psutil.Process]:
    """The process listening on each named loopback port: each service and the broker."""
    by_port = {
        conn.laddr.port: conn.pid
        for conn in psutil.net_connections(kind="tcp")
        if conn.status == psutil.CONN_LISTEN and conn.pid is not None
    }
    return {name: psutil.Process(by_port[port]) for name, port in ports.items() if port in by_port}


def rss_mib(processes: Mapping[str, psutil.Process]) -> dict[str, float]:
    found: dict[str, float] = {}
    for name, process in processes.items():
        with contextlib.suppress(psutil.Error):
            found[name] = process.memory_info().rss / 2**20
    return found


async def wait_for(check_s: float, done: asyncio.Event) -> bool:
    """Sleep `check_s` unless `done` is set first; whether it was."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), check_s)
    return done.is_set()
