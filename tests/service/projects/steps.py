"""Steps of the projects tests: ideas, projects and stages through the public API, and the
governance decisions the service follows, put on the broker as governance would."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from contracts.envelope import new_event
from contracts.governance import DecisionMadeV1
from contracts.topics import Topic
from tests.harness import Stack
from tests.scenario import Member
from tests.support import eventually, produce


def client(stack: Stack) -> httpx.AsyncClient:
    return stack["projects"].client


def idea(**overrides: Any) -> dict[str, Any]:
    return {
        "title": "Un garage solidaire",
        "description": "Réparer les voitures des ménages modestes à prix coûtant.",
        "theme": "shops_services",
        "session": "Atelier mobilité du 12 mars",
        **overrides,
    }


def project(**overrides: Any) -> dict[str, Any]:
    return {
        "title": "Garage solidaire de Saint-Julien",
        "description": "Un atelier partagé et un mécanicien.",
        "theme": "shops_services",
        **overrides,
    }


async def submit(stack: Stack, by: Member, **body: Any) -> dict[str, Any]:
    response = await client(stack).post("/v1/ideas", json=idea(**body), headers=by.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def start(stack: Stack, by: Member, **body: Any) -> dict[str, Any]:
    response = await client(stack).post("/v1/projects", json=project(**body), headers=by.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def move(
    stack: Stack, by: Member, project_id: str, stage: str, reason: str = "L'équipe est prête."
) -> httpx.Response:
    return await client(stack).post(
        f"/v1/projects/{project_id}/stage",
        json={"stage": stage, "reason": reason},
        headers=by.headers,
    )


async def get(stack: Stack, by: Member, project_id: str) -> dict[str, Any]:
    response = await client(stack).get(f"/v1/projects/{project_id}", headers=by.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def evaluation(**overrides: Any) -> dict[str, Any]:
    return {
        "summary": "Six mois d'essai : 40 voitures réparées.",
        "indicators": [
            {"name": "Voitures réparées", "unit": "voitures", "target": 30, "measured": 40}
        ],
        "jobs_created": 1,
        "jobs_consolidated": 1,
        "people_served": 40,
        "value_created_cents": 1_200_000,
        **overrides,
    }


async def decide(
    stack: Stack, territory_id: str, kind: str, parameters: dict[str, Any], **overrides: Any
) -> str:
    """Put an adopted decision on mcvt.governance as governance would; its decision id."""
    made = DecisionMadeV1(
        **{
            "decision_id": str(uuid.uuid4()),
            "proposal_id": str(uuid.uuid4()),
            "territory_id": territory_id,
            "kind": kind,
            "outcome": "adopted",
            "parameters": parameters,
            "decided_at": datetime.now(UTC),
            **overrides,
        }
    )
    event = new_event(
        made, subject=made.proposal_id, territory=territory_id, source="/mcvt/governance"
    )
    await produce(stack.kafka, Topic.GOVERNANCE, event.model_dump_json().encode(), key=b"p")
    return made.decision_id


async def in_trial(stack: Stack, by: Member, project_id: str) -> dict[str, Any]:
    """Prepare the project and have the territory select it for a trial."""
    response = await move(stack, by, project_id, "prepared")
    assert response.status_code == 200, response.text
    await decide(
        stack,
        by.territory_id,
        "select_for_trial",
        {"project_id": str(uuid.uuid4()), "selected_ids": [project_id]},
    )

    async def moved() -> dict[str, Any] | None:
        found = await get(stack, by, project_id)
        return found if found["stage"] == "trial" else None

    return dict(await eventually(moved))
