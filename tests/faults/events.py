"""Steps of the consumer fault tests: events put on the broker as their services publish them,
effects counted in a service's database, the consumers' outcomes read off its /metrics, and a
SIGKILL that lands after an effect committed and before its offset did."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from contracts.envelope import CloudEvent
from services.devstack.tansu import TansuBroker
from tests.faults.processes import ServiceProcess
from tests.support import eventually

# How long the figures of a held consumer must stay the same to be taken as final.
SETTLE_S = 0.5


async def publish(kafka: str, events: Sequence[CloudEvent[Any]]) -> None:
    """Put the events on their contracts' topics, keyed by subject, with one producer, in order."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka, linger_ms=5)
    await producer.start()
    try:
        for event in events:
            await producer.send(
                str(event.data.topic), event.model_dump_json().encode(), event.subject.encode()
            )
        await producer.flush()
    finally:
        await producer.stop()


async def scalar(database_url: str, sql: str, *args: Any) -> Any:
    """One value read from a service's database, on a connection of its own."""
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def inbox_counts(database_url: str, event_ids: Sequence[str]) -> dict[str, int]:
    """How many of the events each consumer group recorded in its inbox."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT consumer, count(*) AS n FROM inbox WHERE event_id = ANY($1::text[]) "
            "GROUP BY consumer",
            list(event_ids),
        )
    finally:
        await conn.close()
    return {row["consumer"]: row["n"] for row in rows}


async def consumed(url: str, outcome: str, event_type: str) -> dict[str, float]:
    """Events of `event_type` a running service's consumer groups counted with `outcome`
    (processed, duplicate, ...) since it started, by group, from its /metrics."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.get("/metrics")
    response.raise_for_status()
    return {
        sample.labels["consumer"]: sample.value
        for family in text_string_to_metric_families(response.text)
        if family.name == "mcvt_events_consumed"
        for sample in family.samples
        if sample.name.endswith("_total")
        and sample.labels.get("outcome") == outcome
        and sample.labels.get("type") == event_type
    }


@dataclass
class Cut:
    """Where a kill landed: effects applied, and events each group had processed, by then."""

    applied: int
    processed: dict[str, float]


async def kill_mid_stream(
    process: ServiceProcess,
    broker: TansuBroker | None,
    applied: Callable[[], Awaitable[int]],
    event_type: str,
    *,
    first: int = 1,
) -> Cut:
    """SIGKILL `process` once it has applied at least `first` events of `event_type`.

    With the broker at hand it is held (SIGSTOP) for the instant of the kill: the consumers
    finish the transactions they are in, then wait on the broker for their offset commits, and
    die there; so the records they applied last are delivered again after the restart, the case
    the inbox exists for. What they had processed is read off the process just before. (Without
    the broker at hand, the kill lands wherever it lands, and nothing is read.)
    """
    await eventually(lambda: at_least(applied, first), timeout=120, interval=0.02)
    if broker is None:
        process.kill()
        return Cut(await applied(), {})
    broker.pause()
    try:
        still = await eventually(
            lambda: _still(process, applied, event_type), timeout=30, interval=0
        )
        process.kill()
    finally:
        broker.resume()
    return Cut(*still)


async def _still(
    process: ServiceProcess, applied: Callable[[], Awaitable[int]], event_type: str
) -> tuple[int, dict[str, float]] | None:
    """The figures once they stay the same for a while (every transaction in flight over)."""
    before = (await applied(), await consumed(process.url, "processed", event_type))
    await asyncio.sleep(SETTLE_S)
    after = (await applied(), await consumed(process.url, "processed", event_type))
    return after if after == before else None


async def at_least(applied: Callable[[], Awaitable[int]], first: int) -> bool:
    return await applied() >= first


async def settled(applied: Callable[[], Awaitable[int]], total: int, timeout: float) -> int:
    """Wait until `total` effects are there, then a little longer for any extra one."""
    deadline = time.monotonic() + timeout
    await eventually(lambda: at_least(applied, total), timeout=timeout, interval=0.2)
    await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    return await applied()
