"""From an idea to a harvest over the real broker: the territory votes the trial, the project's
need is matched and becomes an agreement that fulfils a pledge, the trial's evaluation reaches
the territory's impact summary, its jobs counted once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from tests.flow.matching.steps import Flow, accept, indexed, proposals_for, status_of
from tests.governance_steps import all_vote, assembly, close_early, new_assembly_member, propose
from tests.harness import Stack
from tests.scenario import Member, declare, events_for, need, offer
from tests.service.agreements.steps import Clock, Deal, activate, agreement_of, agreements
from tests.service.projects.steps import evaluation, get, move, start, submit
from tests.support import eventually

HOURLY_OFFER: dict[str, Any] = {
    "price": {"model": "per_hour", "unit_price": 12},
    "clause": {"fixed_percent": 50, "variable_floor_percent": 20, "notice_days": 0},
}


def projects(stack: Stack) -> httpx.AsyncClient:
    return stack["projects"].client


async def stage_is(stack: Stack, member: Member, project_id: str, stage: str) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        found = await get(stack, member, project_id)
        return found if found["stage"] == stage else None

    return dict(await eventually(reached, timeout=30))


async def totals(stack: Stack, member: Member) -> dict[str, Decimal]:
    response = await agreements(stack).get(
        f"/v1/territories/{member.territory_id}/impact", headers=member.headers
    )
    assert response.status_code == 200, response.text
    return {f["kind"]: Decimal(f["amount"]) for f in response.json()["totals"] if f["amount"]}


async def test_an_idea_becomes_a_trial_by_vote_is_served_by_an_agreement_and_evaluated(
    flow: Flow, clock: Clock
) -> None:
    stack = flow.stack
    town = await assembly(stack)
    carrier = await new_assembly_member(stack, town, "association")

    # An idea from a workshop, supported; a project born from it, prepared by its carrier.
    idea = await submit(stack, town.citizen, title="Un réseau de réemploi des bouteilles")
    supported = await projects(stack).post(
        f"/v1/ideas/{idea['id']}/supports", headers=town.business.headers
    )
    assert supported.status_code == 200
    project = await start(stack, carrier, title="Réemploi des bouteilles", idea_ids=[idea["id"]])
    assert (await move(stack, carrier, project["id"], "prepared")).status_code == 200

    # The territory votes it into trial.
    opened = await propose(
        stack,
        town.facilitator,
        kind="select_for_trial",
        title="Essais 2027",
        parameters={"project_id": "demain-petite-montagne", "selected_ids": [project["id"]]},
    )
    await all_vote(stack, [*town.everyone, carrier], opened["id"], "yes")
    closed = await close_early(stack, town, opened["id"])
    trial = await stage_is(stack, carrier, project["id"], "trial")
    assert trial["history"][-1]["decision_id"] == closed["decision_id"]

    # Its need, opened at offers for the project, is matched like any other; the match says so.
    asset = await declare(stack, town.business)
    offered = await offer(stack, town.business, asset["id"], **HOURLY_OFFER)
    await indexed(flow, offer_id=offered["id"])
    expires = (datetime.now(UTC) + timedelta(days=20)).isoformat()
    wanted = await need(
        stack,
        carrier,
        project_id=project["id"],
        expires_at=expires,
        budget={"max_unit_price": 40, "accepted_price_models": ["per_hour"]},
    )
    assert wanted["project_id"] == project["id"]
    [proposal] = await proposals_for(flow, wanted["id"])
    assert proposal["data"]["project_id"] == project["id"]

    async def needed() -> list[dict[str, Any]] | None:
        found = (await get(stack, carrier, project["id"]))["still_needed"]
        return list(found) or None

    assert [n["need_id"] for n in await eventually(needed)] == [wanted["id"]]
    pledge = await projects(stack).post(
        f"/v1/projects/{project['id']}/pledges",
        json={"kind": "asset", "amount": 8, "unit": "m3", "need_id": wanted["id"]},
        headers=town.business.headers,
    )
    assert pledge.status_code == 201, pledge.text

    # Both accept; the agreement activates and fulfils the pledge.
    match_id = proposal["data"]["match_id"]
    for member in (town.business, carrier):
        assert (await accept(flow, member, match_id)).status_code == 200
    await status_of(flow, town.business, match_id, "confirmed")
    made = await agreement_of(stack, town.business, match_id)
    deal = Deal(town.territory, town.business, carrier, offered, wanted, match_id, made)
    active = await activate(stack, clock, deal)
    activated = "mcvt.agreement.activated.v1"
    about = await events_for(stack, "mcvt.agreements", deal.id, until=1, type_=activated)
    [started] = [e for e in about if e["type"] == activated]
    assert started["data"]["project_id"] == project["id"]

    async def fulfilled() -> dict[str, Any] | None:
        response = await projects(stack).get(
            f"/v1/projects/{project['id']}/pledges", headers=carrier.headers
        )
        [found] = response.json()["items"]
        return dict(found) if found["status"] == "fulfilled" else None

    assert (await eventually(fulfilled, timeout=30))["agreement_id"] == deal.id
    assert (await get(stack, carrier, project["id"]))["still_needed"] == []

    # The agreement is the project's: its jobs are declared by the project only.
    jobs = await agreements(stack).post(
        f"/v1/agreements/{deal.id}/value-declarations",
        json={
            "period_start": active["starts_at"],
            "kind": "jobs_created_or_consolidated",
            "amount": "1",
        },
        headers=carrier.headers,
    )
    assert jobs.status_code == 409, jobs.text

    # The trial's evaluation reaches the impact summary once.
    evaluated = await projects(stack).post(
        f"/v1/projects/{project['id']}/evaluation",
        json=evaluation(jobs_created=1, jobs_consolidated=1, people_served=120),
        headers=carrier.headers,
    )
    assert evaluated.status_code == 201, evaluated.text

    async def booked() -> dict[str, Decimal] | None:
        found = await totals(stack, carrier)
        return found if "jobs_created" in found else None

    summary = await eventually(booked, timeout=30)
    assert summary["jobs_created"] == 1 and summary["jobs_consolidated"] == 1
    assert "jobs_created_or_consolidated" not in summary
    assert summary["people_served"] == 120
    assert summary["value_created"] == 1_200_000
    tagged = await stack.pool("agreements").fetchval(
        "SELECT project_id::text FROM agreements WHERE id = $1::uuid", deal.id
    )
    assert tagged == project["id"]
    harvested = await move(stack, carrier, project["id"], "harvested", "Le réseau continue.")
    assert harvested.status_code == 200, harvested.text
