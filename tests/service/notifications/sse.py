"""A Server-Sent Events reader over a real socket: events and keep-alive comments as they come."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx


@dataclass
class Sse:
    id: str | None = None
    event: str | None = None
    data: str = ""
    comment: str | None = None


@dataclass
class Listener:
    """A stream kept open in the background; `events` fills as they arrive."""

    response: httpx.Response
    events: list[Sse] = field(default_factory=list)
    pings: int = 0
    ended: bool = False

    async def read(self) -> None:
        current = Sse()
        try:
            async for line in self.response.aiter_lines():
                if line == "":
                    if current.comment is not None:
                        self.pings += 1
                    elif current.id is not None or current.data:
                        self.events.append(current)
                    current = Sse()
                elif line.startswith(":"):
                    current.comment = line[1:].strip()
                else:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "id":
                        current.id = value
                    elif name == "event":
                        current.event = value
                    elif name == "data":
                        current.data += value
        except httpx.HTTPError:
            pass
        self.ended = True


@contextlib.asynccontextmanager
async def listening(
    base: str, headers: dict[str, str], last_event_id: str | None = None
) -> AsyncIterator[Listener]:
    sent = {**headers, **({"Last-Event-ID": last_event_id} if last_event_id else {})}
    async with (
        httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(30, read=None)) as client,
        client.stream("GET", "/v1/stream", headers=sent) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        listener = Listener(response)
        task = asyncio.create_task(listener.read())
        try:
            yield listener
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
