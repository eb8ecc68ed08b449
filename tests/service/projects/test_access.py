"""Only admitted members of the territory see and act on its ideas, projects and vision."""

from __future__ import annotations

from tests.harness import Stack
from tests.scenario import new_member, new_territory
from tests.service.projects.steps import client, idea, project, start, submit


async def test_another_territory_sees_nothing(stack: Stack) -> None:
    town = await new_territory(stack)
    elsewhere = await new_territory(stack)
    carrier = await new_member(stack, town)
    stranger = await new_member(stack, elsewhere)
    made = await start(stack, carrier)
    thought = await submit(stack, carrier)

    seen = await client(stack).get(f"/v1/projects/{made['id']}", headers=stranger.headers)
    listed = await client(stack).get("/v1/projects", headers=stranger.headers)
    ideas = await client(stack).get("/v1/ideas", headers=stranger.headers)
    support = await client(stack).post(
        f"/v1/ideas/{thought['id']}/supports", headers=stranger.headers
    )
    pledge = await client(stack).post(
        f"/v1/projects/{made['id']}/pledges",
        json={"kind": "time", "amount": 2},
        headers=stranger.headers,
    )
    co_carrier = await client(stack).post(
        "/v1/projects", json=project(carrier_ids=[carrier.id]), headers=stranger.headers
    )
    from_idea = await client(stack).post(
        "/v1/projects", json=project(idea_ids=[thought["id"]]), headers=stranger.headers
    )

    assert seen.status_code == 404 and support.status_code == 404 and pledge.status_code == 404
    assert listed.json()["items"] == [] and ideas.json()["items"] == []
    assert (
        co_carrier.status_code == 422 and co_carrier.json()["errors"][0]["field"] == "carrier_ids"
    )
    assert from_idea.status_code == 422 and from_idea.json()["errors"][0]["field"] == "idea_ids"


async def test_a_member_not_yet_admitted_and_a_stranger_are_refused(stack: Stack) -> None:
    town = await new_territory(stack)
    pending = await new_member(stack, town, admit=False)
    submitted = await client(stack).post("/v1/ideas", json=idea(), headers=pending.headers)
    anonymous = await client(stack).get("/v1/projects")

    assert submitted.status_code == 403
    assert anonymous.status_code == 401
