"""Two processes of one consumer service in one consumer group: one paused (SIGSTOP) past its
session timeout, resumed, then killed; the events of its partitions are applied once."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import pytest

from services.devstack.tansu import TansuBroker
from tests.faults.consumers.cases import NO_JWKS, World, a_project, needs
from tests.faults.events import consumed, inbox_counts, kill_mid_stream, publish, scalar, settled
from tests.faults.processes import SESSION_TIMEOUT_MS, ServiceProcess, environment
from tests.harness import Databases

WAVE = 150
APPLIED = "SELECT count(*) FROM project_needs"
NEED = "mcvt.need.published.v1"

pytestmark = pytest.mark.long


async def test_paused_past_its_session_timeout_then_killed_each_event_applied_once(
    databases: Databases, fresh_broker: tuple[str, TansuBroker | None], tmp_path: Path
) -> None:
    """Projects, two processes on one database and in one group of `mcvt.needs`, sharing its
    partitions. The first is paused (SIGSTOP) for twice its session timeout while needs flow,
    then resumed: each need is applied once, and each group's handlers ran once per need
    across the two processes (processed, from their /metrics), whether the group kept the
    silent member (Tansu may) or gave its partitions to the other. Then the first is killed
    (SIGKILL) while it applies needs of its partitions (the broker held for the instant, so
    that what it had processed, read off its /metrics then, is final): the second takes over
    its partitions and applies the rest; each need once, each handler run once per need."""
    kafka, broker = fresh_broker
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
        assert await settled(applied, WAVE, timeout=180) == WAVE
        # Both members took part (the group is split between them).
        assert all([await consumed(p.url, "processed", NEED) for p in (first, second)])

        during = needs(world, WAVE)
        await publish(kafka, during)
        first.pause()
        await asyncio.sleep(2 * SESSION_TIMEOUT_MS / 1000)
        first.resume()
        assert await settled(applied, 2 * WAVE, timeout=180) == 2 * WAVE
        runs = await _processed(first, second)
        assert set(runs.values()) == {2 * WAVE}, runs

        last = needs(world, WAVE)
        await publish(kafka, last)
        at_kill = (await consumed(first.url, "processed", NEED)).copy()

        async def first_applies() -> int:
            now = await consumed(first.url, "processed", NEED)
            return int(min(now.get(g, 0) - at_kill.get(g, 0) for g in runs))

        cut = await kill_mid_stream(first, broker, first_applies, NEED)
        assert await settled(applied, 3 * WAVE, timeout=180) == 3 * WAVE, second.log()
        everything = warm_up + during + last
        inbox = await inbox_counts(database_url, [e.id for e in everything])
        assert set(inbox.values()) == {3 * WAVE}, inbox
        if broker is not None:
            # The first's share (it applied needs of the last wave, so it held partitions) and
            # the second's, which took over the rest of its partitions: once per need.
            later = await consumed(second.url, "processed", NEED)
            runs = {g: cut.processed.get(g, 0) + later.get(g, 0) for g in runs}
            assert set(runs.values()) == {3 * WAVE}, (runs, cut.processed)
    finally:
        first.stop()
        second.stop()
        await databases.drop([database_url.rsplit("/", 1)[1]])


async def _processed(*processes: ServiceProcess) -> dict[str, float]:
    """Needs each group's handlers applied, over the processes."""
    runs: dict[str, float] = {}
    for process in processes:
        for group, n in (await consumed(process.url, "processed", NEED)).items():
            runs[group] = runs.get(group, 0) + n
    return runs
