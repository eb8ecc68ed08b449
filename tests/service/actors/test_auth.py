"""Authentication and authorisation at the actors service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt
import pytest

from services.actors.domain import Actor
from services.actors.tokens import SigningKey, issue_token
from tests.scenario import registration, token_for


async def register(actors, territory_id: str, **overrides) -> tuple[str, dict[str, str]]:
    response = await actors.client.post("/v1/actors", json=registration(territory_id, **overrides))
    assert response.status_code == 201, response.text
    body = response.json()
    return body["actor"]["id"], await token_for(actors.client, body["api_key"]["key"])


async def outbox_count(actors) -> int:
    return await actors.pool.fetchval("SELECT count(*) FROM outbox")


async def test_actor_a_cannot_change_actor_b(actors, territory) -> None:
    a_id, a_auth = await register(actors, territory.id, siret=None, name="A")
    b_id, _ = await register(actors, territory.id, siret=None, name="B")
    for actor_id in (a_id, b_id):  # admitted, so that they see each other
        admitted = await actors.client.post(
            f"/v1/actors/{actor_id}/admit", headers=territory.facilitator
        )
        assert admitted.status_code == 200
    before = await outbox_count(actors)

    response = await actors.client.patch(
        f"/v1/actors/{b_id}", json={"name": "Hijacked"}, headers=a_auth
    )

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert (await actors.client.get(f"/v1/actors/{b_id}", headers=a_auth)).json()["name"] == "B"
    assert await outbox_count(actors) == before
    own = await actors.client.patch(
        f"/v1/actors/{a_id}", json={"name": "A renamed"}, headers=a_auth
    )
    assert own.status_code == 200 and own.json()["version"] == 3


async def test_a_member_cannot_admit_or_suspend(actors, territory) -> None:
    a_id, a_auth = await register(actors, territory.id, siret=None)
    assert (await actors.client.post(f"/v1/actors/{a_id}/admit", headers=a_auth)).status_code == 403
    suspend = await actors.client.post(
        f"/v1/actors/{a_id}/suspend", json={"reason": "x"}, headers=a_auth
    )
    assert suspend.status_code == 403


async def test_a_facilitator_acts_only_in_its_territory(actors, territory) -> None:
    from services.actors.domain import ActorRegistration
    from services.actors.handlers import bootstrap_territory
    from services.runtime.context import Context

    draft = ActorRegistration.model_validate(
        {
            "territory_id": territory.id,
            "kind": "local_authority",
            "name": "Mairie",
            "email": "m@x.example",
        }
    )
    _, _, key = await bootstrap_territory(
        actors.pool, "Autre vallée", draft, Context("/mcvt/actors")
    )
    assert key is not None
    other_facilitator = await token_for(actors.client, key.api_key)
    actor_id, _ = await register(actors, territory.id, siret=None)
    response = await actors.client.post(f"/v1/actors/{actor_id}/admit", headers=other_facilitator)
    assert response.status_code == 404  # another territory's actors do not exist for it


def claims_token(actors, territory, **changes) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": actors.settings.jwt_issuer,
        "aud": actors.settings.jwt_audience,
        "sub": territory.facilitator_id,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
        "jti": "t1",
        "territory": territory.id,
        "kind": "association",
        "roles": ["facilitator"],
    }
    claims.update(changes)
    key: SigningKey = actors.app.state.signing_keys[0]
    return jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(
            lambda a, t: claims_token(a, t, exp=datetime.now(UTC) - timedelta(seconds=1)),
            id="expired",
        ),
        pytest.param(lambda a, t: claims_token(a, t, aud="another-audience"), id="wrong-audience"),
        pytest.param(lambda a, t: claims_token(a, t, iss="someone-else"), id="wrong-issuer"),
        pytest.param(
            lambda a, t: jwt.encode(
                {"sub": t.facilitator_id, "territory": t.id},
                None,  # type: ignore[arg-type]
                algorithm="none",
            ),
            id="alg-none",
        ),
        pytest.param(
            lambda a, t: jwt.encode(
                {"sub": t.facilitator_id},
                SigningKey.generate().private_key,
                algorithm="ES256",
                headers={"kid": a.app.state.signing_keys[0].kid},
            ),
            id="forged-signature",
        ),
        pytest.param(
            lambda a, t: jwt.encode({"sub": t.facilitator_id}, "s" * 32, algorithm="HS256"),
            id="hmac",
        ),
        pytest.param(lambda a, t: "not.a.token", id="garbage"),
    ],
)
async def test_bad_tokens_get_401(actors, territory, make_token) -> None:
    assert (
        await actors.client.get("/v1/actors/me", headers=territory.facilitator)
    ).status_code == 200
    token = make_token(actors, territory)
    response = await actors.client.get(
        "/v1/actors/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_missing_token_gets_401(actors, territory) -> None:
    assert (await actors.client.get("/v1/actors/me")).status_code == 401


async def test_token_of_the_service_key_is_accepted_until_it_expires(actors, territory) -> None:
    actor = Actor.model_validate(
        {
            "id": territory.facilitator_id,
            "territory_id": territory.id,
            "kind": "association",
            "name": "F",
            "email": "f@x.example",
            "status": "active",
            "roles": ["facilitator"],
            "version": 1,
            "created_at": datetime.now(UTC),
            "updated_at": datetime.now(UTC),
        }
    )
    key = actors.app.state.signing_keys[0]
    api_key_id = await actors.pool.fetchval(
        "SELECT id FROM api_keys WHERE actor_id = $1", UUID(territory.facilitator_id)
    )
    kwargs = {
        "api_key_id": api_key_id,
        "issuer": actors.settings.jwt_issuer,
        "audience": actors.settings.jwt_audience,
    }
    fresh = issue_token(actor, key, ttl=timedelta(minutes=1), **kwargs)
    stale = issue_token(
        actor, key, ttl=timedelta(minutes=1), now=datetime.now(UTC) - timedelta(minutes=2), **kwargs
    )
    assert (
        await actors.client.get("/v1/actors/me", headers={"Authorization": f"Bearer {fresh}"})
    ).status_code == 200
    assert (
        await actors.client.get("/v1/actors/me", headers={"Authorization": f"Bearer {stale}"})
    ).status_code == 401


async def test_revoked_key_and_suspended_actor_get_no_token(actors, territory) -> None:
    response = await actors.client.post("/v1/actors", json=registration(territory.id, siret=None))
    actor_id, first_key = response.json()["actor"]["id"], response.json()["api_key"]
    auth = await token_for(actors.client, first_key["key"])
    second = await actors.client.post(
        f"/v1/actors/{actor_id}/api-keys", json={"label": "tablet"}, headers=auth
    )
    assert second.status_code == 201
    revoked = await actors.client.delete(
        f"/v1/actors/{actor_id}/api-keys/{first_key['id']}", headers=auth
    )
    assert revoked.status_code == 204
    refused = await actors.client.post("/v1/auth/token", json={"api_key": first_key["key"]})
    assert refused.status_code == 401
    await token_for(actors.client, second.json()["key"])  # the other key still works

    await actors.client.post(f"/v1/actors/{actor_id}/admit", headers=territory.facilitator)
    suspended = await actors.client.post(
        f"/v1/actors/{actor_id}/suspend",
        json={"reason": "unpaid dues"},
        headers=territory.facilitator,
    )
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    assert (
        await actors.client.post("/v1/auth/token", json={"api_key": second.json()["key"]})
    ).status_code == 401


async def test_jwks_publishes_the_verifying_key(actors, territory) -> None:
    keys = (await actors.client.get("/.well-known/jwks.json")).json()["keys"]
    assert [k["kid"] for k in keys] == [actors.app.state.signing_keys[0].kid]
    assert keys[0]["alg"] == "ES256" and "d" not in keys[0]  # public part only
