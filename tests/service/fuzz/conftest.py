"""The services on real sockets, in a thread with an event loop of its own.

Schemathesis drives its cases synchronously (Hypothesis examples, blocking HTTP calls); serving
the stack from another thread keeps the test session's event loop out of the way, so a blocking
call never waits on a loop that cannot run.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
from tests.harness import Databases, start_stack
from tests.scenario import new_member, new_territory
from tests.support import http_server

SERVICES = (
    "actors", "offers", "matching", "agreements", "governance", "notifications", "projects"
)  # fmt: skip


@dataclass
class Served:
    """Where each service answers, the OpenAPI documents, and an active member's headers."""

    pg_server: str
    kafka: str
    urls: dict[str, str] = field(default_factory=dict)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    error: BaseException | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        databases = Databases(self.pg_server)
        tag = uuid.uuid4().hex[:8]
        settings: dict[str, dict[str, Any]] = {
            "matching": {"consumer_group": f"matching.fuzz.{tag}"},
            "agreements": {"consumer_group_prefix": f"agreements.fuzz.{tag}"},
            "governance": {
                "members_consumer_group": f"governance.fuzz.{tag}",
                "agreements_consumer_group": f"governance.fuzz-agreements.{tag}",
            },
            "notifications": {"consumer_group_prefix": f"notifications.fuzz.{tag}"},
            "projects": {
                "decisions_consumer_group": f"projects.fuzz-decisions.{tag}",
                "needs_consumer_group": f"projects.fuzz-needs.{tag}",
                "agreements_consumer_group": f"projects.fuzz-agreements.{tag}",
            },
        }
        try:
            async with (
                start_stack(databases, self.kafka, SERVICES, settings) as stack,
                contextlib.AsyncExitStack() as sockets,
            ):
                for service in SERVICES:
                    app = stack[service].app
                    self.urls[service] = (
                        str(stack.actors.base_url)
                        if service == "actors"
                        else await sockets.enter_async_context(http_server(app, lifespan=False))
                    )
                    self.documents[service] = app.openapi()
                territory = await new_territory(stack)
                member = await new_member(stack, territory, kind="association")
                self.headers = member.headers
                self._ready.set()
                await self._stop.wait()
        except BaseException as error:
            self.error = error
            raise
        finally:
            self._ready.set()
            await databases.drop()

    def wait_ready(self, timeout: float) -> None:
        if not self._ready.wait(timeout) or self.error is not None:
            raise RuntimeError(f"the fuzzed stack did not start: {self.error!r}")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)


@pytest.fixture(scope="package")
def served(pg_server: str, kafka: str) -> Iterator[Served]:
    served = Served(pg_server, kafka)
    thread = threading.Thread(target=served.run, name="fuzzed-stack", daemon=True)
    thread.start()
    try:
        served.wait_ready(timeout=120)
        yield served
    finally:
        served.stop()
        thread.join(timeout=60)
