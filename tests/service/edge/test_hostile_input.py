"""No input crashes a service: every kind of hostile input found by probing answers a 4xx
problem naming where it is at fault, in each service, and publishes nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.harness import Stack
from tests.scenario import DIE, Member, Territory, declare, need_for, offer_on, registration

HOSTILE = "__hostile__"  # where a case's raw JSON goes in a valid body
# A match and an agreement that do not exist; fixed, since they are part of test ids that every
# xdist worker must collect alike.
NO_MATCH = "5f1c2d3e-0000-4000-8000-000000000001"
NO_AGREEMENT = "5f1c2d3e-0000-4000-8000-000000000002"


@dataclass(frozen=True)
class Target:
    """A route of one service, a valid body for it, and which of its fields take what."""

    service: str
    method: str
    path: str
    body: Callable[[Stack, Territory, Member], dict[str, Any]]
    text: str  # a dotted path to a text field
    number: str | None  # to a number field
    moment: str | None  # to a date-time field
    authenticated: bool = True


def _policy_proposal(stack: Stack, territory: Territory, member: Member) -> dict[str, Any]:
    return {
        "kind": "change_matching_policy",
        "title": "Seuil plus bas",
        "parameters": {"threshold": 0.3},
        "closes_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    }


def _matching_decline(stack: Stack, territory: Territory, member: Member) -> dict[str, Any]:
    return {"reason": "Plus besoin"}


TARGETS = [
    Target(
        "actors",
        "POST",
        "/v1/actors",
        lambda stack, territory, member: registration(territory.id, siret=None),
        text="location.commune",
        number="location.lat",
        moment=None,
        authenticated=False,
    ),
    Target(
        "offers",
        "POST",
        "/v1/needs",
        lambda stack, territory, member: need_for(location=DIE),
        text="title",
        number="budget.max_unit_price",
        moment="expires_at",
    ),
    Target(
        "offers",
        "POST",
        "/v1/offers",
        lambda stack, territory, member: offer_on(str(uuid.uuid4()), publish=False),
        text="performance.0.name",
        number="performance.0.target",
        moment="valid_from",
    ),
    Target(
        "matching",
        "POST",
        f"/v1/matches/{NO_MATCH}/decline",
        _matching_decline,
        text="reason",
        number=None,
        moment=None,
    ),
    Target(
        "agreements",
        "POST",
        f"/v1/agreements/{NO_AGREEMENT}/terminate",
        lambda stack, territory, member: {"reason": "Le local ferme"},
        text="reason",
        number=None,
        moment=None,
    ),
    Target(
        "agreements",
        "POST",
        f"/v1/agreements/{NO_AGREEMENT}/usage",
        lambda stack, territory, member: {
            "period_start": "2030-01-05T08:00:00+01:00",
            "period_end": "2030-01-05T12:00:00+01:00",
            "quantity": 4,
            "corrects": str(uuid.uuid4()),
        },
        text="corrects",
        number="quantity",
        moment="period_start",
    ),
    Target(
        "governance",
        "POST",
        "/v1/proposals",
        _policy_proposal,
        text="title",
        number="parameters.threshold",
        moment="closes_at",
    ),
]


def _place(body: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of `body` with `value` at the dotted path."""
    copy = json.loads(json.dumps(body))
    *parents, last = [int(p) if p.isdigit() else p for p in dotted.split(".")]
    node = copy
    for part in parents:
        node = node[part]
    node[last] = value
    return copy


def _raw(body: dict[str, Any], dotted: str, literal: str) -> bytes:
    """`body` as JSON with the raw `literal` (not valid as a Python value) at the dotted path."""
    return json.dumps(_place(body, dotted, HOSTILE)).replace(f'"{HOSTILE}"', literal).encode()


# (kind, which field it goes in, the raw JSON, the status, the field the problem names)
FIELD_CASES: list[tuple[str, str, str, int]] = [
    ("NUL character", "text", r'"Die\u0000"', 422),
    ("lone surrogate", "text", r'"Die\ud800"', 422),
    ("control character", "text", r'"Die\u001b[31m"', 422),
    ("text over its maximum length", "text", json.dumps("x" * 6000), 422),
    ("NaN", "number", "NaN", 422),
    ("Infinity", "number", "-Infinity", 422),
    ("a number overflowing a double", "number", "1e400", 422),
    ("year 9999", "moment", '"9999-12-31T00:00:00+00:00"', 422),
    ("year 9999 with a negative offset", "moment", '"9999-12-31T23:00:00-05:00"', 422),
    ("a date-time without its offset", "moment", '"2030-01-01T00:00:00"', 422),
]


def _cases() -> list[Any]:
    cases = []
    for target in TARGETS:
        for kind, slot, literal, status in FIELD_CASES:
            field = getattr(target, slot)
            if field is not None:
                cases.append(
                    pytest.param(target, field, literal, status, id=f"{target.path}-{kind}")
                )
    return cases


async def _send(
    stack: Stack,
    target: Target,
    member: Member,
    content: bytes,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    auth = member.headers if target.authenticated else {}
    sent = {"content-type": "application/json", **auth, **(headers or {})}
    async with in_process(stack, target.service) as client:
        return await client.request(target.method, target.path, content=content, headers=sent)


def in_process(stack: Stack, service: str) -> httpx.AsyncClient:
    """A client on the running app itself (actors is also on a socket, where a client sending
    megabytes to a server that has already answered 413 sees its connection closed)."""
    transport = httpx.ASGITransport(app=stack[service].app)
    return httpx.AsyncClient(transport=transport, base_url="http://service")


def _fields(response: httpx.Response) -> list[str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return [error["field"] for error in response.json().get("errors", [])]


@pytest.mark.parametrize(("target", "field", "literal", "status"), _cases())
async def test_hostile_value_is_refused_naming_the_field(
    stack: Stack, territory: Territory, member: Member, target, field, literal, status
) -> None:
    body = target.body(stack, territory, member)
    response = await _send(stack, target, member, _raw(body, field, literal))
    assert response.status_code == status, response.text
    assert field in _fields(response)


# Whole-body cases: (kind, the raw body, the status, the field the problem names)
BODY_CASES: list[tuple[str, bytes, int]] = [
    ("malformed JSON", b'{"title": "Fourgon", ', 422),
    ("invalid UTF-8", b'{"title": "Fourgon \xff\xfe"}', 422),
    ("deep nesting", b"[" * 10_000 + b"]" * 10_000, 422),
    ("nesting past the limit", b'{"a":' * 40 + b"1" + b"}" * 40, 422),
]


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.path)
@pytest.mark.parametrize(("kind", "content", "status"), BODY_CASES, ids=lambda c: str(c)[:20])
async def test_malformed_body_is_refused_saying_where(
    stack: Stack, member: Member, target, kind, content, status
) -> None:
    response = await _send(stack, target, member, content)
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["errors"][0]["in"] == "body"
    if kind == "malformed JSON":
        assert {"line", "column", "position"} <= set(problem["errors"][0])


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.path)
async def test_body_over_the_limit_is_413(
    stack: Stack, territory: Territory, member: Member, target
) -> None:
    huge = _place(target.body(stack, territory, member), target.text, "x" * 300_000)
    response = await _send(stack, target, member, json.dumps(huge).encode())
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_twenty_megabyte_commune_publishes_nothing(stack: Stack, territory: Territory):
    before = await stack.pool("actors").fetchval("SELECT count(*) FROM outbox")
    body = registration(territory.id, siret=None, location={**DIE, "commune": "D" * 20_000_000})
    async with in_process(stack, "actors") as client:
        response = await client.post("/v1/actors", json=body)
    assert response.status_code == 413
    assert await stack.pool("actors").fetchval("SELECT count(*) FROM outbox") == before


@pytest.mark.parametrize("service", ["actors", "offers", "matching", "agreements", "governance"])
@pytest.mark.parametrize(
    "given",
    ["<script>alert(1)</script>", "x" * 8000, "a b", ""],
    ids=["markup", "8 kB", "space", "empty"],
)
async def test_correlation_id_must_be_a_bounded_token(stack: Stack, service, given) -> None:
    response = await stack[service].client.get("/healthz", headers={"X-Correlation-Id": given})
    echoed = response.headers["X-Correlation-Id"]
    assert echoed != given
    assert str(uuid.UUID(echoed)) == echoed


async def test_a_correlation_id_token_is_kept(stack: Stack, territory: Territory) -> None:
    given = f"req-{uuid.uuid4().hex}"
    body = registration(territory.id, siret=None)
    response = await stack.actors.post("/v1/actors", json=body, headers={"X-Correlation-Id": given})
    assert response.status_code == 201
    assert response.headers["X-Correlation-Id"] == given


@pytest.mark.parametrize("service", ["actors", "offers", "matching", "agreements", "governance"])
async def test_oversized_headers_get_431(stack: Stack, service) -> None:
    response = await stack[service].client.get("/healthz", headers={"X-Padding": "p" * 40_000})
    assert response.status_code == 431
    assert response.headers["content-type"] == "application/problem+json"


async def test_headers_streaming_past_the_limit_get_431(stack: Stack) -> None:
    # actors runs on a real socket: a head that never ends is cut by h11 under the ASGI app.
    url = httpx.URL(str(stack.actors.base_url))
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: ")
        for _ in range(40):
            writer.write(b"p" * 1024)
            await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 431"), status_line


# --- PATCH /v1/actors/{me} -------------------------------------------------------------------


async def test_an_actor_moves_its_location(stack: Stack, member: Member) -> None:
    crest = {"lat": 44.7283, "lon": 5.0224, "commune": "Crest"}
    response = await stack.actors.patch(
        f"/v1/actors/{member.id}", json={"location": crest}, headers=member.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["location"] == crest
    again = await stack.actors.get("/v1/actors/me", headers=member.headers)
    assert again.json()["location"] == crest


@pytest.mark.parametrize("field", ["name", "email", "description"])
async def test_null_for_a_required_field_is_422(stack: Stack, member: Member, field) -> None:
    response = await stack.actors.patch(
        f"/v1/actors/{member.id}", json={field: None}, headers=member.headers
    )
    assert response.status_code == 422, response.text
    assert _fields(response) == [field]


async def test_null_clears_an_optional_field(stack: Stack, member: Member) -> None:
    response = await stack.actors.patch(
        f"/v1/actors/{member.id}", json={"phone": None}, headers=member.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["phone"] is None


async def test_dated_windows_take_an_offset_and_keep_wall_clock_time(
    stack: Stack, member: Member
) -> None:
    closure = {"start": "2026-12-24T00:00:00+01:00", "end": "2026-12-25T23:00:00Z"}
    asset = await declare(stack, member, availability={"closures": [closure]})
    assert asset["availability"]["closures"] == [
        {"start": "2026-12-24T00:00:00", "end": "2026-12-26T00:00:00"}
    ]


# --- the database out of reach --------------------------------------------------------------


async def test_connections_cut_by_the_database_answer_503_never_500(
    stack: Stack, member: Member
) -> None:
    """PostgreSQL ending every connection of the service (as a restart does) under load: each
    request succeeds or answers 503 with Retry-After, and the service recovers by itself."""
    database = stack["actors"].settings.database_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(stack["actors"].settings.database_url)

    async def cut() -> None:
        for _ in range(5):
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
            await asyncio.sleep(0.05)

    async def ask() -> httpx.Response:
        async with in_process(stack, "actors") as client:
            return await client.get("/v1/actors/me", headers=member.headers)

    try:
        cutting = asyncio.create_task(cut())
        answers = await asyncio.gather(*(ask() for _ in range(60)))
        await cutting
    finally:
        await admin.close()
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {200, 503}, statuses
    for answer in answers:
        if answer.status_code == 503:
            assert answer.headers["Retry-After"]
            assert answer.headers["content-type"] == "application/problem+json"
    assert (await ask()).status_code == 200


@pytest.mark.parametrize("key_id", ["%00", "%ED%A0%80", "k" * 5000])
async def test_a_hostile_key_id_in_the_path_is_422(stack: Stack, member: Member, key_id) -> None:
    async with in_process(stack, "actors") as client:
        response = await client.delete(
            f"/v1/actors/{member.id}/api-keys/{key_id}", headers=member.headers
        )
    assert response.status_code == 422, response.text
    assert _fields(response) == ["key_id"]


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("actors", "/v1/actors?cursor=%00"),
        ("offers", "/v1/offers?cursor=%00"),
        ("offers", "/v1/needs?category=%00"),
        ("matching", "/v1/matches?cursor=%ED%A0%80"),
        ("agreements", "/v1/agreements?cursor=%00"),
        ("agreements", "/v1/agreements?status=%00"),
        ("governance", "/v1/proposals?cursor=%00"),
    ],
)
async def test_a_hostile_query_is_422(stack: Stack, member: Member, service, path) -> None:
    async with in_process(stack, service) as client:
        response = await client.get(path, headers=member.headers)
    assert response.status_code == 422, response.text
