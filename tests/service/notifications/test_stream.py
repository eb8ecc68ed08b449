"""GET /v1/stream against a real uvicorn on loopback: the caller's notifications live, in order,
resumed after a reconnect from Last-Event-ID without a gap, pings while idle, a cap per actor,
a reader that stops reading is cut, and a stream ends when its actor is suspended."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid

import httpx

from services.notifications import store
from services.notifications.domain.subscriptions import Notification
from tests.harness import Stack
from tests.scenario import Territory, new_member
from tests.service.notifications.sse import listening
from tests.service.notifications.steps import (
    logged,
    proposal_opened,
    proposed,
    publish,
)
from tests.support import eventually


async def test_live_in_order_then_resumed_without_a_gap(stack: Stack, territory: Territory) -> None:
    base = stack.urls["notifications"]
    member = await new_member(stack, territory, kind="association", name="Les Jardins")
    other = await new_member(stack, territory)
    subject = str(uuid.uuid4())
    async with listening(base, member.headers) as stream:
        first = [
            await publish(stack, proposed(territory.id, other.id, member.id), subject, territory.id)
            for _ in range(3)
        ]
        # Not the member's business: never in its stream.
        await publish(
            stack, proposed(territory.id, other.id, str(uuid.uuid4())), subject, territory.id
        )
        opened = await publish(stack, proposal_opened(territory.id), "p", territory.id)
        await eventually(lambda: len(stream.events) >= 4)
        seen = [json.loads(e.data)["id"] for e in stream.events]
        # One match's events in their order; the proposal (another partition) anywhere.
        assert [i for i in seen if i != opened.id] == [e.id for e in first]
        assert sorted(seen) == sorted([e.id for e in first] + [opened.id])
        assert {e.event for e in stream.events} == {
            "mcvt.match.proposed.v1",
            "mcvt.governance.proposal_opened.v1",
        }
        last_id = stream.events[-1].id
        ids = [int(e.id or 0) for e in stream.events]
        assert ids == sorted(ids)

    missed = [
        await publish(stack, proposed(territory.id, member.id, other.id), subject, territory.id)
        for _ in range(2)
    ]
    for event in missed:
        await logged(stack, event.id)
    async with listening(base, member.headers, last_event_id=last_id) as resumed:
        live = await publish(
            stack, proposed(territory.id, member.id, other.id), subject, territory.id
        )
        await eventually(lambda: len(resumed.events) >= 3)
        await asyncio.sleep(0.3)
        assert [json.loads(e.data)["id"] for e in resumed.events] == [
            *(e.id for e in missed),
            live.id,
        ]


async def test_idle_streams_are_kept_alive_with_pings(stack: Stack, territory: Territory) -> None:
    member = await new_member(stack, territory)
    async with listening(stack.urls["notifications"], member.headers) as stream:
        await eventually(lambda: stream.pings >= 2, timeout=10)
        assert stream.events == []


async def test_connections_per_actor_are_capped(stack: Stack, territory: Territory) -> None:
    member = await new_member(stack, territory)
    base = stack.urls["notifications"]
    async with listening(base, member.headers), listening(base, member.headers):
        async with httpx.AsyncClient(base_url=base) as client:
            third = await client.get("/v1/stream", headers=member.headers)
        assert third.status_code == 429
        assert third.headers["content-type"] == "application/problem+json"
        assert "Retry-After" in third.headers
    # Closed streams free their places.
    hub = stack["notifications"].app.state.stream_hub
    await eventually(lambda: member.id not in hub.open)
    async with listening(base, member.headers):
        pass


async def test_a_bad_last_event_id_is_refused(stack: Stack, territory: Territory) -> None:
    member = await new_member(stack, territory)
    async with httpx.AsyncClient(base_url=stack.urls["notifications"]) as client:
        response = await client.get(
            "/v1/stream", headers={**member.headers, "Last-Event-ID": "abc"}
        )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Last-Event-ID"


async def test_a_reader_that_stops_reading_is_cut(stack: Stack, territory: Territory) -> None:
    member = await new_member(stack, territory)
    host, port = stack.urls["notifications"].removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # a reader with a tiny window
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (host, int(port)))
    request = (
        f"GET /v1/stream HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: {member.headers['Authorization']}\r\n\r\n"
    )
    await loop.sock_sendall(sock, request.encode())
    await loop.sock_recv(sock, 512)  # the status line and headers; then it reads no more
    hub = stack["notifications"].app.state.stream_hub
    assert hub.open[member.id] == 1
    try:
        # Far more than the buffer of 8 and the socket buffers (a few MB) hold: written straight
        # into the service's log, as its consumer would, to keep the test short.
        padding = "x" * 20_000
        notice = Notification(
            "mcvt.match.proposed.v1", territory.id, frozenset({member.id}), "parties"
        )
        async with stack.pool("notifications").acquire() as conn:
            for _ in range(400):
                body = json.dumps({"id": str(uuid.uuid4()), "padding": padding})
                async with conn.transaction():
                    await store.append(conn, json.loads(body)["id"], notice, body)
        await eventually(lambda: member.id not in hub.open, timeout=30)
    finally:
        sock.close()


async def test_a_stream_ends_when_its_actor_is_suspended(
    stack: Stack, territory: Territory
) -> None:
    member = await new_member(stack, territory)
    async with listening(stack.urls["notifications"], member.headers) as stream:
        await eventually(lambda: stream.pings >= 1, timeout=10)
        suspended = await stack.actors.post(
            f"/v1/actors/{member.id}/suspend",
            json={"reason": "fraude"},
            headers=territory.facilitator.headers,
        )
        assert suspended.status_code == 200
        await eventually(lambda: stream.ended, timeout=10)


async def test_a_long_backlog_is_caught_up_in_one_connection(
    stack: Stack, territory: Territory
) -> None:
    """Far more missed notifications than the buffer (8 in these tests): the replay from the log
    goes at the reader's pace, all of it on one connection, then the live ones follow."""
    member = await new_member(stack, territory)
    notice = Notification("mcvt.match.proposed.v1", territory.id, frozenset({member.id}), "parties")

    async def written(count: int) -> list[tuple[int, str]]:
        rows = []
        async with stack.pool("notifications").acquire() as conn:
            for _ in range(count):
                event_id = str(uuid.uuid4())
                body = json.dumps({"id": event_id, "padding": "x" * 2_000})
                async with conn.transaction():
                    seq = await store.append(conn, event_id, notice, body)
                assert seq is not None
                rows.append((seq, event_id))
        return rows

    [(last_seen, _)] = await written(1)
    missed = await written(200)
    async with listening(
        stack.urls["notifications"], member.headers, last_event_id=str(last_seen)
    ) as stream:
        await eventually(lambda: len(stream.events) >= len(missed) or stream.ended, timeout=30)
        assert not stream.ended, f"cut after {len(stream.events)} of {len(missed)}"
        assert [(int(e.id or 0), json.loads(e.data)["id"]) for e in stream.events] == missed
        live = await written(3)
        await eventually(lambda: len(stream.events) >= len(missed) + 3 or stream.ended)
        assert [int(e.id or 0) for e in stream.events[len(missed) :]] == [s for s, _ in live]
        assert not stream.ended
