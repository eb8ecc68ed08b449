"""Each consumer service killed with SIGKILL in the middle of its events (1,000, or more where
they apply faster), then started again on the same database: every event's effect is there
exactly once."""

from __future__ import annotations

import contextlib
import functools
import uuid
from pathlib import Path

import httpx
import pytest

from services.devstack.tansu import TansuBroker
from tests.faults.consumers.cases import CASES, NO_JWKS, Case, World
from tests.faults.events import consumed, inbox_counts, kill_mid_stream, publish, scalar, settled
from tests.faults.processes import ServiceProcess, environment
from tests.flow.notifications.test_restart import ids, subscribed
from tests.harness import Databases, start_stack
from tests.scenario import new_member, new_territory
from tests.service.notifications.receiver import receiver
from tests.support import eventually

pytestmark = pytest.mark.long


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_killed_mid_stream_then_restarted_applies_every_event_once(
    case: Case,
    databases: Databases,
    fresh_broker: tuple[str, TansuBroker | None],
    tmp_path: Path,
) -> None:
    """The service, a process of its own, is fed the events it consumes and killed with
    SIGKILL once part of them (not all) is applied; the broker is held for the instant of the
    kill, so that what its groups had processed, read off its /metrics then, is final. Started
    again on the same database and consumer groups, it applies the rest:
    every effect (rows, ledger sums, deliveries) is there exactly once, every event is in the
    inbox of each group that consumes it once, and each group's handlers ran once per event
    (processed before the kill plus after the restart): a record applied and not acknowledged
    when the process died comes again and counts as a duplicate, not as processed. Then every
    event is published once more with its id, as a relay killed before marking its rows sends
    them again: each is a duplicate, and no handler runs for it."""
    kafka, tansu = fresh_broker
    async with contextlib.AsyncExitStack() as stack:
        database_url = await databases.for_service(case.service)
        stack.push_async_callback(databases.drop, [database_url.rsplit("/", 1)[1]])
        world = World(database_url)
        jwks_url = NO_JWKS
        if case.with_actors:
            actors = await stack.enter_async_context(start_stack(databases, kafka, ["actors"]))
            territory = await new_territory(actors)
            world.territory_id = territory.id
            world.member = await new_member(actors, territory)
            jwks_url = f"{actors.urls['actors']}/.well-known/jwks.json"
            partner = await stack.enter_async_context(receiver())
            world.hook_url = partner.url(uuid.uuid4().hex[:12])
        env = environment(
            case.service,
            database_url=database_url,
            kafka=kafka,
            jwks_url=jwks_url,
            urls=case.urls,
            log_level="WARNING",  # not two lines per record: the machine's time goes to them
            **case.settings,
        )
        process = ServiceProcess(case.service, env, tmp_path)
        stack.callback(process.stop)
        await process.start()
        if case.prepare is not None:
            await case.prepare(world)
        if world.member is not None:
            async with httpx.AsyncClient(base_url=process.url) as client:
                await subscribed(client, world.member.headers, world.hook_url)

        events = case.events(world, case.count)
        applied = functools.partial(scalar, database_url, case.applied)
        await publish(kafka, events)
        cut = await kill_mid_stream(process, tansu, applied, events[0].type)
        assert 0 < cut.applied < case.count, (
            f"the kill did not land mid-stream: {cut.applied} applied"
        )

        await process.start()
        assert await settled(applied, case.count, timeout=240) == case.count, process.log()
        # Every event once more, as a relay publishing again after a crash sends it: the same
        # ids, each a duplicate for the inbox, whatever the handlers' own idempotence.
        await publish(kafka, events)
        event_type = events[0].type
        for group in await inbox_counts(database_url, [e.id for e in events]):
            await eventually(
                functools.partial(_duplicates_at_least, process.url, event_type, group, case.count),
                timeout=240,
            )
        for what, sql, expected in case.checks:
            figure = await eventually(
                functools.partial(_equal, database_url, sql, expected(events)), timeout=240
            )
            assert figure, f"{what}: {await scalar(database_url, sql)} != {expected(events)}"
        inbox = await inbox_counts(database_url, [e.id for e in events])
        assert inbox and set(inbox.values()) == {case.count}, inbox
        if tansu is not None:
            # Each group's handlers ran once per event: before the kill, or after the restart.
            processed = await consumed(process.url, "processed", event_type)
            runs = {g: cut.processed.get(g, 0) + processed.get(g, 0) for g in inbox}
            assert set(runs.values()) == {case.count}, (runs, cut.processed)
        if world.member is not None:
            hook = world.hook_url.rsplit("/", 1)[1]
            assert ids(partner, hook).keys() == {e.id for e in events}


async def _equal(database_url: str, sql: str, expected: object) -> bool:
    return bool(await scalar(database_url, sql) == expected)


async def _duplicates_at_least(url: str, event_type: str, group: str, count: int) -> bool:
    return (await consumed(url, "duplicate", event_type)).get(group, 0) >= count
