"""Durable scheduler: timed jobs kept in PostgreSQL, run at their due time, surviving restarts.

- `schedule(conn, kind, key, due_at, payload)` writes the timer in the caller's transaction, so a
  state change and its timer commit together or not at all. There is one job per (kind, key):
  scheduling it again moves its due time and replaces its payload (and revives it if parked);
  `cancel` deletes it.
- A one-off job never runs before its due time. Its handler runs in a transaction whose first
  statement deletes the job's row (if the worker still holds its claim), so the handler's effects
  and the job's completion commit together. A crash before that commit leaves the job to run
  again: delivery is at-least-once, so handlers must be idempotent. A handler may schedule its own
  (kind, key) again (the next period, the next retry): the new row replaces the deleted one.
- Claims: a worker takes due rows with FOR UPDATE SKIP LOCKED in a short transaction and sets a
  lease; no lock is kept between the claim and the run. A run is cancelled when its lease runs
  out, so the row lock a handler's transaction holds never outlives the claim; a crashed worker's
  lease expires and another replica claims the job. Every claim counts as an attempt.
- Failures are retried after an exponential backoff with jitter. After `max_attempts` the job is
  parked (status 'parked', last error kept), logged at ERROR, listed by `parked_jobs` and counted
  by `scheduler_backlog`; a job whose worker keeps dying with it (its lease expiring) too.
- Periodic jobs have one row each, claimed like the others, so one replica at a time runs them.
  The next run is due `every` seconds after a run ends: runs missed while no replica was up
  happen once when one starts, never as a catch-up storm. A failing periodic job is retried with
  the same backoff (never later than its next regular run) and never parked.
- The worker wakes at the earliest due time, on NOTIFY when `schedule` sets a due time earlier
  than its planned wake-up, and at least every poll interval (the fallback).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import asyncpg

from services.runtime.context import Context
from services.runtime.db import Connection
from services.runtime.settings import ServiceSettings
from services.runtime.waits import until_set

log = logging.getLogger(__name__)

CHANNEL = "scheduled_jobs"
PERIODIC_KEY = ""  # a periodic job's one row: (its name, "")
# Shortest wait between rounds: a due row held by an open transaction is skipped, not waited for.
_MIN_WAIT_S = 0.05

_SCHEDULE = """
WITH job AS (
    INSERT INTO scheduled_jobs (kind, key, due_at, payload) VALUES ($1, $2, $3, $4)
    ON CONFLICT (kind, key) DO UPDATE SET
        due_at = EXCLUDED.due_at, payload = EXCLUDED.payload, status = 'pending', attempts = 0,
        lease_id = NULL, leased_until = NULL, last_error = NULL, updated_at = now()
    RETURNING due_at)
SELECT pg_notify('scheduled_jobs', extract(epoch FROM due_at)::text) FROM job
"""
# Many jobs of one kind with one statement (keys distinct); one wake-up, for the earliest.
# With $5, a job already scheduled keeps its time when that is sooner.
_SCHEDULE_MANY = """
WITH job AS (
    INSERT INTO scheduled_jobs (kind, key, due_at, payload)
    SELECT $1, j.key, j.due_at, j.payload::jsonb
    FROM unnest($2::text[], $3::timestamptz[], $4::text[]) AS j(key, due_at, payload)
    ON CONFLICT (kind, key) DO UPDATE SET
        due_at = CASE WHEN $5 THEN least(scheduled_jobs.due_at, EXCLUDED.due_at)
                      ELSE EXCLUDED.due_at END,
        payload = EXCLUDED.payload, status = 'pending', attempts = 0,
        lease_id = NULL, leased_until = NULL, last_error = NULL, updated_at = now()
    RETURNING due_at)
SELECT pg_notify('scheduled_jobs', extract(epoch FROM min(due_at))::text) FROM job
HAVING count(*) > 0
"""
_CANCEL = "DELETE FROM scheduled_jobs WHERE kind = $1 AND key = $2"
_RETRY_PARKED = """
WITH job AS (
    UPDATE scheduled_jobs SET status = 'pending', attempts = 0, due_at = now(), updated_at = now()
    WHERE kind = $1 AND key = $2 AND status = 'parked' RETURNING due_at)
SELECT pg_notify('scheduled_jobs', extract(epoch FROM due_at)::text), true AS parked FROM job
"""
_ENSURE_PERIODIC = """
INSERT INTO scheduled_jobs (kind, key, due_at) VALUES ($1, $2, now())
ON CONFLICT (kind, key) DO UPDATE SET
    due_at = least(scheduled_jobs.due_at, now() + make_interval(secs => $3)), status = 'pending'
"""
# A lease that ran out with the attempts used up: the worker died with the job, every time.
_PARK_ABANDONED = """
UPDATE scheduled_jobs j SET status = 'parked', lease_id = NULL, leased_until = NULL,
    updated_at = now(),
    last_error = 'the worker stopped during attempt ' || j.attempts || ' (its lease ran out)'
FROM unnest($1::text[], $2::int[]) AS k(kind, max_attempts)
WHERE j.kind = k.kind AND j.status = 'pending' AND j.leased_until <= now()
  AND j.attempts >= k.max_attempts
RETURNING j.kind, j.key, j.attempts
"""
_CLAIM = """
WITH due AS (
    SELECT j.kind, j.key, k.lease_s FROM scheduled_jobs j
    JOIN unnest($1::text[], $2::float8[]) AS k(kind, lease_s) ON k.kind = j.kind
    WHERE j.status = 'pending' AND j.due_at <= now()
      AND (j.leased_until IS NULL OR j.leased_until <= now())
    ORDER BY j.due_at LIMIT $3
    FOR UPDATE OF j SKIP LOCKED)
UPDATE scheduled_jobs j SET attempts = j.attempts + 1, lease_id = gen_random_uuid(),
    leased_until = now() + make_interval(secs => due.lease_s), updated_at = now()
FROM due WHERE j.kind = due.kind AND j.key = due.key
RETURNING j.kind, j.key, j.due_at, j.payload, j.status, j.attempts, j.last_error, j.lease_id
"""
_COMPLETE = """
DELETE FROM scheduled_jobs WHERE kind = $1 AND key = $2 AND lease_id = $3 RETURNING true
"""
_PERIODIC_DONE = """
UPDATE scheduled_jobs SET due_at = now() + make_interval(secs => $4), attempts = 0,
    last_error = NULL, lease_id = NULL, leased_until = NULL, updated_at = now()
WHERE kind = $1 AND key = $2 AND lease_id = $3
"""
_FAILED = """
UPDATE scheduled_jobs SET lease_id = NULL, leased_until = NULL, last_error = $4, updated_at = now(),
    status = CASE WHEN attempts >= $5::int THEN 'parked' ELSE 'pending' END,
    due_at = CASE WHEN attempts >= $5::int THEN due_at
                  ELSE now() + make_interval(secs => $6) END
WHERE kind = $1 AND key = $2 AND lease_id = $3
RETURNING status
"""
# A deliberate stop: the attempt did not happen, and the job is claimable again at once.
_RELEASE = """
UPDATE scheduled_jobs SET lease_id = NULL, leased_until = NULL, attempts = attempts - 1
WHERE kind = $1 AND key = $2 AND lease_id = $3
"""
_NEXT = """
SELECT extract(epoch FROM now())::float8 AS now,
       extract(epoch FROM min(greatest(due_at, leased_until)))::float8 AS next
FROM scheduled_jobs WHERE status = 'pending' AND kind = ANY($1::text[])
"""
_PARKED = """
SELECT kind, key, due_at, payload, status, attempts, last_error, NULL::uuid AS lease_id
FROM scheduled_jobs WHERE status = 'parked' AND ($1::text IS NULL OR kind = $1)
ORDER BY updated_at LIMIT $2
"""
_BACKLOG = """
SELECT
    count(*) FILTER (WHERE status = 'pending' AND due_at <= now()
                       AND (leased_until IS NULL OR leased_until <= now())) AS due,
    count(*) FILTER (WHERE status = 'pending' AND leased_until > now()) AS running,
    count(*) FILTER (WHERE status = 'pending' AND due_at > now()
                       AND (leased_until IS NULL OR leased_until <= now())) AS waiting,
    count(*) FILTER (WHERE status = 'parked') AS parked
FROM scheduled_jobs
"""


@dataclass(frozen=True)
class Job:
    """A job as its handler sees it; `attempts` counts this run."""

    kind: str
    key: str
    due_at: datetime
    payload: dict[str, Any]
    attempts: int
    status: str = "pending"
    last_error: str | None = None  # the previous attempt's error, if it failed
    lease_id: uuid.UUID | None = field(default=None, repr=False)

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Job:
        return cls(**dict(row))


JobHandler = Callable[[Connection, Job, Context], Awaitable[None]]
S = TypeVar("S", bound=ServiceSettings)


@dataclass(frozen=True)
class JobKind:
    """One-off jobs of a kind: `handler(conn, job, ctx)` runs in the transaction that ends them.

    The handler must be idempotent (a crash after its effects and before the commit runs it
    again) and reads what it acts on from `job.key` and `job.payload`. `max_attempts` and
    `lease_s` default to the service's settings; the lease must cover the longest run.
    """

    name: str
    handler: JobHandler
    max_attempts: int | None = None
    lease_s: float | None = None


@dataclass(frozen=True)
class Periodic(Generic[S]):
    """A job run every `every_s` seconds (a number, or read from the service's settings).

    `run(pool, ctx, settings)` takes its own transactions, so it must be safe to stop halfway and
    run again (a sweep in batches is); one replica at a time runs it.
    """

    name: str
    run: Callable[[asyncpg.Pool, Context, S], Awaitable[None]]
    every_s: float | Callable[[S], float]
    lease_s: float | None = None


async def schedule(
    conn: Connection,
    kind: str,
    key: str,
    due_at: datetime,
    payload: dict[str, Any] | None = None,
) -> None:
    """Schedule job (kind, key) at `due_at`, in the caller's transaction.

    Scheduling an existing (kind, key) moves it to `due_at` with this payload and a fresh attempt
    count (a parked job becomes pending again); a run claimed but not yet started is superseded.
    """
    await conn.execute(_SCHEDULE, kind, key, due_at, payload or {})


async def schedule_many(
    conn: Connection,
    kind: str,
    jobs: Sequence[tuple[str, datetime, dict[str, Any]]],
    *,
    sooner_only: bool = False,
) -> None:
    """Schedule jobs (kind, key) at their `due_at` with their payload, as `schedule` does each,
    with one statement; a key given twice keeps its last time and payload. `sooner_only` moves
    a job already scheduled only to a sooner time (a job gathering work is not put off by each
    new piece)."""
    last = {key: (due_at, payload) for key, due_at, payload in jobs}
    if not last:
        return
    await conn.execute(
        _SCHEDULE_MANY,
        kind,
        list(last),
        [due_at for due_at, _ in last.values()],
        [json.dumps(payload, allow_nan=False) for _, payload in last.values()],
        sooner_only,
    )


async def cancel(conn: Connection, kind: str, key: str) -> bool:
    """Delete job (kind, key) in the caller's transaction; return whether there was one.

    A run under way holds the row until it commits, so this waits for it (at most its lease).
    """
    return await conn.execute(_CANCEL, kind, key) != "DELETE 0"


async def retry_parked(conn: Connection, kind: str, key: str) -> bool:
    """Make a parked job due now with fresh attempts; return whether it was parked."""
    return await conn.fetchrow(_RETRY_PARKED, kind, key) is not None


async def parked_jobs(conn: Connection, kind: str | None = None, limit: int = 100) -> list[Job]:
    """Parked jobs (of one kind, or all), oldest first, each with its last error."""
    return [Job.from_row(row) for row in await conn.fetch(_PARKED, kind, limit)]


async def scheduler_backlog(conn: Connection) -> dict[str, int]:
    """Counts of jobs by state, for metrics: `due` (waiting for a worker), `running` (claimed),
    `waiting` (due later) and `parked`."""
    row = await conn.fetchrow(_BACKLOG)
    assert row is not None
    return {name: int(row[name]) for name in ("due", "running", "waiting", "parked")}


def backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    """Delay after the `attempts`-th failure: doubling from `base_s` up to `max_s`, then drawn
    from its upper half, so jobs that failed together do not retry together."""
    delay = min(base_s * 2.0 ** (attempts - 1), max_s)
    return delay * random.uniform(0.5, 1.0)


@dataclass(frozen=True)
class _Kind:
    """What the worker needs to know of a job kind, resolved once from the spec and settings."""

    name: str
    lease_s: float
    max_attempts: int | None  # None: a periodic job, never parked
    job: JobKind | None = None
    periodic: Periodic[Any] | None = None
    every_s: float = 0.0


class Scheduler:
    """Runs the due jobs of the kinds it is given (see the module docstring)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: ServiceSettings,
        *,
        jobs: Sequence[JobKind] = (),
        periodic: Sequence[Periodic[Any]] = (),
        context: Callable[[], Context],
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._context = context
        self._poll_s = settings.scheduler_poll_interval_s
        self._concurrency = settings.scheduler_concurrency
        kinds: dict[str, _Kind] = {}
        for job in jobs:
            kinds[job.name] = _Kind(
                job.name,
                job.lease_s or settings.scheduler_lease_s,
                job.max_attempts or settings.scheduler_max_attempts,
                job=job,
            )
        for each in periodic:
            every = each.every_s(settings) if callable(each.every_s) else each.every_s
            kinds[each.name] = _Kind(
                each.name,
                each.lease_s or settings.scheduler_lease_s,
                None,
                periodic=each,
                every_s=float(every),
            )
        if len(kinds) != len(jobs) + len(periodic):
            raise ValueError("a job kind is declared twice")
        self._kinds = kinds
        self._names = list(kinds)
        self._wake = asyncio.Event()
        self._wake_at = math.inf  # database epoch of the planned wake-up
        self.ran = 0

    @property
    def kinds(self) -> list[str]:
        return list(self._names)

    async def run(self) -> None:
        """Run until cancelled: run what is due, sleep until the next due time; reconnect after
        errors."""
        while True:
            try:
                async with self._pool.acquire() as conn:
                    await conn.add_listener(CHANNEL, self._on_notify)
                    try:
                        await self.ensure_periodic(conn)
                        await self._serve(conn)
                    finally:
                        with contextlib.suppress(Exception):
                            await conn.remove_listener(CHANNEL, self._on_notify)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler failed; retrying")
                await asyncio.sleep(self._poll_s)

    def _on_notify(self, _conn: object, _pid: object, _channel: object, payload: object) -> None:
        try:
            due = float(str(payload))
        except ValueError:
            due = -math.inf
        if due < self._wake_at:
            self._wake.set()

    async def ensure_periodic(self, conn: Connection) -> None:
        """Give every periodic job its row (due now when new); a row due later than one interval
        from now (the interval was shortened) is brought forward."""
        for kind in self._kinds.values():
            if kind.periodic is not None:
                await conn.execute(_ENSURE_PERIODIC, kind.name, PERIODIC_KEY, kind.every_s)

    async def _serve(self, conn: Connection) -> None:
        while True:
            # A notification during the round wakes the next wait at once.
            self._wake_at = math.inf
            self._wake.clear()
            await self.run_due()
            row = await conn.fetchrow(_NEXT, self._names)
            assert row is not None
            delay = self._poll_s if row["next"] is None else row["next"] - row["now"]
            delay = max(min(delay, self._poll_s), _MIN_WAIT_S)
            self._wake_at = row["now"] + delay
            await until_set(self._wake, delay)

    async def run_due(self) -> int:
        """Claim and run due jobs, `scheduler_concurrency` at a time, until none is due; return
        how many ran (successfully or not)."""
        total = 0
        while True:
            claimed = await self.claim(self._concurrency)
            await asyncio.gather(*(self.run_claimed(job, deadline) for job, deadline in claimed))
            total += len(claimed)
            if len(claimed) < self._concurrency:
                return total

    async def claim(self, limit: int) -> list[tuple[Job, float]]:
        """Claim up to `limit` due jobs under a lease; each with the loop time its lease ends."""
        loop = asyncio.get_running_loop()
        started = loop.time()  # before the database starts the lease: the local deadline is early
        kinds = list(self._kinds.values())
        async with self._pool.acquire() as conn, conn.transaction():
            abandoned = await conn.fetch(
                _PARK_ABANDONED, self._names, [k.max_attempts for k in kinds]
            )
            for row in abandoned:
                log.error(
                    "job %s/%s parked: its worker stopped during each of %d attempts",
                    row["kind"],
                    row["key"],
                    row["attempts"],
                )
            rows = await conn.fetch(_CLAIM, self._names, [k.lease_s for k in kinds], limit)
        return [(Job.from_row(row), started + self._kinds[row["kind"]].lease_s) for row in rows]

    async def run_claimed(self, job: Job, deadline: float) -> None:
        """Run a job claimed by `claim`, cancelled at `deadline`; record a failure for retry."""
        kind = self._kinds[job.kind]
        try:
            async with asyncio.timeout_at(deadline):
                if kind.job is not None:
                    await self._run_once(kind.job, job)
                else:
                    assert kind.periodic is not None
                    await kind.periodic.run(self._pool, self._context(), self._settings)
                    await self._pool.execute(
                        _PERIODIC_DONE, job.kind, job.key, job.lease_id, kind.every_s
                    )
            self.ran += 1
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await asyncio.shield(
                        self._pool.execute(_RELEASE, job.kind, job.key, job.lease_id)
                    )
            raise
        except TimeoutError as exc:
            error = f"its lease of {kind.lease_s:g} s ran out"
            await self._failed(kind, job, error, exc)
        except Exception as exc:
            await self._failed(kind, job, f"{type(exc).__name__}: {exc}", exc)

    async def _run_once(self, kind: JobKind, job: Job) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            # First, so the row stays locked while the handler runs and a handler that schedules
            # its own (kind, key) again inserts a new row.
            if not await conn.fetchval(_COMPLETE, job.kind, job.key, job.lease_id):
                log.info("job %s/%s changed after its claim; not run", job.kind, job.key)
                return
            await kind.handler(conn, job, self._context())

    async def _failed(self, kind: _Kind, job: Job, error: str, exc: BaseException) -> None:
        delay = backoff_s(
            job.attempts,
            self._settings.scheduler_retry_backoff_s,
            self._settings.scheduler_retry_backoff_max_s,
        )
        if kind.periodic is not None:
            delay = min(delay, kind.every_s)
        status = await self._pool.fetchval(
            _FAILED, job.kind, job.key, job.lease_id, error, kind.max_attempts, delay
        )
        name = f"{job.kind}/{job.key}" if job.key else job.kind
        if status is None:
            log.warning("job %s failed after its claim was lost: %s", name, error)
        elif status == "parked":
            log.error(
                "job %s parked after %d attempts: %s", name, job.attempts, error, exc_info=exc
            )
        elif kind.periodic is not None:
            log.error("periodic job %s failed; again in %.2f s", name, delay, exc_info=exc)
        else:
            log.warning(
                "job %s failed (attempt %d of %s); again in %.2f s",
                name,
                job.attempts,
                kind.max_attempts,
                delay,
                exc_info=exc,
            )
