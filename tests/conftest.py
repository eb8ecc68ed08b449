"""Session fixtures: a real PostgreSQL server and a real Kafka-protocol broker (Tansu).

DATABASE_URL (a server's maintenance database) and KAFKA_BOOTSTRAP_SERVERS point the tests at
other servers; without them the tests use PostgreSQL on 127.0.0.1:5432, or the embedded one, and
start Tansu on a free loopback port: one for the session, and one for each package whose conftest
imports the fixtures of `tests/brokers.py`. Every test gets databases of its own, and every
service database is a clone of a template migrated once per session (`tests/harness.py`).

`make test` runs the tests on two pytest-xdist workers. Each worker is a session of its own, with
its own brokers (fault tests pause them) and uniquely named databases on the shared server. The
tests of one folder under `service/`, `flow/` or `portal/` share one stack, so they go to one
worker together (`pytest_xdist_make_scheduler` below).

The folders say what the tests are: `unit/` pure logic, no I/O; `runtime/` the shared runtime on
real PostgreSQL and the real broker; `service/` one service over HTTP (with actors beside it for
tokens); `flow/` several services working together over the broker.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from contracts.topics import Topic
from services.devstack.postgres import server_url
from services.runtime.db import create_pool, migrate
from services.runtime.kafka import ensure_topics, make_producer
from services.runtime.settings import ServiceSettings
from tests.brokers import kafka, tansu  # noqa: F401  (the session's broker, see tests/brokers.py)
from tests.harness import Databases

ROOT = Path(__file__).resolve().parent.parent


# Folders whose tests start no shared stack: xdist spreads their tests one by one.
SPREAD = ("tests/unit/", "tests/runtime/")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Spread the tests of `SPREAD` over the workers one by one, and send every other folder to
    one worker whole: its tests share a stack (a package-scoped fixture) that then starts once.

    (xdist's own `--dist loadgroup` cannot do this under pytest 9, whose node ids it no longer
    rewrites.)"""
    from xdist.scheduler import LoadScopeScheduling

    class StackFolders(LoadScopeScheduling):  # type: ignore[misc]  # xdist is untyped
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return nodeid if path.startswith(SPREAD) else path.rsplit("/", 1)[0]

    return StackFolders(config, log)


@pytest.fixture(scope="session")
def pg_server(worker_id: str) -> str:
    # An embedded server (when none answers on 5432) is one per xdist worker: one data folder each.
    folder = "test-postgres" if worker_id == "master" else f"test-postgres-{worker_id}"
    return server_url(os.environ.get("DATABASE_URL"), ROOT / ".run" / folder)


@pytest.fixture(scope="session")
async def databases(pg_server: str) -> AsyncIterator[Databases]:
    """Test databases and the per-service templates they are cloned from (dropped at the end)."""
    made = Databases(pg_server)
    yield made
    await made.drop()


NewDatabase = Callable[[str], Awaitable[str]]


@pytest.fixture
async def new_database(databases: Databases) -> AsyncIterator[NewDatabase]:
    """Make fresh, empty, uniquely named databases; they are dropped after the test."""
    made: list[str] = []

    async def make(label: str) -> str:
        url = await databases.blank(label)
        made.append(url.rsplit("/", 1)[1])
        return url

    yield make
    await databases.drop(made)


@pytest.fixture
async def outbox_pool(new_database, tmp_path: Path) -> AsyncIterator[asyncpg.Pool]:
    """A database with only the runtime's tables (outbox, inbox)."""
    url = await new_database("runtime")
    await migrate(url, "test", tmp_path)
    pool = await create_pool(url)
    yield pool
    await pool.close()


@pytest.fixture
async def producer(kafka: str) -> AsyncIterator[AIOKafkaProducer]:
    await ensure_topics(kafka, [t.value for t in Topic], partitions=4)
    producer = make_producer(ServiceSettings(kafka_bootstrap_servers=kafka))
    await producer.start()
    yield producer
    await producer.stop()
