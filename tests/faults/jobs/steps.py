"""Steps of the kill-between-claim-and-completion tests: a service started as a process of its
own beside an in-process stack, a lock the test holds so that the service's transaction waits at
a known statement, and the wait for it to be there."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.faults.processes import ServiceProcess, environment
from tests.harness import Databases, Running, Stack, app_module
from tests.support import eventually


@contextlib.asynccontextmanager
async def as_process(
    stack: Stack,
    databases: Databases,
    service: str,
    folder: Path,
    *,
    before_start: Callable[[str], Awaitable[None]] | None = None,
    urls: Mapping[str, str] | None = None,
    **settings: Any,
) -> AsyncIterator[ServiceProcess]:
    """`service` as a process on a database of its own, added to `stack` (a client on its port,
    a small pool on its database) so that the scenario steps reach it; stopped and its database
    dropped at the end. `before_start(url)` runs on its migrated database before it starts;
    `urls` adds to the stack's the other services' addresses it is given."""
    url = await databases.for_service(service)
    env = environment(
        service,
        database_url=url,
        kafka=stack.kafka,
        jwks_url=f"{stack.urls['actors']}/.well-known/jwks.json",
        urls={**stack.urls, **(urls or {})},
        **settings,
    )
    process = ServiceProcess(service, env, folder)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=3)
    try:
        if before_start is not None:
            await before_start(url)
        await process.start()
        async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
            config = app_module(service).Settings(database_url=url, kafka_bootstrap_servers="")
            stack.running[service] = Running(client, config, database_pool=pool)
            stack.urls[service] = process.url
            try:
                yield process
            finally:
                del stack.running[service]
                del stack.urls[service]
    finally:
        process.stop()
        await pool.close()
        await databases.drop([url.rsplit("/", 1)[1]])


@contextlib.asynccontextmanager
async def held(pool: asyncpg.Pool, statement: str, *args: Any) -> AsyncIterator[None]:
    """Run `statement` (a lock) in a transaction kept open until the block ends, then rolled
    back: whoever needs the lock waits at that statement meanwhile."""
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            await conn.execute(statement, *args)
            yield
        finally:
            await transaction.rollback()


async def waiting_on_a_lock(pool: asyncpg.Pool, query_part: str) -> None:
    """Wait until a backend of the database waits for a lock in a statement containing
    `query_part`: the service's transaction is where the test holds it."""

    async def waits() -> bool:
        return bool(
            await pool.fetchval(
                """SELECT count(*) > 0 FROM pg_stat_activity
                   WHERE datname = current_database() AND wait_event_type = 'Lock'
                     AND query ILIKE '%' || $1 || '%'""",
                query_part,
            )
        )

    await eventually(waits, timeout=60, interval=0.05)


async def gone(pool: asyncpg.Pool, query_part: str) -> None:
    """Wait until no backend of the database runs or holds a transaction open on a statement
    containing `query_part` (a killed client's transaction is rolled back by then)."""

    async def ended() -> bool:
        return not await pool.fetchval(
            """SELECT count(*) > 0 FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid()
                 AND state <> 'idle' AND query ILIKE '%' || $1 || '%'""",
            query_part,
        )

    await eventually(ended, timeout=60, interval=0.05)


async def make_due(pool: asyncpg.Pool, kind: str, key: str) -> None:
    """Bring job (kind, key) forward to now and wake the scheduler, as its due time coming."""
    moved = await pool.execute(
        "UPDATE scheduled_jobs SET due_at = now() WHERE kind = $1 AND key = $2", kind, key
    )
    assert moved == "UPDATE 1", f"no {kind} job for {key}"
    await pool.execute("SELECT pg_notify('scheduled_jobs', extract(epoch FROM now())::text)")


async def job_row(pool: asyncpg.Pool, kind: str, key: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        """SELECT attempts, status, leased_until > now() AS leased FROM scheduled_jobs
           WHERE kind = $1 AND key = $2""",
        kind,
        key,
    )


async def killed_between_claim_and_completion(
    process: ServiceProcess,
    pool: asyncpg.Pool,
    kind: str,
    key: str,
    lock: str,
    *args: Any,
    waits_in: str,
    before_due: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Hold `lock`, make the job due (or await `before_due`, the job's own time coming), wait
    until the service claimed it and its run waits for the lock in a statement containing
    `waits_in`, SIGKILL the service there, let the lock go; the run's transaction is rolled back
    and the job is left claimed, its lease running."""
    async with held(pool, lock, *args):
        if before_due is None:
            await make_due(pool, kind, key)
        else:
            await before_due()
        await waiting_on_a_lock(pool, waits_in)
        claimed = await job_row(pool, kind, key)
        assert claimed is not None and claimed["attempts"] == 1 and claimed["leased"], claimed
        process.kill()
    await gone(pool, waits_in)
    left = await job_row(pool, kind, key)
    assert left is not None and left["attempts"] == 1, "the killed run's completion committed"
