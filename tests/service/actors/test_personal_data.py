"""Personal data at the actors service (RGPD): what leaves it, what it gives back, erasure."""

from __future__ import annotations

import json
from typing import Any

from tests.scenario import registration, token_for
from tests.service.actors.test_access import actor_events, member

PRECISE = {"lat": 44.753812, "lon": 5.370423, "commune": "Die"}


async def test_a_citizens_place_leaves_only_as_its_commune_and_no_event_carries_contacts(
    actors, territory, kafka
) -> None:
    body = registration(
        territory.id,
        kind="citizen",
        name="Camille Martin",
        email="camille.martin@example.org",
        phone="+33 6 12 34 56 78",
        location=PRECISE,
        siret=None,
    )
    response = await actors.client.post("/v1/actors", json=body)
    assert response.status_code == 201
    actor_id = response.json()["actor"]["id"]
    auth = await token_for(actors.client, response.json()["api_key"]["key"])
    moved = {**PRECISE, "lat": 44.761234}
    changed = await actors.client.patch(
        f"/v1/actors/{actor_id}", json={"phone": "+33 7 00 00 00 00"}, headers=auth
    )
    assert changed.status_code == 200
    # The actor itself still reads its precise place.
    assert (await actors.client.get("/v1/actors/me", headers=auth)).json()["location"] == PRECISE

    events = await actor_events(kafka, actor_id, until=2)

    assert [e["data"]["location"] for e in events] == [
        {"lat": 44.75, "lon": 5.37, "commune": "Die"}
    ] * 2
    for event in events:
        text = json.dumps(event)
        for secret in ("camille.martin@example.org", "12 34 56 78", "00 00 00 00", "753812"):
            assert secret not in text
    assert str(moved["lat"]) not in json.dumps(events)


async def test_an_organisations_address_is_public_and_kept_exact(actors, territory, kafka) -> None:
    someone = await member(actors, territory, location=PRECISE)
    (registered, _) = await actor_events(kafka, someone["id"], until=2)
    assert registered["data"]["location"] == PRECISE


async def test_export_gives_the_caller_what_actors_holds_about_it(actors, territory) -> None:
    pending = await member(
        actors,
        territory,
        admit=False,
        name="En attente",
        email="attente@frigo-diois.example",
        phone="0475000000",
    )

    export = await actors.client.get("/v1/me/export", headers=pending["auth"])

    assert export.status_code == 200, export.text
    body = export.json()
    assert body["service"] == "actors" and body["actor_id"] == pending["id"]
    (actor,) = body["data"]["actor"]
    assert (actor["name"], actor["email"], actor["phone"]) == (
        "En attente",
        "attente@frigo-diois.example",
        "0475000000",
    )
    assert [k["id"] for k in body["data"]["api_keys"]] == [pending["key"]["id"]]
    assert "secret_hash" not in export.text and pending["key"]["key"] not in export.text


async def erased_state(actors, actor_id: str) -> dict[str, Any]:
    row = await actors.pool.fetchrow(
        "SELECT name, email, phone, lat, commune, siret, description, status, erased_at "
        "FROM actors WHERE id = $1::uuid",
        actor_id,
    )
    return dict(row)


async def test_an_actor_erases_itself_and_the_erasure_is_an_event(actors, territory, kafka) -> None:
    someone = await member(actors, territory, phone="0475000000", siret="73282932000074")
    await actor_events(kafka, someone["id"], until=2)  # registered and admitted are out

    erased = await actors.client.delete("/v1/me", headers=someone["auth"])

    assert erased.status_code == 204
    row = await erased_state(actors, someone["id"])
    assert row["erased_at"] is not None and row["status"] == "suspended"
    assert [row[k] for k in ("name", "email", "phone", "lat", "commune", "siret")] == [
        "",
        "",
        None,
        None,
        None,
        None,
    ]
    # Its token and keys are dead (all revoked); its id stays, for the agreements that name it.
    assert (await actors.client.get("/v1/actors/me", headers=someone["auth"])).status_code == 401
    refused = await actors.client.post("/v1/auth/token", json={"api_key": someone["key"]["key"]})
    assert refused.status_code == 401
    reinstated = await actors.client.post(
        f"/v1/actors/{someone['id']}/reinstate", headers=territory.facilitator
    )
    assert reinstated.status_code == 409
    events = await actor_events(kafka, someone["id"], until=3)
    erasure = events[-1]
    assert erasure["type"] == "mcvt.actor.erased.v1"
    assert erasure["data"]["name"] == "" and erasure["data"]["location"] is None
    assert erasure["data"]["siret"] is None and erasure["data"]["erased_by"] == someone["id"]
    # The published events that held its past states and addresses are gone from the outbox.
    kept = await actors.pool.fetch(
        "SELECT event_type FROM outbox WHERE key = $1 AND published_at IS NOT NULL", someone["id"]
    )
    assert {r["event_type"] for r in kept} <= {"mcvt.actor.erased.v1", "mcvt.contact.removed.v1"}


async def test_a_facilitator_erases_an_actor_on_request_and_a_member_cannot(
    actors, territory
) -> None:
    someone = await member(actors, territory, name="À effacer")
    other = await member(actors, territory, name="Voisin")

    refused = await actors.client.post(f"/v1/actors/{someone['id']}/erase", headers=other["auth"])
    assert refused.status_code == 403
    erased = await actors.client.post(
        f"/v1/actors/{someone['id']}/erase", headers=territory.facilitator
    )
    assert erased.status_code == 200 and erased.json()["name"] == ""
    again = await actors.client.post(
        f"/v1/actors/{someone['id']}/erase", headers=territory.facilitator
    )
    assert again.status_code == 409
