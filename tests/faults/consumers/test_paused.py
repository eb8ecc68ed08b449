"""Two processes of one consumer service in one consumer group: one paused (SIGSTOP) past its
session timeout, resumed, then killed; the events of its partitions are applied once."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner

from contracts.envelope import CloudEvent
from contracts.needs import NeedState
from services.runtime.settings import ServiceSettings
from tests.faults.consumers.cases import NO_JWKS, World, a_project, needs
from tests.faults.events import at_least, inbox_counts, publish, scalar, settled
from tests.faults.processes import SESSION_TIMEOUT_MS, ServiceProcess, environment
from tests.harness import Databases
from tests.support import eventually

WAVE = 120
APPLIED = "SELECT count(*) FROM project_needs"
PARTITIONS = ServiceSettings().kafka_topic_partitions

pytestmark = pytest.mark.long


async def test_paused_past_its_session_timeout_then_killed_each_event_applied_once(
    databases: Databases, kafka: str, tmp_path: Path
) -> None:
    """Projects, two processes on one database and in one group of `mcvt.needs`, each holding
    part of its partitions. The first is paused (SIGSTOP) for twice its session timeout while
    needs flow: the second applies those of its partitions, the first's wait (Tansu keeps a
    silent member, so the group stays as it was). Resumed, the first applies them, and nothing
    is applied twice. Then it is killed (SIGKILL) while more needs flow: the second takes over
    its partitions and applies the rest, once each."""
    database_url = await databases.for_service("projects")
    world = World(database_url)
    await a_project(world)
    env = environment(
        "projects", database_url=database_url, kafka=kafka, jwks_url=NO_JWKS, log_level="WARNING"
    )
    first = ServiceProcess("projects", env, tmp_path / "first")
    second = ServiceProcess("projects", env, tmp_path / "second")
    for process in (first, second):
        process.folder.mkdir()
    applied = functools.partial(scalar, database_url, APPLIED)
    try:
        await asyncio.gather(first.start(), second.start())
        warm_up = needs(world, WAVE)
        await publish(kafka, warm_up)
        # Both members hold partitions once the group has settled and applied the first wave.
        assert await settled(applied, WAVE, timeout=120) == WAVE

        first.pause()
        during = needs(world, WAVE)
        await publish(kafka, during)
        await asyncio.sleep(2 * SESSION_TIMEOUT_MS / 1000)
        waiting = await _not_applied(database_url, during)
        assert 0 < len(waiting) < WAVE, f"{len(waiting)} of {WAVE} waiting: not split between two"
        held = {_partition(e) for e in waiting}  # the paused member's partitions
        ids = {e.id for e in waiting}
        assert held.isdisjoint(_partition(e) for e in during if e.id not in ids)

        first.resume()
        assert await settled(applied, 2 * WAVE, timeout=120) == 2 * WAVE

        last = needs(world, WAVE)
        await publish(kafka, last)
        await eventually(lambda: at_least(applied, 2 * WAVE + 1), timeout=60, interval=0.02)
        first.kill()
        left = await _not_applied(database_url, last)
        assert await settled(applied, 3 * WAVE, timeout=120) == 3 * WAVE, second.log()
        everything = warm_up + during + last
        inbox = await inbox_counts(database_url, [e.id for e in everything])
        assert list(inbox.values()) == [3 * WAVE], inbox
        # The needs of the killed member's partitions were applied by the one left.
        assert any(_partition(e) in held for e in left), "none left for the second to take over"
    finally:
        first.stop()
        second.stop()
        await databases.drop([database_url.rsplit("/", 1)[1]])


async def _not_applied(
    database_url: str, events: list[CloudEvent[NeedState]]
) -> list[CloudEvent[NeedState]]:
    stored = await scalar(
        database_url,
        "SELECT array_agg(need_id::text) FROM project_needs WHERE need_id = ANY($1::uuid[])",
        [e.data.need_id for e in events],
    )
    done = set(stored or ())
    return [e for e in events if e.data.need_id not in done]


def _partition(event: CloudEvent[NeedState]) -> int:
    partitions = list(range(PARTITIONS))
    return int(DefaultPartitioner()(event.subject.encode(), partitions, partitions))
