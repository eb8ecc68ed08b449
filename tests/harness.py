"""One harness that starts any set of services, as `make run` would, for any test package.

Each service gets a database of its own, cloned from a template that was migrated once per test
session (`CREATE DATABASE ... TEMPLATE`: a file copy, much cheaper than running every migration
again), the shared real broker, quick consumer settings, and its lifespan (relay, consumers,
scheduler). `actors` is served on a real loopback socket because the other services fetch the
key set that verifies tokens from it; the others are driven in-process through their ASGI app.
"""

from __future__ import annotations

import contextlib
import importlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from services.devstack.postgres import create_database, drop_database
from services.runtime.db import migrate
from services.runtime.service import create_app
from services.runtime.settings import ServiceSettings
from tests.support import QUICK_CONSUMERS, asgi_client, http_server

# Settings every test service starts with: short polls and pauses, so that tests wait little.
TEST_SETTINGS: dict[str, Any] = {
    **QUICK_CONSUMERS,
    "outbox_poll_interval_s": 0.1,
    "consumer_retry_backoff_s": 0.01,
    # Tests fire many requests from one address; tests of the limits set their own.
    "rate_limit_per_token": "100000/second",
    "rate_limit_per_address": "100000/second",
    "rate_limit_sensitive": "100000/second",
}


def app_module(service: str) -> ModuleType:
    """`services.<service>.app`: its `Settings`, `spec(settings)` and `build_app(settings)`."""
    return importlib.import_module(f"services.{service}.app")


@dataclass
class Databases:
    """Test databases on one server: blank ones, and per-service clones of migrated templates."""

    server: str
    templates: dict[str, str] = field(default_factory=dict)
    made: list[str] = field(default_factory=list)

    async def blank(self, label: str) -> str:
        """A new empty database; its URL."""
        name = f"mcvt_test_{label}_{uuid.uuid4().hex[:10]}"
        self.made.append(name)
        return await create_database(self.server, name)

    async def for_service(self, service: str) -> str:
        """A new database holding `service`'s migrated schema; its URL."""
        template = await self._template(service)
        name = f"mcvt_test_{service}_{uuid.uuid4().hex[:10]}"
        self.made.append(name)
        conn = await asyncpg.connect(self.server)
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        finally:
            await conn.close()
        return self.server.rsplit("/", 1)[0] + f"/{name}"

    async def _template(self, service: str) -> str:
        if service not in self.templates:
            name = f"mcvt_tmpl_{service}_{uuid.uuid4().hex[:8]}"
            url = await create_database(self.server, name)
            module = app_module(service)
            spec = module.spec(module.Settings())
            await migrate(url, spec.name, spec.migrations)
            self.templates[service] = name
        return self.templates[service]

    async def drop(self, names: Iterable[str] | None = None) -> None:
        """Drop the given databases (all made so far, and the templates, by default)."""
        everything = names is None
        for name in list(self.made if names is None else names):
            await drop_database(self.server, name)
            if name in self.made:
                self.made.remove(name)
        if everything:
            for template in self.templates.values():
                await drop_database(self.server, template)
            self.templates.clear()


@dataclass
class Running:
    """One service of a stack: an HTTP client on it, its settings, and either its app (run in
    this process) or a pool on its database (run as a process of its own)."""

    client: httpx.AsyncClient
    settings: ServiceSettings
    served: FastAPI | None = None
    database_pool: asyncpg.Pool | None = None

    @property
    def app(self) -> FastAPI:
        assert self.served is not None, "this service runs as a process: it has no app here"
        return self.served

    @property
    def database(self) -> str:
        """The name of its database."""
        return self.settings.database_url.rsplit("/", 1)[1]

    @property
    def pool(self) -> asyncpg.Pool:
        if self.database_pool is not None:
            return self.database_pool
        pool: asyncpg.Pool = self.app.state.runtime.pool
        return pool


@dataclass
class Stack:
    """Services started together on one broker."""

    kafka: str
    running: dict[str, Running]
    # The base URL of each service served on a real socket (actors, and those asked for).
    urls: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, service: str) -> Running:
        return self.running[service]

    @property
    def actors(self) -> httpx.AsyncClient:
        return self.running["actors"].client

    @property
    def offers(self) -> httpx.AsyncClient:
        return self.running["offers"].client

    def pool(self, service: str) -> asyncpg.Pool:
        return self.running[service].pool


# A service's settings overrides, or a function of the services started before it (their URLs).
Overrides = Mapping[str, Any] | Callable[[Stack], Mapping[str, Any]]


def groups_of_its_own(tag: str) -> dict[str, Overrides]:
    """Consumer groups named for one stack (and agreements' scheduler quick, and its matching
    URL), so that the stack's services read every topic from the beginning apart from the
    other stacks on the broker."""
    return {
        "matching": {"consumer_group": f"matching.read-model.{tag}"},
        "agreements": lambda stack: {
            "consumer_group_prefix": f"agreements.{tag}",
            "scheduler_poll_interval_s": 0.2,
            "matching_url": stack.urls["matching"],
        },
        "governance": {
            "members_consumer_group": f"governance.members.{tag}",
            "agreements_consumer_group": f"governance.agreements.{tag}",
        },
        "projects": {
            "decisions_consumer_group": f"projects.decisions.{tag}",
            "needs_consumer_group": f"projects.needs.{tag}",
            "agreements_consumer_group": f"projects.agreements.{tag}",
        },
        "notifications": {"consumer_group_prefix": f"notifications.{tag}"},
    }


@contextlib.asynccontextmanager
async def start_stack(
    databases: Databases,
    kafka: str,
    services: Iterable[str],
    settings: Mapping[str, Overrides] | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    on_socket: Iterable[str] = (),
) -> AsyncIterator[Stack]:
    """Start `services` (actors first when present, the others in the order given) and stop
    them, dropping their databases.

    `settings` overrides, per service, the test settings each one starts with (a function of
    the stack for a URL of a service started before); `tracer_provider` traces them all into
    one provider; the services named in `on_socket` are served on a real loopback socket, like
    actors, for a service that calls them over HTTP.
    """
    made: list[str] = []  # filled as databases are made, so a failed start drops them too
    stack = Stack(kafka, {})
    try:
        async with contextlib.AsyncExitStack() as started:
            yield await _start(
                databases,
                kafka,
                services,
                settings or {},
                tracer_provider,
                stack,
                made,
                started,
                frozenset(on_socket),
            )
    finally:
        await databases.drop(made)


async def _start(
    databases: Databases,
    kafka: str,
    services: Iterable[str],
    settings: Mapping[str, Overrides],
    tracer_provider: TracerProvider | None,
    stack: Stack,
    made: list[str],
    started: contextlib.AsyncExitStack,
    on_socket: frozenset[str],
) -> Stack:
    jwks_url: str | None = None
    for service in sorted(services, key=lambda name: name != "actors"):
        url = await databases.for_service(service)
        made.append(url.rsplit("/", 1)[1])
        module = app_module(service)
        overrides = settings.get(service, {})
        options: dict[str, Any] = {
            **TEST_SETTINGS,
            "database_url": url,
            "kafka_bootstrap_servers": kafka,
            **({"jwks_url": jwks_url} if jwks_url else {}),
            # A fresh database learns who exists from the beginning of mcvt.actors.
            "access_consumer_group": f"{service}.access.{uuid.uuid4().hex[:8]}",
            **(overrides(stack) if callable(overrides) else overrides),
        }
        service_settings = module.Settings(**options)
        app = create_app(
            module.spec(service_settings), service_settings, tracer_provider=tracer_provider
        )
        if service == "actors" or service in on_socket:
            base = await started.enter_async_context(http_server(app))
            stack.urls[service] = base
            if service == "actors":
                jwks_url = f"{base}/.well-known/jwks.json"
            client = await started.enter_async_context(httpx.AsyncClient(base_url=base, timeout=30))
        else:
            client = await started.enter_async_context(asgi_client(app))
        stack.running[service] = Running(client, service_settings, served=app)
    return stack
