"""Services as processes of their own (`ServiceProcess`) on given databases and broker, and the
tests' `Stack` view of them: an HTTP client over each one's socket and a pool on its database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from services.devstack.ports import free_port
from services.runtime.db import create_pool
from tests.faults.processes import ServiceProcess, environment
from tests.harness import Running, Stack, app_module


@dataclass
class Processes:
    """The running services by name, and the stack the tests' steps take."""

    stack: Stack
    processes: dict[str, ServiceProcess]

    def __getitem__(self, service: str) -> ServiceProcess:
        return self.processes[service]

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{p.log()[-4000:]}" for name, p in self.processes.items())


@contextlib.asynccontextmanager
async def processes(
    databases: Mapping[str, str], kafka: str, folder: Path, tag: str
) -> AsyncIterator[Processes]:
    """Start actors (it serves the key set that verifies tokens), then the other services of
    `databases` (service -> database URL) together; stop them all at the end."""
    actors_port = free_port()
    jwks_url = f"http://127.0.0.1:{actors_port}/.well-known/jwks.json"
    started: dict[str, ServiceProcess] = {}
    urls = {"actors": f"http://127.0.0.1:{actors_port}"}

    def made(service: str, port: int | None = None) -> ServiceProcess:
        env = environment(
            service,
            database_url=databases[service],
            kafka=kafka,
            jwks_url=jwks_url,
            tag=tag,
            urls=urls,
        )
        started[service] = ServiceProcess(service, env, folder, port=port or free_port())
        return started[service]

    try:
        await made("actors", port=actors_port).start()
        others = [made(service) for service in databases if service != "actors"]
        await asyncio.gather(*(p.start() for p in others))
        async with _view(started, kafka, databases) as stack:
            yield Processes(stack, started)
    finally:
        for process in reversed(started.values()):
            process.stop()


@contextlib.asynccontextmanager
async def _view(
    started: Mapping[str, ServiceProcess], kafka: str, databases: Mapping[str, str]
) -> AsyncIterator[Stack]:
    stack = Stack(kafka, {})
    async with contextlib.AsyncExitStack() as opened:
        for service, process in started.items():
            settings = app_module(service).Settings(
                database_url=databases[service], kafka_bootstrap_servers=kafka
            )
            client = await opened.enter_async_context(
                httpx.AsyncClient(base_url=process.url, timeout=30, trust_env=False)
            )
            pool = await create_pool(databases[service], min_size=1, max_size=3)
            opened.push_async_callback(pool.close)
            stack.running[service] = Running(client, settings, database_pool=pool)
            stack.urls[service] = process.url
        yield stack


async def unpublished(stack: Stack, services: Iterable[str]) -> dict[str, int]:
    """The count of outbox rows not yet published, per service."""
    query = "SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL"
    return {s: int(await stack.pool(s).fetchval(query)) for s in services}
