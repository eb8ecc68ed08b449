"""A territorial project's evaluation in the impact ledger: its jobs created and consolidated
apart, and the CSV listing the project's figures (the project named) so it adds up to the
summary."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from contracts.envelope import new_event
from contracts.projects import ProjectEvaluatedV1, Theme
from tests.harness import Stack
from tests.scenario import Territory
from tests.service.agreements.steps import agreements
from tests.support import eventually, produce


async def evaluated(stack: Stack, territory_id: str, project_id: str, **figures: Any) -> None:
    payload = ProjectEvaluatedV1(
        evaluation_id=str(uuid.uuid4()),
        project_id=project_id,
        territory_id=territory_id,
        theme=Theme.SHOPS_SERVICES,
        indicators=[],
        evaluated_by=str(uuid.uuid4()),
        evaluated_at=datetime.now(UTC),
        **figures,
    )
    event = new_event(payload, subject=project_id, territory=territory_id, source="/mcvt/tests")
    await produce(stack.kafka, str(payload.topic), event.model_dump_json().encode())


async def totals_of(stack: Stack, territory: Territory) -> dict[str, Decimal]:
    response = await agreements(stack).get(
        f"/v1/territories/{territory.id}/impact", headers=territory.facilitator.headers
    )
    assert response.status_code == 200, response.text
    return {f["kind"]: Decimal(f["amount"]) for f in response.json()["totals"]}


async def test_a_projects_jobs_stay_apart_and_its_figures_are_in_the_csv(
    stack: Stack, territory: Territory
) -> None:
    project_id = str(uuid.uuid4())
    # A figure booked when the project's jobs were one kind: the next evaluation replaces it.
    await stack.pool("agreements").execute(
        """INSERT INTO project_value (project_id, kind, evaluation_id, territory_id, period_month,
               category, beneficiary_kind, amount, unit, recorded_at)
           VALUES ($1::uuid, 'jobs_created_or_consolidated', $2::uuid, $3::uuid, '2026-01-01',
                   'projet', 'territoire', 2, 'ETP', now())""",
        project_id,
        str(uuid.uuid4()),
        territory.id,
    )
    await evaluated(
        stack,
        territory.id,
        project_id,
        jobs_created=1,
        jobs_consolidated=1,
        people_served=40,
        value_created_cents=120_000,
    )

    async def booked() -> dict[str, Decimal] | None:
        found = await totals_of(stack, territory)
        return found if "jobs_created" in found else None

    totals = await eventually(booked)
    assert totals == {
        "jobs_created": 1,
        "jobs_consolidated": 1,
        "people_served": 40,
        "value_created": 120_000,
    }

    exported = await agreements(stack).get(
        f"/v1/territories/{territory.id}/impact.csv", headers=territory.facilitator.headers
    )
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][1:3] == ["accord", "indicateur"] and rows[0][-1] == "projet"
    assert sorted((r[2], r[6], r[8]) for r in rows[1:]) == [
        ("Emplois consolidés par les projets", "1", project_id),
        ("Emplois créés par les projets", "1", project_id),
        ("Personnes servies", "40", project_id),
        ("Valeur créée par les projets", "120000", project_id),
    ]
    assert all(r[1] == "" for r in rows[1:])  # no agreement: the project's own figures
