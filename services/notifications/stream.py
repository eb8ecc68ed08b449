"""`GET /v1/stream`: the caller's notifications as Server-Sent Events, live and resumable.

- Each event's `id` is its position in the notification log; a client that reconnects with
  `Last-Event-ID` gets every notification after it again from PostgreSQL (those still within the
  retention window), then the live ones. Rows commit in log order (store.append), so resuming
  after an id skips nothing.
- New rows wake the streams through LISTEN/NOTIFY (one listening connection per replica), with a
  polling fallback; comments keep idle connections alive (`ping`).
- The backlog a stream starts with (what the log held when it was asked for, after its
  `Last-Event-ID`) is read a page of `stream_buffer` at a time, the next page once the reader has
  taken this one: however long, it is caught up on one connection, paced by the reader.
- Then each connection queues at most `stream_buffer` live notifications: a reader too slow to
  keep up is cut (it reconnects with its last id and loses nothing), never allowed to grow
  memory. A send that does not complete within the ping interval also ends the connection.
- At most `stream_connections_per_actor` connections per actor and replica (429 beyond).
- Access is checked again at every read, as for a request: a stream ends when its actor is
  suspended or its session or API key ends, not when the client hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from services.notifications import store
from services.notifications.settings import NotificationsSettings
from services.runtime.access import ADMITTED_ONLY
from services.runtime.auth import AccessCheck, CurrentActor
from services.runtime.errors import Forbidden, Unauthorized
from services.runtime.principal import Principal
from services.runtime.problems import problem
from services.runtime.waits import until_set

log = logging.getLogger(__name__)

stream_router = APIRouter(tags=["stream"], dependencies=[ADMITTED_ONLY])


class Hub:
    """Wakes every stream of this replica when a notification is written."""

    def __init__(self) -> None:
        self._written = asyncio.Event()
        self.open: Counter[str] = Counter()

    def notify(self, *_: object) -> None:
        self._written.set()
        self._written = asyncio.Event()

    def current(self) -> asyncio.Event:
        """The event the next write sets: take it before reading, then wait on it."""
        return self._written

    def enter(self, actor_id: str, cap: int) -> bool:
        """Count a new connection of the actor; False (and not counted) over the cap."""
        if self.open[actor_id] >= cap:
            return False
        self.open[actor_id] += 1
        return True

    def leave(self, actor_id: str) -> None:
        self.open[actor_id] -= 1
        if self.open[actor_id] <= 0:
            del self.open[actor_id]

    async def listen(self, pool: asyncpg.Pool, retry_s: float) -> None:
        """Hold one connection listening for new notifications, until cancelled."""
        while True:
            try:
                async with pool.acquire() as conn:
                    await conn.add_listener(store.NOTIFICATIONS_CHANNEL, self.notify)
                    try:
                        while not conn.is_closed():  # noqa: ASYNC110 - asyncpg has no close event
                            await asyncio.sleep(retry_s)
                    finally:
                        with contextlib.suppress(Exception):
                            await conn.remove_listener(store.NOTIFICATIONS_CHANNEL, self.notify)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stream listener failed; retrying")
                await asyncio.sleep(retry_s)


class Overflow(Exception):
    """The reader fell `stream_buffer` notifications behind."""


# Why a stream's reader stops: it fell behind, or its caller may no longer read.
_CUT = (Overflow, Unauthorized, Forbidden)


async def feed(
    pool: asyncpg.Pool,
    hub: Hub,
    settings: NotificationsSettings,
    still_allowed: Callable[[], Awaitable[object]],
    actor_id: uuid.UUID,
    territory_id: uuid.UUID,
    after: int,
    queue: asyncio.Queue[asyncpg.Record],
) -> None:
    """Read the actor's notifications after `after` into the bounded queue, until cancelled;
    raise Overflow when the queue is full, and the access check's refusal when the caller may no
    longer read."""
    while True:
        written = hub.current()
        rows = await _page(pool, settings, still_allowed, actor_id, territory_id, after)
        for row in rows:
            try:
                queue.put_nowait(row)
            except asyncio.QueueFull:
                raise Overflow("the reader fell behind") from None
            after = row["seq"]
        if len(rows) < settings.stream_buffer:
            await until_set(written, settings.stream_poll_interval_s)


async def _page(
    pool: asyncpg.Pool,
    settings: NotificationsSettings,
    still_allowed: Callable[[], Awaitable[object]],
    actor_id: uuid.UUID,
    territory_id: uuid.UUID,
    after: int,
) -> list[asyncpg.Record]:
    """The next `stream_buffer` of the actor's notifications after `after`, once the access
    check has said it may still read them."""
    await still_allowed()
    async with pool.acquire() as conn:
        return await store.stream_after(
            conn, actor_id, territory_id, after, settings.stream_retention_s, settings.stream_buffer
        )


async def backlog(
    pool: asyncpg.Pool,
    settings: NotificationsSettings,
    still_allowed: Callable[[], Awaitable[object]],
    actor_id: uuid.UUID,
    territory_id: uuid.UUID,
    after: int,
    until: int,
) -> AsyncGenerator[asyncpg.Record, None]:
    """The actor's notifications after `after` up to `until` at least, a page at a time: the
    next page is read when the reader has taken this one, nothing is queued."""
    while after < until:
        rows = await _page(pool, settings, still_allowed, actor_id, territory_id, after)
        for row in rows:
            yield row
            after = row["seq"]
        if len(rows) < settings.stream_buffer:
            return


def _sse(row: asyncpg.Record) -> ServerSentEvent:
    return ServerSentEvent(data=row["body"], event=row["type"], id=str(row["seq"]))


async def events(
    request: Request, principal: Principal, after: int, until: int
) -> AsyncIterator[ServerSentEvent]:
    """The backlog after `after` up to `until` at the reader's pace, then the live
    notifications through the bounded queue."""
    settings: NotificationsSettings = request.app.state.settings
    hub: Hub = request.app.state.stream_hub
    pool: asyncpg.Pool = request.app.state.runtime.pool
    check: AccessCheck = request.app.state.check_access
    actor_id = uuid.UUID(principal.actor_id)
    territory_id = uuid.UUID(principal.territory_id)
    missed = backlog(pool, settings, lambda: check(principal), actor_id, territory_id, after, until)
    try:
        async with contextlib.aclosing(missed):
            async for row in missed:
                yield _sse(row)
                after = row["seq"]
    except _CUT as cut:
        log.info("stream of %s cut: %s", actor_id, cut)
        return
    queue: asyncio.Queue[asyncpg.Record] = asyncio.Queue(maxsize=settings.stream_buffer)
    reader = asyncio.create_task(
        feed(pool, hub, settings, lambda: check(principal), actor_id, territory_id, after, queue)
    )
    try:
        while True:
            if queue.empty() and reader.done():
                try:
                    reader.result()
                except _CUT as cut:
                    log.info("stream of %s cut: %s", actor_id, cut)
                return
            getting = asyncio.create_task(queue.get())
            await asyncio.wait({getting, reader}, return_when=asyncio.FIRST_COMPLETED)
            if not getting.done():
                getting.cancel()
                continue
            row = getting.result()
            yield _sse(row)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, *_CUT):
            await reader


@stream_router.get(
    "/stream",
    summary="My notifications as Server-Sent Events (resume with Last-Event-ID)",
    response_class=EventSourceResponse,
    response_model=None,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    request: Request,
    actor: CurrentActor,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> EventSourceResponse | JSONResponse:
    settings: NotificationsSettings = request.app.state.settings
    hub: Hub = request.app.state.stream_hub
    after = 0
    if last_event_id:
        if not last_event_id.isdigit():
            return problem(
                400,
                "Invalid input",
                "Last-Event-ID is not an id this stream sent",
                errors=[{"field": "Last-Event-ID", "message": "not an id of this stream"}],
            )
        after = int(last_event_id)
    # Where the backlog ends and the live notifications begin.
    async with request.app.state.runtime.pool.acquire() as conn:
        until = await store.last_seq(conn)
    if not hub.enter(actor.actor_id, settings.stream_connections_per_actor):
        return problem(
            429,
            "Too many requests",
            f"at most {settings.stream_connections_per_actor} streams per actor",
            retry_after_s=int(settings.stream_ping_s),
        )

    async def content() -> AsyncIterator[ServerSentEvent]:
        try:
            async for event in events(request, actor, after, until):
                yield event
        finally:
            hub.leave(actor.actor_id)

    return EventSourceResponse(
        content(),
        ping=settings.stream_ping_s,
        send_timeout=settings.stream_ping_s,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
