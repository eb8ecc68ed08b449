"""Access that ends when it should, at the actors service: keys belong to their actor, a revoked
key or a suspension ends a token at once, admission and reinstatement are separate decisions,
and an actor not yet admitted sees only itself."""

from __future__ import annotations

import json
from typing import Any

from tests.scenario import registration, token_for
from tests.support import read_topic


async def member(actors, territory, *, admit: bool = True, **overrides: Any) -> dict[str, Any]:
    """A registered (and by default admitted) actor: its id, first key and auth headers."""
    body = registration(territory.id, **{"siret": None, **overrides})
    response = await actors.client.post("/v1/actors", json=body)
    assert response.status_code == 201, response.text
    actor_id, key = response.json()["actor"]["id"], response.json()["api_key"]
    if admit:
        admitted = await actors.client.post(
            f"/v1/actors/{actor_id}/admit", headers=territory.facilitator
        )
        assert admitted.status_code == 200, admitted.text
    return {"id": actor_id, "key": key, "auth": await token_for(actors.client, key["key"])}


async def actor_events(kafka: str, subject: str, until: int) -> list[dict[str, Any]]:
    def enough(records: list[Any]) -> bool:
        return len(_of(records, subject)) >= until

    return _of(await read_topic(kafka, "mcvt.actors", until=enough), subject)


def _of(records: list[Any], subject: str) -> list[dict[str, Any]]:
    decoded = [json.loads(r.value) for r in records if r.value]
    return [e for e in decoded if e.get("subject") == subject]


async def test_a_facilitator_neither_creates_nor_lists_another_actors_keys(
    actors, territory
) -> None:
    someone = await member(actors, territory)
    keys = f"/v1/actors/{someone['id']}/api-keys"
    before = await actors.pool.fetchval("SELECT count(*) FROM api_keys")

    created = await actors.client.post(keys, json={"label": "x"}, headers=territory.facilitator)
    listed = await actors.client.get(keys, headers=territory.facilitator)

    assert (created.status_code, listed.status_code) == (403, 403)
    assert await actors.pool.fetchval("SELECT count(*) FROM api_keys") == before
    own = await actors.client.get(keys, headers=someone["auth"])
    assert own.status_code == 200 and [k["id"] for k in own.json()] == [someone["key"]["id"]]


async def test_a_facilitator_revokes_a_key_which_is_an_event_and_ends_its_tokens(
    actors, territory, kafka
) -> None:
    someone = await member(actors, territory)
    assert (await actors.client.get("/v1/actors/me", headers=someone["auth"])).status_code == 200

    revoked = await actors.client.delete(
        f"/v1/actors/{someone['id']}/api-keys/{someone['key']['id']}",
        headers=territory.facilitator,
    )

    assert revoked.status_code == 204
    # The token minted with it is refused at once, though it has not expired.
    refused = await actors.client.get("/v1/actors/me", headers=someone["auth"])
    assert refused.status_code == 401
    events = await actor_events(actors.settings.kafka_bootstrap_servers, someone["id"], until=3)
    (event,) = [e for e in events if e["type"] == "mcvt.api_key.revoked.v1"]
    assert event["data"] == {
        "key_id": someone["key"]["id"],
        "actor_id": someone["id"],
        "territory_id": territory.id,
        "revoked_by": territory.facilitator_id,
    }
    assert someone["key"]["key"] not in json.dumps(event)


async def test_a_token_of_a_revoked_key_cannot_mint_a_new_key(actors, territory) -> None:
    someone = await member(actors, territory)
    keys = f"/v1/actors/{someone['id']}/api-keys"
    await actors.client.delete(f"{keys}/{someone['key']['id']}", headers=someone["auth"])

    minted = await actors.client.post(keys, json={"label": "again"}, headers=someone["auth"])

    assert minted.status_code == 401
    assert await actors.pool.fetchval("SELECT count(*) FROM api_keys WHERE label = 'again'") == 0


async def test_a_suspended_actor_is_refused_at_once_with_its_unexpired_token(
    actors, territory
) -> None:
    someone = await member(actors, territory)
    suspended = await actors.client.post(
        f"/v1/actors/{someone['id']}/suspend",
        json={"reason": "fraude"},
        headers=territory.facilitator,
    )
    assert suspended.status_code == 200

    attempts = [
        await actors.client.patch(
            f"/v1/actors/{someone['id']}", json={"name": "Autre"}, headers=someone["auth"]
        ),
        await actors.client.post(
            f"/v1/actors/{someone['id']}/api-keys", json={"label": "x"}, headers=someone["auth"]
        ),
        await actors.client.get("/v1/actors", headers=someone["auth"]),
        await actors.client.get("/v1/actors/me", headers=someone["auth"]),
    ]

    assert [a.status_code for a in attempts] == [403, 403, 403, 403]
    row = await actors.pool.fetchrow(
        "SELECT name, version FROM actors WHERE id = $1::uuid", someone["id"]
    )
    assert (row["name"], row["version"]) == ("Transports Frigo Diois", 3)


async def test_a_suspended_facilitator_cannot_readmit_itself(actors, territory) -> None:
    other = await member(actors, territory, kind="association", name="Deuxième animateur")
    await actors.pool.execute(
        "UPDATE actors SET roles = '{facilitator}' WHERE id = $1::uuid", other["id"]
    )
    other["auth"] = await token_for(actors.client, other["key"]["key"])  # a facilitator's token
    suspended = await actors.client.post(
        f"/v1/actors/{other['id']}/suspend", json={"reason": "abus"}, headers=territory.facilitator
    )
    assert suspended.status_code == 200

    for action in ("admit", "reinstate"):
        response = await actors.client.post(
            f"/v1/actors/{other['id']}/{action}", headers=other["auth"]
        )
        assert response.status_code == 403, action
    status = await actors.pool.fetchval(
        "SELECT status FROM actors WHERE id = $1::uuid", other["id"]
    )
    assert status == "suspended"


async def test_admission_is_for_pending_actors_and_reinstatement_its_own_event(
    actors, territory, kafka
) -> None:
    someone = await member(actors, territory)
    url = f"/v1/actors/{someone['id']}"
    await actors.client.post(f"{url}/suspend", json={"reason": "x"}, headers=territory.facilitator)

    readmitted = await actors.client.post(f"{url}/admit", headers=territory.facilitator)
    assert readmitted.status_code == 409
    reinstated = await actors.client.post(f"{url}/reinstate", headers=territory.facilitator)
    assert reinstated.status_code == 200 and reinstated.json()["status"] == "active"
    again = await actors.client.post(f"{url}/reinstate", headers=territory.facilitator)
    assert again.status_code == 409
    # A member does not reinstate (nor admit) anyone.
    assert (
        await actors.client.post(f"{url}/reinstate", headers=someone["auth"])
    ).status_code == 403

    events = await actor_events(kafka, someone["id"], until=4)
    assert [e["type"] for e in events] == [
        "mcvt.actor.registered.v1",
        "mcvt.actor.admitted.v1",
        "mcvt.actor.suspended.v1",
        "mcvt.actor.reinstated.v1",
    ]
    assert events[3]["data"]["reinstated_by"] == territory.facilitator_id
    assert events[3]["data"]["status"] == "active" and events[3]["data"]["version"] == 4
    assert (await actors.client.get("/v1/actors/me", headers=someone["auth"])).status_code == 200


async def test_an_actor_not_yet_admitted_reads_and_changes_only_itself(actors, territory) -> None:
    admitted = await member(actors, territory, name="Admis")
    pending = await member(actors, territory, admit=False, name="En attente")

    directory = await actors.client.get("/v1/actors", headers=pending["auth"])
    other = await actors.client.get(f"/v1/actors/{admitted['id']}", headers=pending["auth"])
    facilitator = await actors.client.get(
        f"/v1/actors/{territory.facilitator_id}", headers=pending["auth"]
    )

    assert directory.status_code == 403
    assert (other.status_code, facilitator.status_code) == (404, 404)
    assert "email" not in other.text
    itself = await actors.client.get(f"/v1/actors/{pending['id']}", headers=pending["auth"])
    assert itself.status_code == 200 and itself.json()["email"]
    changed = await actors.client.patch(
        f"/v1/actors/{pending['id']}", json={"name": "Renommé"}, headers=pending["auth"]
    )
    assert changed.status_code == 200
    # Once admitted, the same token reads the directory.
    await actors.client.post(f"/v1/actors/{pending['id']}/admit", headers=territory.facilitator)
    assert (await actors.client.get("/v1/actors", headers=pending["auth"])).status_code == 200


async def test_a_territory_opens_its_offers_by_a_setting_that_is_an_event(
    actors, territory, kafka
) -> None:
    someone = await member(actors, territory)
    url = f"/v1/territories/{territory.id}/settings"

    refused = await actors.client.put(url, json={"offers_public": True}, headers=someone["auth"])
    opened = await actors.client.put(
        url, json={"offers_public": True}, headers=territory.facilitator
    )

    assert refused.status_code == 404
    assert opened.status_code == 200 and opened.json()["version"] == 2
    events = await actor_events(kafka, territory.id, until=1)
    (event,) = [e for e in events if e["type"] == "mcvt.territory.settings_changed.v1"]
    assert event["data"] == {"territory_id": territory.id, "offers_public": True, "version": 2}
