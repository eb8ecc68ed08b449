"""A partner's webhook receiver on a real loopback socket: it records what it is sent and answers
as each test tells it (a status, a Retry-After, a hang, a redirect, a body that never ends)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse

from services.runtime.settings import ServiceSettings
from tests.support import http_server


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Behaviour:
    """Answers to give, in order (the last one repeats); `hang` never answers."""

    statuses: list[int] = field(default_factory=lambda: [204])
    retry_after: str | None = None
    hang: bool = False
    delay_s: float = 0.0  # before answering
    redirect_to: str | None = None  # a 302 to this URL
    # A 200 whose body never ends: `first_bytes` at once, then a byte every `drip_s`.
    endless: bool = False
    first_bytes: int = 0
    drip_s: float = 0.3


@dataclass
class Receiver:
    base: str
    received: list[Received]
    behaviours: dict[str, Behaviour]
    arrived: list[str]  # the path of every request, as it arrives (before any answer)

    def url(self, name: str) -> str:
        return f"{self.base}/hooks/{name}"

    def on(self, name: str, behaviour: Behaviour) -> None:
        self.behaviours[name] = behaviour

    def arrivals(self, name: str) -> int:
        return self.arrived.count(f"/hooks/{name}")

    def of(self, name: str) -> list[Received]:
        return [r for r in self.received if r.path == f"/hooks/{name}"]


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    app = FastAPI()
    app.state.settings = ServiceSettings()
    received: list[Received] = []
    arrived: list[str] = []
    behaviours: dict[str, Behaviour] = {}
    answered: dict[str, int] = {}
    released = asyncio.Event()  # set at the end, so that the server can stop

    async def endless(behaviour: Behaviour) -> AsyncIterator[bytes]:
        yield b"x" * behaviour.first_bytes
        while not released.is_set():
            await asyncio.sleep(behaviour.drip_s)
            yield b"x"

    # GET too: a redirect followed (a 302 turns a POST into a GET) is seen arriving.
    @app.api_route("/hooks/{name}", methods=["POST", "GET"])
    async def hook(name: str, request: Request) -> Response:
        arrived.append(request.url.path)
        body = await request.body()
        behaviour = behaviours.get(name, Behaviour())
        if behaviour.hang:
            await released.wait()
            return Response(status_code=503)
        if behaviour.redirect_to:
            received.append(
                Received(request.url.path, dict(request.headers), body, time.monotonic())
            )
            return Response(status_code=302, headers={"Location": behaviour.redirect_to})
        if behaviour.endless:
            received.append(
                Received(request.url.path, dict(request.headers), body, time.monotonic())
            )
            return StreamingResponse(endless(behaviour), media_type="text/plain")
        if behaviour.delay_s:
            await asyncio.sleep(behaviour.delay_s)
        received.append(Received(request.url.path, dict(request.headers), body, time.monotonic()))
        n = answered.get(name, 0)
        answered[name] = n + 1
        status = behaviour.statuses[min(n, len(behaviour.statuses) - 1)]
        headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after else {}
        body = b"" if status in (204, 304) else b"merci"  # no body may follow a 204
        return Response(content=body, status_code=status, headers=headers)

    async with http_server(app, lifespan=False) as base:
        try:
            yield Receiver(base, received, behaviours, arrived)
        finally:
            released.set()
