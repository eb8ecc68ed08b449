"""The stack as `make run` starts it (`services.devstack.driver`), in the `Stack` the tests' steps
take: an HTTP client per service over its socket, and a pool on its database.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from services.devstack.driver import Devstack
from services.runtime.db import create_pool
from tests.harness import Running, Stack, app_module


@contextlib.asynccontextmanager
async def process_stack(started: Devstack) -> AsyncIterator[Stack]:
    """The tests' view of a running devstack: a client and a database pool per service."""
    stack = Stack(started.kafka, {})
    async with contextlib.AsyncExitStack() as opened:
        for service in started.services:
            url, database = started.url(service), started.database_url(service)
            settings = app_module(service).Settings(
                database_url=database, kafka_bootstrap_servers=stack.kafka
            )
            client = await opened.enter_async_context(
                httpx.AsyncClient(base_url=url, timeout=30, trust_env=False)
            )
            pool = await create_pool(database, min_size=1, max_size=4)
            opened.push_async_callback(pool.close)
            stack.running[service] = Running(client, settings, database_pool=pool)
            stack.urls[service] = url
        yield stack
