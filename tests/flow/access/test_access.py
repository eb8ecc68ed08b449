"""Every service refuses, within about a second of the event at actors, a token whose actor was
suspended or whose key was revoked; an actor a service has not heard of is told to retry."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx

from services.actors.domain import Actor
from services.actors.tokens import issue_token
from tests.harness import Stack
from tests.scenario import Member, Territory, known_everywhere, new_member

# "About a second" on a loaded two-core test machine: the consumer's fetch wait plus a commit.
WITHIN_S = 3.0


def clients(stack: Stack) -> list[tuple[httpx.AsyncClient, str]]:
    """A read that every admitted member may make, in each service but actors."""
    return [(stack.offers, "/v1/offers"), (stack["matching"].client, "/v1/matches")]


async def statuses(stack: Stack, member: Member) -> list[int]:
    return [(await c.get(path, headers=member.headers)).status_code for c, path in clients(stack)]


async def seconds_until_refused(stack: Stack, member: Member, refused: int) -> float:
    started = time.monotonic()
    while time.monotonic() - started < 10:
        if await statuses(stack, member) == [refused, refused]:
            return time.monotonic() - started
    raise AssertionError(f"still let in after 10 s: {await statuses(stack, member)}")


async def test_a_suspension_ends_access_everywhere_within_a_second(
    stack: Stack, territory: Territory
) -> None:
    member = await new_member(stack, territory)
    assert await statuses(stack, member) == [200, 200]

    suspended = await stack.actors.post(
        f"/v1/actors/{member.id}/suspend",
        json={"reason": "fraude"},
        headers=territory.facilitator.headers,
    )
    assert suspended.status_code == 200

    assert await seconds_until_refused(stack, member, 403) < WITHIN_S
    reinstated = await stack.actors.post(
        f"/v1/actors/{member.id}/reinstate", headers=territory.facilitator.headers
    )
    assert reinstated.status_code == 200
    await known_everywhere(stack, member.id, "active")
    assert await statuses(stack, member) == [200, 200]


async def test_a_revoked_key_ends_its_tokens_everywhere_within_a_second(
    stack: Stack, territory: Territory
) -> None:
    member = await new_member(stack, territory)
    keys = await stack.actors.get(f"/v1/actors/{member.id}/api-keys", headers=member.headers)
    (key,) = keys.json()

    revoked = await stack.actors.delete(
        f"/v1/actors/{member.id}/api-keys/{key['id']}", headers=territory.facilitator.headers
    )
    assert revoked.status_code == 204

    assert await seconds_until_refused(stack, member, 401) < WITHIN_S


async def test_an_actor_a_service_has_not_heard_of_is_told_to_retry(
    stack: Stack, territory: Territory
) -> None:
    now = datetime.now(UTC)
    stranger = Actor.model_validate(
        {
            "id": "00000000-0000-4000-8000-000000000001",
            "territory_id": territory.id,
            "kind": "business",
            "name": "Inconnu",
            "email": "inconnu@example.org",
            "status": "active",
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
    )
    settings = stack["actors"].settings
    token = issue_token(
        stranger,
        stack["actors"].app.state.signing_keys[0],
        api_key_id="0123456789abcdef",
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(minutes=5),
    )
    headers = {"Authorization": f"Bearer {token}"}

    for client, path in clients(stack):
        response = await client.get(path, headers=headers)
        assert response.status_code == 401, path
        assert response.headers["retry-after"] == "1"
        assert response.headers["content-type"] == "application/problem+json"
