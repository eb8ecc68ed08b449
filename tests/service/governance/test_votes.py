"""Votes: one current vote per member with its history, and the clear refusals (403/409) that
change nothing."""

from __future__ import annotations

import asyncio
import uuid

from tests.governance_steps import (
    all_vote,
    assembly,
    client,
    close_early,
    new_assembly_member,
    propose,
    vote,
)
from tests.harness import Stack


async def stored_votes(stack: Stack, proposal_id: str) -> list[tuple[str, bool]]:
    rows = await stack.pool("governance").fetch(
        "SELECT choice, current FROM votes WHERE proposal_id = $1 ORDER BY id",
        uuid.UUID(proposal_id),
    )
    return [(row["choice"], row["current"]) for row in rows]


async def test_a_changed_vote_replaces_the_current_one_and_keeps_the_history(stack: Stack) -> None:
    town = await assembly(stack)
    opened = await propose(stack, town.facilitator)
    first = await vote(stack, town.business, opened["id"], "no")
    second = await vote(stack, town.business, opened["id"], "yes")
    assert first.status_code == second.status_code == 200
    assert first.json()["receipt"] != second.json()["receipt"]

    mine = await client(stack).get(
        f"/v1/proposals/{opened['id']}/votes/me", headers=town.business.headers
    )
    assert mine.status_code == 200
    assert mine.json()["current"]["choice"] == "yes"
    assert [(v["choice"], v["current"]) for v in mine.json()["history"]] == [
        ("yes", True),
        ("no", False),
    ]
    assert await stored_votes(stack, opened["id"]) == [("no", False), ("yes", True)]


async def test_concurrent_votes_by_one_member_leave_one_current_vote(stack: Stack) -> None:
    town = await assembly(stack)
    opened = await propose(stack, town.facilitator)
    choices = ["yes", "no", "abstain"] * 4

    answers = await asyncio.gather(
        *(vote(stack, town.citizen, opened["id"], choice) for choice in choices)
    )

    assert [a.status_code for a in answers] == [200] * len(choices), [a.text for a in answers]
    stored = await stored_votes(stack, opened["id"])
    assert len(stored) == len(choices)
    assert [current for _, current in stored].count(True) == 1
    assert stored[-1][1] is True  # the last one written is the current one


async def test_refused_votes_change_nothing(stack: Stack) -> None:
    town = await assembly(stack)
    other = await assembly(stack)
    opened = await propose(stack, town.facilitator)
    late_member = await new_assembly_member(stack, town, "research_training")

    not_in_electorate = await vote(stack, late_member, opened["id"], "yes")
    assert not_in_electorate.status_code == 403, not_in_electorate.text
    other_territory = await vote(stack, other.business, opened["id"], "yes")
    assert other_territory.status_code == 403, other_territory.text
    objection = await vote(stack, town.business, opened["id"], "objection")
    assert objection.status_code == 422
    assert objection.json()["errors"][0]["field"] == "choice"

    await all_vote(stack, town.everyone, opened["id"], "yes")
    await close_early(stack, town, opened["id"])
    late = await vote(stack, town.business, opened["id"], "no")
    assert late.status_code == 409, late.text

    assert await stored_votes(stack, opened["id"]) == [("yes", True)] * 4
    unknown = await vote(stack, town.business, str(uuid.uuid4()), "yes")
    assert unknown.status_code == 404


async def test_a_suspended_member_may_not_vote(stack: Stack) -> None:
    from tests.governance_steps import members_known

    town = await assembly(stack)
    opened = await propose(stack, town.facilitator)
    suspended = await stack.actors.post(
        f"/v1/actors/{town.citizen.id}/suspend",
        json={"reason": "Manquements répétés"},
        headers=town.facilitator.headers,
    )
    assert suspended.status_code == 200, suspended.text
    await members_known(stack, town.citizen, status="suspended")

    refused = await vote(stack, town.citizen, opened["id"], "yes")
    assert refused.status_code == 403
    assert await stored_votes(stack, opened["id"]) == []


async def test_consent_fails_on_a_standing_objection(stack: Stack) -> None:
    town = await assembly(stack)
    opened = await propose(stack, town.facilitator, method="consent")
    await all_vote(stack, [town.facilitator, town.business, town.authority], opened["id"], "yes")
    assert (await vote(stack, town.citizen, opened["id"], "objection")).status_code == 200
    refused_no = await vote(stack, town.citizen, opened["id"], "no")
    assert refused_no.status_code == 422

    closed = await close_early(stack, town, opened["id"])
    assert closed["tally"]["outcome"] == "rejected"
    assert closed["tally"]["reason"] == "objection"
