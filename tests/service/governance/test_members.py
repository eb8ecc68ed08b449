"""Colleges' members: a facilitator's reassignment, kept over later actor events, and what
governance exports of a person."""

from __future__ import annotations

import json
from typing import Any

from tests.governance_steps import assembly, client, new_assembly_member, propose, vote
from tests.harness import Stack
from tests.scenario import Member
from tests.support import eventually


async def test_a_facilitator_moves_a_member_to_another_college(stack: Stack) -> None:
    town = await assembly(stack)
    url = f"/v1/territories/{town.territory.id}/members/{town.citizen.id}/college"
    refused = await client(stack).put(
        url, json={"college": "research_training"}, headers=town.business.headers
    )
    assert refused.status_code == 403
    bad = await client(stack).put(url, json={"college": "clergy"}, headers=town.facilitator.headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "college"

    moved = await client(stack).put(
        url, json={"college": "research_training"}, headers=town.facilitator.headers
    )
    assert moved.status_code == 204, moved.text
    sent = await stack.pool("governance").fetchval(
        """SELECT convert_from(payload, 'UTF8') FROM outbox
           WHERE key = $1 AND event_type = 'mcvt.governance.member_college_changed.v1'""",
        town.citizen.id,
    )
    assert json.loads(sent)["data"]["college"] == "research_training"
    # A later actor event (an update of the citizen) keeps the facilitator's choice.
    updated = await stack.actors.patch(
        f"/v1/actors/{town.citizen.id}",
        json={"description": "Habitante de Die"},
        headers=town.citizen.headers,
    )
    assert updated.status_code == 200, updated.text

    async def version_seen() -> bool:
        row = await stack.pool("governance").fetchrow(
            "SELECT version, college FROM members WHERE actor_id = $1::uuid", town.citizen.id
        )
        return row is not None and row["version"] >= 3

    await eventually(version_seen)
    opened = await propose(stack, town.facilitator)
    cast = await vote(stack, town.citizen, opened["id"], "yes")
    assert cast.json()["college"] == "research_training"
    colleges = await client(stack).get(
        f"/v1/territories/{town.territory.id}/colleges", headers=town.citizen.headers
    )
    assert colleges.json()["members"]["research_training"] == 1
    assert colleges.json()["members"]["citizen"] == 0


async def test_my_export_holds_my_membership_and_my_votes(stack: Stack) -> None:
    town = await assembly(stack)
    opened = await propose(stack, town.facilitator, secret=True)
    cast = await vote(stack, town.citizen, opened["id"], "no")
    exported = await client(stack).get("/v1/me/export", headers=town.citizen.headers)
    assert exported.status_code == 200, exported.text
    data = exported.json()["data"]
    assert [m["college"] for m in data["member"]] == ["citizen"]
    [mine] = data["votes"]
    assert mine["choice"] == "no" and mine["salt"] == cast.json()["salt"]


async def test_each_member_reads_its_own_college_and_the_proposals_it_may_vote_on(
    stack: Stack,
) -> None:
    town = await assembly(stack)
    opened = await propose(stack, town.facilitator)
    late = await new_assembly_member(stack, town, "citizen")  # joined after the opening

    async def membership(member: Member) -> dict[str, Any]:
        found = await client(stack).get("/v1/members/me", headers=member.headers)
        assert found.status_code == 200, found.text
        return dict(found.json())

    async def votable(member: Member, **params: str) -> list[str]:
        found = await client(stack).get(
            "/v1/proposals", params={"status": "open", **params}, headers=member.headers
        )
        assert found.status_code == 200, found.text
        return [p["id"] for p in found.json()["items"]]

    async def college_on(member: Member) -> str | None:
        found = await client(stack).get(
            f"/v1/proposals/{opened['id']}/votes/me", headers=member.headers
        )
        assert found.status_code == 200, found.text
        college: str | None = found.json()["college"]
        return college

    citizen, business = await membership(town.citizen), await membership(town.business)
    assert (citizen["actor_id"], citizen["college"], citizen["weight"]) == (
        town.citizen.id, "citizen", 20
    )  # fmt: skip
    assert (business["actor_id"], business["college"]) == (town.business.id, "business")
    assert (await membership(late))["college"] == "citizen"

    assert await votable(town.citizen, voter="me") == [opened["id"]]
    assert await votable(late, voter="me") == []
    assert await votable(late) == [opened["id"]]  # seen, not votable
    assert await college_on(town.citizen) == "citizen"
    assert await college_on(late) is None
    other = await client(stack).get(
        "/v1/proposals", params={"voter": town.citizen.id}, headers=late.headers
    )
    assert other.status_code == 422  # only one's own
