"""The territory's shared vision: drafted by a facilitator, adopted by a free_motion naming it;
ideas and projects link to it."""

from __future__ import annotations

from typing import Any

from tests.harness import Stack
from tests.scenario import new_member, new_territory
from tests.service.projects.steps import client, decide, project
from tests.support import eventually

VISION: dict[str, Any] = {
    "title": "Demain Petite Montagne",
    "text": "Un territoire qui vit de ses ressources et les partage.",
    "themes": ["tourism", "agriculture_wood", "environment"],
    "aims": ["Créer des emplois locaux", "Réemployer plutôt que jeter"],
}


async def test_a_free_motion_adopts_the_vision_that_ideas_and_projects_link_to(
    stack: Stack,
) -> None:
    town = await new_territory(stack)
    member = await new_member(stack, town)
    refused = await client(stack).post("/v1/visions", json=VISION, headers=member.headers)
    drafted = await client(stack).post("/v1/visions", json=VISION, headers=town.facilitator.headers)
    assert refused.status_code == 403
    assert drafted.status_code == 201 and drafted.json()["adopted_at"] is None
    vision_id = drafted.json()["id"]
    none_yet = await client(stack).get("/v1/visions/current", headers=member.headers)
    assert none_yet.status_code == 404

    await decide(
        stack, town.id, "free_motion", {"text": "Adopter la vision", "vision_id": vision_id}
    )

    async def adopted() -> dict[str, Any] | None:
        response = await client(stack).get("/v1/visions/current", headers=member.headers)
        return dict(response.json()) if response.status_code == 200 else None

    current = await eventually(adopted)
    assert current["id"] == vision_id and current["aims"] == VISION["aims"]
    linked = await client(stack).post(
        "/v1/projects", json=project(vision_id=vision_id), headers=member.headers
    )
    assert linked.status_code == 201 and linked.json()["vision_id"] == vision_id


async def test_a_vision_of_another_territory_is_not_linked_nor_adopted(stack: Stack) -> None:
    town = await new_territory(stack)
    elsewhere = await new_territory(stack)
    theirs = await client(stack).post(
        "/v1/visions", json=VISION, headers=elsewhere.facilitator.headers
    )
    vision_id = theirs.json()["id"]
    linked = await client(stack).post(
        "/v1/ideas",
        json={"title": "x", "theme": "tourism", "vision_id": vision_id},
        headers=town.facilitator.headers,
    )
    await decide(stack, town.id, "free_motion", {"text": "", "vision_id": vision_id})
    # A later decision of its own territory shows the first one was taken and ignored.
    await decide(stack, elsewhere.id, "free_motion", {"text": "", "vision_id": vision_id})

    async def adopted() -> dict[str, Any] | None:
        response = await client(stack).get(
            "/v1/visions/current", headers=elsewhere.facilitator.headers
        )
        return dict(response.json()) if response.status_code == 200 else None

    assert linked.status_code == 422 and linked.json()["errors"][0]["field"] == "vision_id"
    assert (await eventually(adopted))["id"] == vision_id
    mine = await client(stack).get("/v1/visions/current", headers=town.facilitator.headers)
    assert mine.status_code == 404


async def test_only_an_adopted_vision_is_linked_and_the_current_one_by_default(
    stack: Stack,
) -> None:
    town = await new_territory(stack)
    member = await new_member(stack, town)
    facilitator = town.facilitator.headers
    unlinked = await client(stack).post("/v1/projects", json=project(), headers=member.headers)
    assert unlinked.status_code == 201 and unlinked.json()["vision_id"] is None  # none adopted
    first = (await client(stack).post("/v1/visions", json=VISION, headers=facilitator)).json()
    draft = (await client(stack).post("/v1/visions", json=VISION, headers=facilitator)).json()

    not_adopted = [
        await client(stack).post(path, json=body, headers=member.headers)
        for path, body in (
            ("/v1/ideas", {"title": "Un gîte", "theme": "tourism", "vision_id": draft["id"]}),
            ("/v1/projects", project(vision_id=draft["id"])),
        )
    ]
    assert [r.status_code for r in not_adopted] == [422, 422]
    assert [r.json()["errors"][0]["field"] for r in not_adopted] == ["vision_id"] * 2

    await decide(stack, town.id, "free_motion", {"text": "", "vision_id": first["id"]})
    second = (await client(stack).post("/v1/visions", json=VISION, headers=facilitator)).json()
    await decide(stack, town.id, "free_motion", {"text": "", "vision_id": second["id"]})

    async def adopted() -> bool:
        response = await client(stack).get("/v1/visions/current", headers=member.headers)
        return response.status_code == 200 and response.json()["id"] == second["id"]

    await eventually(adopted)
    idea = await client(stack).post(
        "/v1/ideas", json={"title": "Un gîte", "theme": "tourism"}, headers=member.headers
    )
    current = await client(stack).post("/v1/projects", json=project(), headers=member.headers)
    past = await client(stack).post(
        "/v1/projects", json=project(vision_id=first["id"]), headers=member.headers
    )
    assert idea.status_code == 201 and idea.json()["vision_id"] == second["id"]
    assert current.status_code == 201 and current.json()["vision_id"] == second["id"]
    assert past.status_code == 201 and past.json()["vision_id"] == first["id"]
