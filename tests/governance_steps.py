"""Steps of the governance tests: a territory with members in several colleges, proposals
opened and voted through the public API, waits for governance to know its members."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.harness import Stack
from tests.scenario import Member, Territory, new_member, new_territory
from tests.support import eventually


@dataclass
class Assembly:
    """A territory whose facilitator (association college) sits with a business, a local
    authority and a citizen: four colleges of five, 80 % of the weight."""

    territory: Territory
    business: Member
    authority: Member
    citizen: Member

    @property
    def facilitator(self) -> Member:
        return self.territory.facilitator

    @property
    def everyone(self) -> list[Member]:
        return [self.facilitator, self.business, self.authority, self.citizen]


def client(stack: Stack) -> httpx.AsyncClient:
    return stack["governance"].client


async def members_known(stack: Stack, *members: Member, status: str = "active") -> None:
    """Wait until governance's members (kept from actor events) hold each with `status`."""

    async def known() -> bool:
        rows = await stack.pool("governance").fetch(
            "SELECT status FROM members WHERE actor_id = ANY($1::uuid[])",
            [uuid.UUID(m.id) for m in members],
        )
        return len(rows) == len(members) and all(row["status"] == status for row in rows)

    await eventually(known)


async def assembly(stack: Stack) -> Assembly:
    territory = await new_territory(stack)
    business = await new_member(stack, territory, kind="business")
    authority = await new_member(stack, territory, kind="local_authority", name="Mairie de Die")
    citizen = await new_member(stack, territory, kind="citizen", name="Jeanne Martin")
    found = Assembly(territory, business, authority, citizen)
    await members_known(stack, *found.everyone)
    return found


def in_minutes(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def proposal(kind: str = "free_motion", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": kind,
        "title": "Ouvrir la salle des fêtes le dimanche",
        "description": "Proposition de l'équipe d'animation.",
        "parameters": {"text": "La salle ouvre le dimanche après-midi."},
        "closes_at": in_minutes(60),
    }
    return {**body, **overrides}


async def propose(stack: Stack, by: Member, **body: Any) -> dict[str, Any]:
    response = await client(stack).post("/v1/proposals", json=proposal(**body), headers=by.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def vote(stack: Stack, member: Member, proposal_id: str, choice: str) -> httpx.Response:
    return await client(stack).post(
        f"/v1/proposals/{proposal_id}/votes", json={"choice": choice}, headers=member.headers
    )


async def all_vote(stack: Stack, members: list[Member], proposal_id: str, choice: str) -> None:
    for member in members:
        response = await vote(stack, member, proposal_id, choice)
        assert response.status_code == 200, response.text


async def close_early(stack: Stack, assembly: Assembly, proposal_id: str) -> dict[str, Any]:
    response = await client(stack).post(
        f"/v1/proposals/{proposal_id}/close", headers=assembly.facilitator.headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def new_assembly_member(stack: Stack, assembly: Assembly, kind: str) -> Member:
    member = await new_member(stack, assembly.territory, kind=kind, name="Nouveau membre")
    await members_known(stack, member)
    return member
