"""Personal data at offers (RGPD): the caller's export; an erasure honoured by the read model."""

from __future__ import annotations

import uuid

from tests.scenario import declare, need, new_member, offer
from tests.support import eventually


async def test_export_gives_the_caller_what_offers_holds_about_it(stack, territory) -> None:
    member = await new_member(stack, territory, name="Frigo Diois")
    neighbour = await new_member(stack, territory, name="Voisin")
    asset = await declare(stack, member)
    published = await offer(stack, member, asset["id"])
    requested = await need(stack, member)
    await declare(stack, neighbour)

    export = await stack.offers.get("/v1/me/export", headers=member.headers)

    assert export.status_code == 200, export.text
    body = export.json()
    assert body["service"] == "offers" and body["actor_id"] == member.id
    data = body["data"]
    assert [a["id"] for a in data["assets"]] == [asset["id"]]
    assert [o["id"] for o in data["offers"]] == [published["id"]]
    assert [n["id"] for n in data["needs"]] == [requested["id"]]
    assert [a["actor_id"] for a in data["actor"]] == [member.id]
    assert [(a["actor_id"], a["status"]) for a in data["access"]] == [(member.id, "active")]


async def test_an_erasure_at_actors_removes_the_place_offers_kept(stack, territory) -> None:
    member = await new_member(stack, territory, name="À effacer")
    published = await offer(stack, member, (await declare(stack, member))["id"])
    before = await stack.pool("offers").fetchrow(
        "SELECT lat, commune FROM actors WHERE actor_id = $1", uuid.UUID(member.id)
    )
    assert before["lat"] is not None

    erased = await stack.actors.delete("/v1/me", headers=member.headers)
    assert erased.status_code == 204

    async def forgotten() -> bool:
        row = await stack.pool("offers").fetchrow(
            "SELECT lat, lon, commune, status FROM actors WHERE actor_id = $1",
            uuid.UUID(member.id),
        )
        return tuple(row) == (None, None, None, "suspended")

    await eventually(forgotten)
    # Its id stays, and its offers are no longer on show.
    shown = await stack.offers.get(
        f"/v1/offers/{published['id']}", headers=territory.facilitator.headers
    )
    assert shown.status_code == 200 and shown.json()["owner_id"] == member.id
    assert shown.json()["status"] == "paused"
