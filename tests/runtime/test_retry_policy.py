"""The consumer's retry policy over the real broker, rule by rule (see `services/runtime/consumer`).

Each test runs the throwaway group; its handler appends an effect row before it fails, so a
failed attempt that was not rolled back would show as a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from contracts.actors import ActorRegisteredV1
from contracts.envelope import CloudEvent, new_event
from services.devstack.ports import free_port
from services.runtime.consumer import ConsumerRuntime, EventConsumer, Record, process_record
from services.runtime.context import Context
from services.runtime.db import Connection, create_pool, migrate
from tests.conftest import NewDatabase
from tests.runtime.conftest import actor_event, new_subject
from tests.runtime.throwaway import throwaway
from tests.support import eventually, read_topic


async def test_an_event_the_handler_rejects_is_dead_lettered_after_one_try(
    outbox_pool: asyncpg.Pool, kafka: str
) -> None:
    async with throwaway(kafka, outbox_pool) as t:
        rejected, following = t.event(1, behaviour="reject"), t.event(2)
        runtime = t.runtime(max_attempts=3)
        async with t.member(runtime):
            await t.send(rejected, key=b"one-partition")
            await t.send(following, key=b"one-partition")
            await eventually(lambda: runtime.processed >= 1)
        [letter] = await t.dead_letters()
        headers = dict(letter.headers)
        assert headers["dlq-error-type"] == b"InvalidInput"
        assert headers["dlq-consumer"] == t.group.encode()
        assert json.loads(letter.value)["id"] == rejected.id
        assert t.attempts[rejected.id] == 1
        assert runtime.handler_failures == 0 and runtime.dead_lettered == 1
        # The rejected attempt rolled back, its inbox row with it: only the next event applied.
        assert (await t.effects(rejected.id), await t.effects(following.id)) == (0, 1)
        assert not await t.in_inbox(rejected.id)


async def test_a_fault_is_tried_max_attempts_times_then_dead_lettered_with_its_origin(
    outbox_pool: asyncpg.Pool, kafka: str
) -> None:
    async with throwaway(kafka, outbox_pool) as t:
        broken, following = t.event(1, behaviour="fail"), t.event(2)
        runtime = t.runtime(max_attempts=3)
        async with t.member(runtime):
            await t.send(broken, key=b"k", headers=[("trace", b"kept"), ("dlq-error", b"stale")])
            await t.send(following, key=b"k")
            await eventually(lambda: runtime.processed >= 1)
        [letter] = await t.dead_letters()
        on_topic = await read_topic(kafka, t.topic, until=lambda rs: len(rs) >= 2, timeout=5)
        [original] = [r for r in on_topic if json.loads(r.value)["id"] == broken.id]
        assert letter.value == original.value and letter.key == b"k"
        headers = dict(letter.headers)
        assert headers["dlq-error-type"] == b"RuntimeError"
        assert headers["dlq-error"] == b"handler fault on attempt 3"
        assert headers["dlq-consumer"] == t.group.encode()
        assert headers["dlq-original-topic"] == t.topic.encode()
        assert headers["dlq-original-partition"] == str(original.partition).encode()
        assert headers["dlq-original-offset"] == str(original.offset).encode()
        assert headers["trace"] == b"kept"
        assert [k for k, _ in letter.headers].count("dlq-error") == 1  # the stale one replaced
        assert t.attempts[broken.id] == 3 and runtime.handler_failures == 3
        assert (await t.effects(broken.id), await t.effects(following.id)) == (0, 1)


async def test_a_fault_that_passes_on_a_later_try_is_applied_once(
    outbox_pool: asyncpg.Pool, kafka: str
) -> None:
    async with throwaway(kafka, outbox_pool) as t:
        flaky = t.event(1, behaviour="fail-once")
        runtime = t.runtime(max_attempts=3)
        async with t.member(runtime):
            await t.send(flaky)
            await eventually(lambda: runtime.processed >= 1)
        assert t.attempts[flaky.id] == 2
        assert await t.effects(flaky.id) == 1  # the failed attempt's row rolled back
        assert runtime.dead_lettered == 0


async def test_not_yet_is_retried_and_applied_once_its_reference_appears(
    outbox_pool: asyncpg.Pool, kafka: str
) -> None:
    async with throwaway(kafka, outbox_pool) as t:
        early = t.event(1, behaviour="needs-ref", ref="r-1")
        runtime = t.runtime(max_attempts=2, not_yet_timeout_s=30)
        async with t.member(runtime):
            await t.send(early)
            # More tries than max_attempts: waiting for a reference is not a fault.
            await eventually(lambda: t.attempts[early.id] >= 4)
            await outbox_pool.execute("INSERT INTO refs (id) VALUES ('r-1')")
            await eventually(lambda: runtime.processed >= 1)
        assert await t.effects(early.id) == 1
        assert runtime.dead_lettered == 0 and runtime.handler_failures == 0


async def test_not_yet_is_dead_lettered_once_its_window_has_passed(
    outbox_pool: asyncpg.Pool, kafka: str
) -> None:
    async with throwaway(kafka, outbox_pool) as t:
        orphan, following = t.event(1, behaviour="needs-ref", ref="never"), t.event(2)
        runtime = t.runtime(max_attempts=2, not_yet_timeout_s=0.5)
        async with t.member(runtime):
            started = asyncio.get_running_loop().time()
            await t.send(orphan, key=b"k")
            await t.send(following, key=b"k")
            await eventually(lambda: runtime.processed >= 1)
            waited = asyncio.get_running_loop().time() - started
        [letter] = await t.dead_letters()
        assert dict(letter.headers)["dlq-error-type"] == b"NotYet"
        assert t.attempts[orphan.id] > 2
        assert 0.3 < waited < 10
        assert (await t.effects(orphan.id), await t.effects(following.id)) == (0, 1)


async def test_malformed_records_are_dead_lettered_and_the_next_is_processed(
    outbox_pool: asyncpg.Pool, kafka: str
) -> None:
    async with throwaway(kafka, outbox_pool) as t:
        valid = t.event(1)
        not_json = b"not an event"
        not_an_envelope = json.dumps({"type": t.model.event_type, "id": "x"}).encode()
        broken_contract = json.loads(t.event(2).model_dump_json())
        broken_contract["data"]["n"] = "not a number"
        breaks_contract = json.dumps(broken_contract).encode()
        runtime = t.runtime()
        async with t.member(runtime):
            for value in (not_json, not_an_envelope, breaks_contract):
                await t.send(value, key=b"k")
            await t.send(valid, key=b"k")
            await eventually(lambda: runtime.processed >= 1)
        letters = await t.dead_letters(at_least=3)
        assert [r.value for r in letters] == [not_json, not_an_envelope, breaks_contract]
        assert {dict(r.headers)["dlq-error-type"] for r in letters} == {b"ValidationError"}
        assert runtime.dead_lettered == 3
        assert await t.effects() == 1 and await t.effects(valid.id) == 1
        assert t.attempts == {valid.id: 1}


async def test_an_event_type_the_group_does_not_handle_is_skipped(
    outbox_pool: asyncpg.Pool, kafka: str
) -> None:
    async with throwaway(kafka, outbox_pool) as t:
        other = new_event(t.other(n=1), subject="s", territory="t", source="/mcvt/test-producer")
        marker, valid = b"malformed marker", t.event(1)
        runtime = t.runtime()
        async with t.member(runtime):
            await t.send(other, key=b"k")
            await t.send(marker, key=b"k")
            await t.send(valid, key=b"k")
            await eventually(lambda: runtime.processed >= 1)
        # One partition, in order: had the unhandled event been dead-lettered, it would come first.
        assert [r.value for r in await t.dead_letters()] == [marker]
        assert t.attempts == {valid.id: 1}
        assert not await t.in_inbox(other.id)


class Cable:
    """A TCP relay to PostgreSQL that the test can cut (connections reset, the port refusing
    new ones) and mend, as a network outage would."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def mend(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(*self.upstream)
        self._writers |= {client_w, server_w}

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.transport.abort()

        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))


@contextlib.asynccontextmanager
async def through_cable(url: str) -> AsyncIterator[tuple[Cable, asyncpg.Pool]]:
    """A pool on the database at `url` whose every connection goes through a `Cable`."""
    parts = urlsplit(url)
    cable = Cable(parts.hostname or "127.0.0.1", parts.port or 5432)
    await cable.mend()
    user = f"{parts.username}@" if parts.username else ""
    pool = await create_pool(urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{cable.port}")))
    try:
        yield cable, pool
    finally:
        await cable.cut()
        pool.terminate()


async def test_while_the_database_is_unreachable_nothing_is_dead_lettered(
    new_database: NewDatabase, tmp_path: Path, kafka: str
) -> None:
    url = await new_database("unreachable")
    await migrate(url, "test", tmp_path)
    direct = await create_pool(url)
    try:
        async with through_cable(url) as (cable, cabled), throwaway(kafka, direct) as t:
            event, following = t.event(1), t.event(2)
            runtime = t.runtime(pool=cabled, max_attempts=2, not_yet_timeout_s=0.1)
            async with t.member(runtime):
                await cable.cut()
                await t.send(event, key=b"k")
                await t.send(following, key=b"k")
                # Redelivered again and again while the outage lasts: far past max_attempts.
                await asyncio.sleep(2)
                assert runtime.processed == 0 and runtime.dead_lettered == 0
                await cable.mend()
                await eventually(lambda: runtime.processed >= 2)
            assert (await t.effects(event.id), await t.effects(following.id)) == (1, 1)
            assert runtime.dead_lettered == 0
            assert await read_topic(kafka, t.dead_letter_topic, until=bool, timeout=1) == []
    finally:
        await direct.close()


@pytest.mark.parametrize(
    "outage",
    [
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
    ],
    ids=["shutdown", "too-many-connections", "starting-up"],
)
async def test_a_database_out_of_reach_in_a_handler_is_redelivered_never_dead_lettered(
    outbox_pool, producer, outage: Exception
) -> None:
    group = EventConsumer("test.outage")

    @group.on(ActorRegisteredV1)
    async def handler(conn: Connection, event: CloudEvent[Any], ctx: Context) -> None:
        raise outage

    runtime = ConsumerRuntime(
        pool=outbox_pool, producer=producer, source="/mcvt/test", retry_backoff_s=0
    )
    event = actor_event(new_subject(), "outage")
    record = Record(event.model_dump_json().encode(), None, [], "mcvt.actors", 0, 0)
    with pytest.raises(type(outage)):
        await process_record(group, runtime, record)
    assert (runtime.dead_lettered, runtime.handler_failures) == (0, 0)
