"""Proposals over HTTP: opening, voting, closing early, the tally per college."""

from __future__ import annotations

import json
import uuid

from tests.governance_steps import (
    all_vote,
    assembly,
    client,
    close_early,
    in_minutes,
    propose,
    vote,
)
from tests.harness import Stack


async def outbox_types(stack: Stack, subject: str) -> list[str]:
    rows = await stack.pool("governance").fetch(
        "SELECT event_type FROM outbox WHERE key = $1 ORDER BY seq", subject
    )
    return [row["event_type"] for row in rows]


async def test_a_motion_voted_by_all_and_closed_early_is_adopted(stack: Stack) -> None:
    town = await assembly(stack)
    opened = await propose(stack, town.facilitator)
    assert opened["status"] == "open" and opened["electorate"] == 4
    await all_vote(stack, [town.facilitator, town.business, town.authority], opened["id"], "yes")
    assert (await vote(stack, town.citizen, opened["id"], "no")).status_code == 200

    closed = await close_early(stack, town, opened["id"])

    assert closed["status"] == "closed" and closed["closed_early"] is True
    tally = closed["tally"]
    assert tally["outcome"] == "adopted" and tally["result"] == "3/4"
    citizens = next(c for c in tally["colleges"] if c["college"] == "citizen")
    assert citizens == {
        "college": "citizen",
        "weight": 20,
        "electorate": 1,
        "yes": 0,
        "no": 1,
        "abstain": 0,
        "objection": 0,
        "quorum_reached": True,
        "result": "0/1",
    }
    assert await outbox_types(stack, opened["id"]) == [
        "mcvt.governance.proposal_opened.v1",
        *["mcvt.governance.vote_cast.v1"] * 4,
        "mcvt.governance.proposal_closed.v1",
        "mcvt.governance.decision_made.v1",
    ]
    decision = await stack.pool("governance").fetchval(
        "SELECT payload FROM outbox WHERE key = $1 AND event_type LIKE '%decision_made%'",
        opened["id"],
    )
    data = json.loads(decision)["data"]
    assert data["outcome"] == "adopted" and data["kind"] == "free_motion"
    assert data["decision_id"] == closed["decision_id"]


async def test_early_closing_waits_for_every_member(stack: Stack) -> None:
    town = await assembly(stack)
    opened = await propose(stack, town.facilitator)
    await all_vote(stack, [town.facilitator, town.business], opened["id"], "yes")

    response = await client(stack).post(
        f"/v1/proposals/{opened['id']}/close", headers=town.facilitator.headers
    )
    assert response.status_code == 409, response.text
    assert "2 membre(s)" in response.json()["detail"]
    by_member = await client(stack).post(
        f"/v1/proposals/{opened['id']}/close", headers=town.business.headers
    )
    assert by_member.status_code == 403


async def test_only_a_facilitator_opens_and_payloads_are_checked(stack: Stack) -> None:
    town = await assembly(stack)
    by_member = await client(stack).post(
        "/v1/proposals",
        json={"kind": "free_motion", "title": "x", "closes_at": in_minutes(60)},
        headers=town.business.headers,
    )
    assert by_member.status_code == 403, by_member.text

    bad_weights = await client(stack).post(
        "/v1/proposals",
        json={
            "kind": "change_colleges",
            "title": "Nouveaux poids",
            "parameters": {"weights": {"business": 50, "association": 60}},
            "closes_at": in_minutes(60),
        },
        headers=town.facilitator.headers,
    )
    assert bad_weights.status_code == 422, bad_weights.text
    assert bad_weights.json()["errors"][0]["field"].startswith("parameters")

    unknown_actor = await client(stack).post(
        "/v1/proposals",
        json={
            "kind": "admit_actor",
            "title": "Admettre",
            "parameters": {"actor_id": str(uuid.uuid4())},
            "closes_at": in_minutes(60),
        },
        headers=town.facilitator.headers,
    )
    assert unknown_actor.status_code == 422
    assert unknown_actor.json()["errors"][0]["field"] == "parameters.actor_id"

    past = await client(stack).post(
        "/v1/proposals",
        json={"kind": "free_motion", "title": "x", "closes_at": "2020-01-01T00:00:00Z"},
        headers=town.facilitator.headers,
    )
    assert past.status_code == 422
    assert past.json()["errors"][0]["field"] == "closes_at"
