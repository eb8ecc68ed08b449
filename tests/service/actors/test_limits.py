"""Rate limits (429 with Retry-After) and one registration per e-mail and territory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.actors.domain import ActorRegistration
from services.actors.handlers import bootstrap_territory
from services.runtime.context import Context
from tests.harness import Databases, Running, start_stack
from tests.scenario import registration, token_for


@pytest.fixture
async def limited(databases: Databases, kafka: str) -> AsyncIterator[Running]:
    limits = {
        "rate_limit_sensitive": "3/minute",
        "rate_limit_per_token": "5/minute",
        "rate_limit_per_address": "1000/minute",
    }
    async with start_stack(databases, kafka, ["actors"], {"actors": limits}) as stack:
        yield stack["actors"]


async def _territory(actors: Running) -> tuple[str, str]:
    draft = ActorRegistration.model_validate(
        {
            "territory_id": "00000000-0000-0000-0000-000000000000",
            "kind": "association",
            "name": "Équipe MCVT",
            "email": "facilitation@mcvt.example",
        }
    )
    territory_id, _, key = await bootstrap_territory(
        actors.pool, "Vallée de la Drôme", draft, Context("/mcvt/actors")
    )
    assert key is not None
    return str(territory_id), key.api_key


def _is_429(response) -> bool:
    return (
        response.status_code == 429
        and response.headers["content-type"] == "application/problem+json"
        and int(response.headers["Retry-After"]) >= 1
    )


async def test_guessing_api_keys_is_slowed_down(limited: Running) -> None:
    wrong = {"api_key": "mcvt_0123456789abcdef_wrong"}
    answers = [await limited.client.post("/v1/auth/token", json=wrong) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [401, 401, 401]
    assert _is_429(answers[3])


async def test_mass_registration_is_slowed_down(limited: Running) -> None:
    territory_id, _ = await _territory(limited)
    answers = [
        await limited.client.post("/v1/actors", json=registration(territory_id, siret=None))
        for _ in range(4)
    ]
    assert [a.status_code for a in answers[:3]] == [201, 201, 201]
    assert _is_429(answers[3])


async def test_a_burst_from_one_token_is_limited(limited: Running) -> None:
    _, api_key = await _territory(limited)
    headers = await token_for(limited.client, api_key)
    answers = [await limited.client.get("/v1/actors/me", headers=headers) for _ in range(6)]
    assert [a.status_code for a in answers[:5]] == [200] * 5
    assert _is_429(answers[5])


async def test_one_registration_per_email_and_territory(actors: Running, territory) -> None:
    first = registration(territory.id, siret=None, email="Contact@Frigo.example")
    assert (await actors.client.post("/v1/actors", json=first)).status_code == 201
    again = registration(territory.id, siret=None, email="contact@frigo.example", name="Autre")
    response = await actors.client.post("/v1/actors", json=again)
    assert response.status_code == 409
    assert [error["field"] for error in response.json()["errors"]] == ["email"]
