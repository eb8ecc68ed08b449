"""The durable scheduler against a real PostgreSQL: due times, one run per key, transactions,
retries and parking, leases after a crash, several replicas, periodic jobs, missed runs."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from services.runtime.context import Context
from services.runtime.db import Connection
from services.runtime.scheduler import (
    Job,
    JobKind,
    Periodic,
    Scheduler,
    cancel,
    parked_jobs,
    retry_parked,
    schedule,
    schedule_many,
    scheduler_backlog,
)
from services.runtime.settings import ServiceSettings
from tests.support import eventually

RUNS = """CREATE TABLE job_runs (
    kind text NOT NULL, key text NOT NULL, payload jsonb, attempt int NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(), ended_at timestamptz)"""


class Rollback(Exception):
    pass


@pytest.fixture
async def pool(outbox_pool: asyncpg.Pool) -> asyncpg.Pool:
    await outbox_pool.execute(RUNS)
    return outbox_pool


def settings(**overrides: Any) -> ServiceSettings:
    # A long poll: a test that passes in less time proves the worker was woken otherwise.
    options: dict[str, Any] = {
        "scheduler_poll_interval_s": 30.0,
        "scheduler_lease_s": 5.0,
        "scheduler_max_attempts": 3,
        "scheduler_retry_backoff_s": 0.2,
        "scheduler_retry_backoff_max_s": 5.0,
    }
    return ServiceSettings(**{**options, **overrides})


async def record(conn: Connection, job: Job, ctx: Context) -> None:
    """An effect that is not idempotent: every committed run leaves a row."""
    await conn.execute(
        "INSERT INTO job_runs (kind, key, payload, attempt) VALUES ($1, $2, $3, $4)",
        job.kind,
        job.key,
        job.payload,
        job.attempts,
    )


RECORD = JobKind("test.record", record)


def scheduler(
    pool: asyncpg.Pool,
    jobs: Sequence[JobKind] = (RECORD,),
    periodic: Sequence[Periodic[Any]] = (),
    **overrides: Any,
) -> Scheduler:
    return Scheduler(
        pool,
        settings(**overrides),
        jobs=jobs,
        periodic=periodic,
        context=lambda: Context("/mcvt/test"),
    )


@contextlib.asynccontextmanager
async def running(*schedulers: Scheduler) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(s.run()) for s in schedulers]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def at(pool: asyncpg.Pool, kind: str, key: str, due_at: datetime, **payload: Any) -> None:
    async with pool.acquire() as conn:
        await schedule(conn, kind, key, due_at, payload)


def now() -> datetime:
    return datetime.now(UTC)


async def runs(pool: asyncpg.Pool, key: str | None = None) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM job_runs WHERE $1::text IS NULL OR key = $1 ORDER BY started_at", key
    )


async def test_a_job_runs_at_its_due_time_and_not_before(pool: asyncpg.Pool) -> None:
    async with running(scheduler(pool)):
        await asyncio.sleep(0.2)  # the worker is asleep, planning its next poll in 30 s
        due = now() + timedelta(seconds=1)
        await at(pool, "test.record", "k", due, n=1)
        await asyncio.sleep(0.7)
        assert await runs(pool) == []
        [run] = await eventually(lambda: runs(pool), timeout=3)
    assert run["started_at"] >= due
    # Woken for the due time (the NOTIFY told it), not by the 30 s poll.
    assert run["started_at"] - due < timedelta(seconds=3)
    assert run["payload"] == {"n": 1} and run["attempt"] == 1
    assert await pool.fetchval("SELECT count(*) FROM scheduled_jobs") == 0


async def test_a_job_scheduled_earlier_than_the_planned_wake_up_wakes_the_worker(
    pool: asyncpg.Pool,
) -> None:
    await at(pool, "test.record", "later", now() + timedelta(seconds=20))
    async with running(scheduler(pool)):
        await asyncio.sleep(0.3)  # asleep until the job due in 20 s
        started = time.monotonic()
        await at(pool, "test.record", "now", now())
        await eventually(lambda: runs(pool, "now"), timeout=3)
    assert time.monotonic() - started < 3.0
    assert await runs(pool, "later") == []


async def test_a_scheduler_woken_as_it_is_cancelled_stops(pool: asyncpg.Pool) -> None:
    worker = scheduler(pool)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.3)  # nothing is due: it waits for the poll or a notification
    # A notification landing as the service stops (what the scheduler's listener does with it).
    worker._wake.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(5):
            await task


async def test_scheduling_the_same_key_again_moves_it_and_gives_one_run(pool: asyncpg.Pool) -> None:
    await at(pool, "test.record", "k", now() + timedelta(seconds=60), n=1)
    await at(pool, "test.record", "k", now() + timedelta(seconds=0.3), n=2)
    await at(pool, "test.record", "k", now() + timedelta(seconds=0.2), n=3)
    assert await pool.fetchval("SELECT count(*) FROM scheduled_jobs") == 1
    async with running(scheduler(pool)):
        await eventually(lambda: runs(pool, "k"), timeout=3)
        await asyncio.sleep(0.5)
    [run] = await runs(pool, "k")
    assert run["payload"] == {"n": 3}


async def test_sooner_only_moves_a_job_to_a_sooner_time_never_a_later_one(
    pool: asyncpg.Pool,
) -> None:
    soon, later, sooner = (now() + timedelta(seconds=s) for s in (60, 120, 30))
    async with pool.acquire() as conn:
        await schedule_many(conn, "test.record", [("a", soon, {}), ("b", soon, {})])
        await schedule_many(
            conn, "test.record", [("a", later, {}), ("b", sooner, {})], sooner_only=True
        )
        rows = await conn.fetch("SELECT key, due_at FROM scheduled_jobs ORDER BY key")
        due = {row["key"]: row["due_at"] for row in rows}
        assert due == {"a": soon, "b": sooner}
        # Without it, the last time wins, later or not.
        await schedule_many(conn, "test.record", [("a", later, {})])
        assert await conn.fetchval("SELECT due_at FROM scheduled_jobs WHERE key = 'a'") == later


async def test_a_job_scheduled_in_a_rolled_back_transaction_never_runs(pool: asyncpg.Pool) -> None:
    with pytest.raises(Rollback):
        async with pool.acquire() as conn, conn.transaction():
            await schedule(conn, "test.record", "rolled-back", now())
            raise Rollback
    await at(pool, "test.record", "committed", now())
    async with running(scheduler(pool)):
        await eventually(lambda: runs(pool, "committed"), timeout=3)
        await asyncio.sleep(0.3)
    assert await runs(pool, "rolled-back") == []
    assert await pool.fetchval("SELECT count(*) FROM scheduled_jobs") == 0


async def test_a_cancelled_job_never_runs(pool: asyncpg.Pool) -> None:
    await at(pool, "test.record", "cancelled", now() + timedelta(seconds=0.3))
    async with pool.acquire() as conn:
        assert await cancel(conn, "test.record", "cancelled")
        assert not await cancel(conn, "test.record", "cancelled")
    async with running(scheduler(pool)):
        await asyncio.sleep(0.8)
    assert await runs(pool) == []


async def test_a_failing_job_is_retried_with_backoff_then_parked_and_visible(
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[float] = []

    async def fail(conn: Connection, job: Job, ctx: Context) -> None:
        attempts.append(time.monotonic())
        await record(conn, job, ctx)  # rolled back with the failure
        raise RuntimeError(f"boom {job.attempts}")

    worker = scheduler(pool, jobs=(JobKind("test.record", fail),))
    await at(pool, "test.record", "doomed", now())
    with caplog.at_level(logging.WARNING, logger="services.runtime.scheduler"):
        async with running(worker):
            async with pool.acquire() as conn:
                [parked] = await eventually(lambda: parked_jobs(conn), timeout=5)
            await asyncio.sleep(0.8)  # longer than any backoff: a parked job is not run again
    assert len(attempts) == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    # Doubling from 0.2 s with jitter in the upper half: at least 0.1 s, then 0.2 s.
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2
    assert (parked.kind, parked.key, parked.status) == ("test.record", "doomed", "parked")
    assert parked.attempts == 3 and parked.last_error == "RuntimeError: boom 3"
    assert await runs(pool) == []  # the failed attempts' effects were rolled back
    async with pool.acquire() as conn:
        backlog = await scheduler_backlog(conn)
    assert backlog == {"due": 0, "running": 0, "waiting": 0, "parked": 1}
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "job test.record/doomed parked after 3 attempts: RuntimeError: boom 3"
    ]

    # Once the cause is fixed, an operator puts it back: it runs with fresh attempts.
    async with pool.acquire() as conn:
        assert await retry_parked(conn, "test.record", "doomed")
    async with running(scheduler(pool)):
        [run] = await eventually(lambda: runs(pool, "doomed"), timeout=3)
    assert run["attempt"] == 1


async def test_a_job_that_fails_then_succeeds_leaves_one_effect(pool: asyncpg.Pool) -> None:
    async def flaky(conn: Connection, job: Job, ctx: Context) -> None:
        await record(conn, job, ctx)
        if job.attempts < 3:
            raise RuntimeError("not yet")

    await at(pool, "test.record", "flaky", now())
    async with running(scheduler(pool, jobs=(JobKind("test.record", flaky),))):
        [run] = await eventually(lambda: runs(pool, "flaky"), timeout=5)
        await asyncio.sleep(0.3)
    assert run["attempt"] == 3
    assert len(await runs(pool)) == 1
    assert await pool.fetchval("SELECT count(*) FROM scheduled_jobs") == 0


async def test_a_crashed_worker_s_job_is_run_by_another_after_its_lease(pool: asyncpg.Pool) -> None:
    await at(pool, "test.record", "orphan", now())
    crashed = scheduler(pool, scheduler_lease_s=1.0)
    claimed_at = now()
    [(job, _)] = await crashed.claim(10)  # claimed, then the worker dies without running it
    assert job.key == "orphan" and job.attempts == 1
    async with running(scheduler(pool, scheduler_lease_s=1.0)):
        await asyncio.sleep(0.5)
        assert await runs(pool) == []  # the lease still holds
        async with pool.acquire() as conn:
            assert (await scheduler_backlog(conn))["running"] == 1
        [run] = await eventually(lambda: runs(pool, "orphan"), timeout=4)
    assert run["started_at"] >= claimed_at + timedelta(seconds=1.0)
    assert run["attempt"] == 2


async def test_a_claim_superseded_by_scheduling_again_runs_nothing(pool: asyncpg.Pool) -> None:
    await at(pool, "test.record", "moved", now(), n=1)
    worker = scheduler(pool)
    [(job, deadline)] = await worker.claim(10)
    later = now() + timedelta(seconds=60)
    await at(pool, "test.record", "moved", later, n=2)  # moved between the claim and the run
    await worker.run_claimed(job, deadline)
    assert await runs(pool) == []
    row = await pool.fetchrow("SELECT * FROM scheduled_jobs")
    assert row is not None
    assert (row["due_at"], row["payload"], row["attempts"]) == (later, {"n": 2}, 0)


async def test_a_run_longer_than_its_lease_is_stopped_and_rolled_back(pool: asyncpg.Pool) -> None:
    async def slow_once(conn: Connection, job: Job, ctx: Context) -> None:
        await record(conn, job, ctx)
        if job.attempts == 1:
            await asyncio.sleep(10)

    await at(pool, "test.record", "slow", now())
    async with running(scheduler(pool, jobs=(JobKind("test.record", slow_once, lease_s=0.5),))):
        [run] = await eventually(lambda: runs(pool, "slow"), timeout=5)
        await asyncio.sleep(0.3)
    assert run["attempt"] == 2
    assert len(await runs(pool)) == 1


async def test_a_worker_that_dies_with_its_job_every_time_gets_it_parked(
    pool: asyncpg.Pool,
) -> None:
    await at(pool, "test.record", "fatal", now())
    for attempt in (1, 2, 3):
        [(job, _)] = await scheduler(pool, scheduler_lease_s=0.2).claim(10)
        assert job.attempts == attempt
        await asyncio.sleep(0.3)
    assert await scheduler(pool).claim(10) == []
    async with pool.acquire() as conn:
        [parked] = await parked_jobs(conn)
    assert parked.key == "fatal" and "lease ran out" in (parked.last_error or "")


async def test_two_schedulers_run_each_due_job_once(pool: asyncpg.Pool) -> None:
    async def record_slowly(conn: Connection, job: Job, ctx: Context) -> None:
        await record(conn, job, ctx)
        await asyncio.sleep(0.05)  # long enough that both workers are claiming at once

    keys = [f"job-{i}" for i in range(40)]
    for key in keys:
        await at(pool, "test.record", key, now())
    jobs = (JobKind("test.record", record_slowly),)
    one, two = scheduler(pool, jobs=jobs), scheduler(pool, jobs=jobs)
    async with running(one, two):
        await eventually(lambda: pool.fetchval("SELECT count(*) >= 40 FROM job_runs"), timeout=5)
        await asyncio.sleep(0.3)
    counts = await pool.fetch("SELECT key, count(*) AS n FROM job_runs GROUP BY key")
    assert sorted(r["key"] for r in counts) == sorted(keys)
    assert {r["n"] for r in counts} == {1}
    assert one.ran > 0 and two.ran > 0 and one.ran + two.ran == 40


async def tick(pool: asyncpg.Pool, ctx: Context, settings: ServiceSettings) -> None:
    """A periodic run that takes a while, recording when it started and ended."""
    await pool.execute("INSERT INTO job_runs (kind, key, attempt) VALUES ('test.tick', '', 0)")
    await asyncio.sleep(0.05)
    await pool.execute(
        "UPDATE job_runs SET ended_at = clock_timestamp() "
        "WHERE kind = 'test.tick' AND ended_at IS NULL"
    )


async def test_a_periodic_job_runs_once_per_interval_across_two_schedulers(
    pool: asyncpg.Pool,
) -> None:
    # The interval read from the settings (here 0.3 s), as services read theirs.
    ticks = (Periodic("test.tick", tick, every_s=lambda s: s.scheduler_lease_s / 10),)
    one, two = (scheduler(pool, jobs=(), periodic=ticks, scheduler_lease_s=3.0) for _ in "12")
    async with running(one, two):
        await asyncio.sleep(2.5)
    done = [run for run in await runs(pool) if run["ended_at"] is not None]  # not the cut one
    # About seven runs of 0.05 s, 0.3 s apart; two workers each on its own would make twice that.
    assert 3 <= len(done) <= 8
    for earlier, later in itertools.pairwise(done):
        # Never two at once, and the next one interval after the previous ended.
        assert later["started_at"] - earlier["ended_at"] >= timedelta(seconds=0.29)


async def test_missed_runs_happen_once_when_a_scheduler_starts(pool: asyncpg.Pool) -> None:
    ticks = (Periodic("test.tick", tick, every_s=1.0),)
    worker = scheduler(pool, jobs=(RECORD,), periodic=ticks)
    async with pool.acquire() as conn:
        await worker.ensure_periodic(conn)
    # Down for an hour: 3600 runs of the periodic job missed, and a one-off due long ago.
    await pool.execute("UPDATE scheduled_jobs SET due_at = now() - interval '1 hour'")
    await at(pool, "test.record", "overdue", now() - timedelta(hours=1))
    async with running(worker):
        await eventually(lambda: runs(pool, "overdue"), timeout=3)
        await asyncio.sleep(0.6)
    assert len(await runs(pool, "")) == 1  # the periodic job: once, no catch-up


async def test_a_handler_may_schedule_its_own_key_again(pool: asyncpg.Pool) -> None:
    async def every_period(conn: Connection, job: Job, ctx: Context) -> None:
        await record(conn, job, ctx)
        if job.payload["period"] < 3:
            due = now() + timedelta(seconds=0.1)
            await schedule(conn, job.kind, job.key, due, {"period": job.payload["period"] + 1})

    await at(pool, "test.record", "agreement", now(), period=1)
    async with running(scheduler(pool, jobs=(JobKind("test.record", every_period),))):
        await eventually(lambda: pool.fetchval("SELECT count(*) = 3 FROM job_runs"), timeout=5)
        await asyncio.sleep(0.3)
    assert [r["payload"]["period"] for r in await runs(pool)] == [1, 2, 3]
    assert await pool.fetchval("SELECT count(*) FROM scheduled_jobs") == 0
