"""Who may use matching: admitted actors of a territory; an actor not yet admitted nothing."""

from __future__ import annotations

import uuid

from services.actors.domain import ActorRegistration
from services.actors.handlers import bootstrap_territory
from services.runtime.context import Context
from tests.harness import Stack
from tests.scenario import known_everywhere, registration, token_for


async def test_an_actor_not_yet_admitted_uses_nothing_and_an_admitted_one_does(
    stack: Stack,
) -> None:
    draft = ActorRegistration.model_validate(
        {
            "territory_id": str(uuid.uuid4()),
            "kind": "association",
            "name": "Équipe MCVT",
            "email": "facilitation@mcvt.example",
        }
    )
    territory_id, facilitator, key = await bootstrap_territory(
        stack.pool("actors"), f"Vallée {uuid.uuid4().hex[:8]}", draft, Context("/mcvt/actors")
    )
    assert facilitator is not None and key is not None
    facilitation = await token_for(stack.actors, key.api_key)
    body = registration(str(territory_id), siret=None)
    registered = (await stack.actors.post("/v1/actors", json=body)).json()
    actor_id = registered["actor"]["id"]
    headers = await token_for(stack.actors, registered["api_key"]["key"])
    await known_everywhere(stack, actor_id, "pending")
    matching = stack["matching"].client
    paths = ["/v1/matches", "/v1/policy", f"/v1/needs/{uuid.uuid4()}/candidates"]

    pending = [(await matching.get(path, headers=headers)).status_code for path in paths]

    assert pending == [403, 403, 403]
    admitted = await stack.actors.post(f"/v1/actors/{actor_id}/admit", headers=facilitation)
    assert admitted.status_code == 200
    await known_everywhere(stack, actor_id, "active")
    assert (await matching.get("/v1/matches", headers=headers)).status_code == 200
    policy = await matching.get("/v1/policy", headers=headers)
    assert policy.status_code == 200 and policy.json()["territory_id"] == str(territory_id)


async def test_export_gives_the_caller_what_matching_holds_about_it(stack: Stack) -> None:
    draft = ActorRegistration.model_validate(
        {
            "territory_id": str(uuid.uuid4()),
            "kind": "association",
            "name": "Équipe MCVT",
            "email": "facilitation@mcvt.example",
        }
    )
    _, facilitator, key = await bootstrap_territory(
        stack.pool("actors"), f"Vallée {uuid.uuid4().hex[:8]}", draft, Context("/mcvt/actors")
    )
    assert facilitator is not None and key is not None
    headers = await token_for(stack.actors, key.api_key)
    await known_everywhere(stack, str(facilitator.id), "active")

    export = await stack["matching"].client.get("/v1/me/export", headers=headers)

    assert export.status_code == 200, export.text
    body = export.json()
    assert body["service"] == "matching" and body["actor_id"] == str(facilitator.id)
    assert [a["actor_id"] for a in body["data"]["access"]] == [str(facilitator.id)]
    assert body["data"]["matches"] == []
