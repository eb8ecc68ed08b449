"""asyncpg pool, transactions retried when PostgreSQL breaks them, and the migration runner.

Migrations are plain SQL files `NNN_name.sql`, applied in order, each in its own transaction,
recorded with a checksum in `schema_migrations`; a transaction-level advisory lock makes two
replicas starting at once apply them once. A file changed after it was applied is an error.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

log = logging.getLogger(__name__)

# What handlers receive: a plain connection or one borrowed from a pool.
Connection = asyncpg.Connection | PoolConnectionProxy

RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_FILE = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x6D637674  # "mcvt": serialises migrations of one database


# JSON has no NaN or Infinity (PostgreSQL refuses them): fail here, naming the value, not there.
_encode_json = functools.partial(json.dumps, allow_nan=False)


async def _init_connection(conn: Connection) -> None:
    for kind in ("jsonb", "json"):
        await conn.set_type_codec(
            kind, encoder=_encode_json, decoder=json.loads, schema="pg_catalog"
        )


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections encode and decode json/jsonb as Python objects."""
    pool = await asyncpg.create_pool(
        url, min_size=min_size, max_size=max_size, init=_init_connection
    )
    assert pool is not None
    return pool


P = ParamSpec("P")
T = TypeVar("T")

# PostgreSQL aborted the transaction to let another one through: running it again is correct.
RETRIABLE = (asyncpg.SerializationError, asyncpg.DeadlockDetectedError)
TRANSACTION_ATTEMPTS = 3


async def in_transaction(pool: asyncpg.Pool, work: Callable[[Connection], Awaitable[T]]) -> T:
    """Run `work` in a transaction of its own, again (up to 3 times in all, after a short random
    pause) when PostgreSQL aborts it for a serialization failure or to break a deadlock.

    `work` must have no effect outside the transaction, since it may run more than once.
    """
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(RETRIABLE),
        stop=stop_after_attempt(TRANSACTION_ATTEMPTS),
        wait=wait_random_exponential(multiplier=0.01, max=0.2),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            async with pool.acquire() as conn, conn.transaction():
                return await work(conn)
    raise AssertionError("unreachable: tenacity re-raises the last error")


def transactional(
    work: Callable[Concatenate[Connection, P], Awaitable[T]],
) -> Callable[Concatenate[asyncpg.Pool, P], Awaitable[T]]:
    """Turn a use case written on a connection into one called with the pool, run by
    `in_transaction` (retried on serialization failures and deadlocks)."""

    @functools.wraps(work)
    async def run(pool: asyncpg.Pool, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await in_transaction(pool, lambda conn: work(conn, *args, **kwargs))

    return run


@dataclass(frozen=True)
class Migration:
    component: str
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(component: str, folder: Path) -> list[Migration]:
    """The migrations of one component (the runtime or a service), in version order."""
    found: list[Migration] = []
    for path in sorted(folder.glob("*.sql")):
        match = _MIGRATION_FILE.match(path.name)
        if not match:
            raise ValueError(f"migration file name must be NNN_name.sql: {path}")
        if found and found[-1].version == match[1]:
            # Two branches each adding the next number: a database would apply only one.
            raise ValueError(f"two migrations numbered {match[1]} in {folder}")
        found.append(Migration(component, match[1], match[2], path.read_text()))
    return found


class MigrationChanged(RuntimeError):
    """An applied migration's file was edited afterwards: write a new migration instead."""


async def apply_migrations(conn: Connection, migrations: list[Migration]) -> list[str]:
    """Apply the migrations not yet applied; return the names applied now."""
    applied_now: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   component  text NOT NULL,
                   version    text NOT NULL,
                   name       text NOT NULL,
                   checksum   text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (component, version))"""
        )
    for migration in migrations:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            checksum = await conn.fetchval(
                "SELECT checksum FROM schema_migrations WHERE component = $1 AND version = $2",
                migration.component,
                migration.version,
            )
            if checksum is not None:
                if checksum != migration.checksum:
                    raise MigrationChanged(
                        f"{migration.component} {migration.version}_{migration.name} was applied "
                        "with different content"
                    )
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (component, version, name, checksum) "
                "VALUES ($1, $2, $3, $4)",
                migration.component,
                migration.version,
                migration.name,
                migration.checksum,
            )
            applied_now.append(f"{migration.component}/{migration.version}_{migration.name}")
    if applied_now:
        log.info("migrations applied: %s", ", ".join(applied_now))
    return applied_now


async def migrate(url: str, service: str, folder: Path) -> list[str]:
    """Apply the runtime's migrations then the service's to the database at `url`."""
    conn = await asyncpg.connect(url)
    try:
        migrations = load_migrations("runtime", RUNTIME_MIGRATIONS) + load_migrations(
            service, folder
        )
        return await apply_migrations(conn, migrations)
    finally:
        await conn.close()
