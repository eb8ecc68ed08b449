"""Territorial projects in the impact ledger: agreements tagged with the project their need
serves, and the figures of a project's evaluation booked once, for the project.

Jobs are declared once: by the project's evaluation. An agreement tagged with a project takes
no declaration of jobs, and the jobs its parties declared before the evaluation named it leave
the ledger when the project's own figures come in, so the summary never counts them twice.
"""

from __future__ import annotations

from uuid import UUID

from contracts.projects import ProjectEvaluatedV1
from services.agreements.domain import schedule
from services.agreements.domain.value import UNITS, ValueKind, project_rows
from services.runtime import clock
from services.runtime.db import Connection
from services.runtime.errors import Conflict

CATEGORY = "projet"  # the value summary's category of a project's figures
BENEFICIARY = "territoire"  # ... and its beneficiary: the territory


async def tag(conn: Connection, match_id: UUID, project_id: str | None) -> None:
    """Tag the agreement of a match with the project its need serves."""
    if project_id:
        await conn.execute(
            "UPDATE agreements SET project_id = $2 WHERE match_id = $1", match_id, UUID(project_id)
        )


async def project_of(conn: Connection, agreement_id: UUID) -> UUID | None:
    project: UUID | None = await conn.fetchval(
        "SELECT project_id FROM agreements WHERE id = $1", agreement_id
    )
    return project


async def refuse_jobs_of_project(conn: Connection, agreement_id: UUID, kind: ValueKind) -> None:
    """The jobs of an agreement tagged with a project are the project's to declare."""
    if kind is ValueKind.JOBS and await project_of(conn, agreement_id) is not None:
        raise Conflict(
            "les emplois de cet accord sont déclarés par l'évaluation de son projet", field="kind"
        )


async def book_evaluation(conn: Connection, evaluation: ProjectEvaluatedV1) -> None:
    """Book a project's evaluation in the ledger (a newer one replaces it), tag the agreements
    it names, and take their own jobs rows out."""
    project_id = UUID(evaluation.project_id)
    named = [UUID(a) for a in evaluation.agreement_ids]
    await conn.execute(
        """UPDATE agreements SET project_id = $1
           WHERE id = ANY($2::uuid[]) AND territory_id = $3""",
        project_id,
        named,
        UUID(evaluation.territory_id),
    )
    await conn.execute(
        """DELETE FROM value_ledger WHERE kind = $2
             AND agreement_id IN (SELECT id FROM agreements WHERE project_id = $1)""",
        project_id,
        str(ValueKind.JOBS),
    )
    month = schedule.local(evaluation.evaluated_at).date().replace(day=1)
    rows = project_rows(
        jobs_created=evaluation.jobs_created,
        jobs_consolidated=evaluation.jobs_consolidated,
        people_served=evaluation.people_served,
        value_created_cents=evaluation.value_created_cents,
    )
    # Kinds this evaluation no longer declares leave (e.g. the jobs once booked as one kind).
    await conn.execute(
        "DELETE FROM project_value WHERE project_id = $1 AND kind <> ALL($2::text[])",
        project_id,
        [str(row.kind) for row in rows],
    )
    await conn.executemany(
        """INSERT INTO project_value (project_id, kind, evaluation_id, territory_id, period_month,
               category, beneficiary_kind, amount, unit, recorded_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (project_id, kind) DO UPDATE SET evaluation_id = EXCLUDED.evaluation_id,
               period_month = EXCLUDED.period_month, amount = EXCLUDED.amount,
               recorded_at = EXCLUDED.recorded_at""",
        [
            (
                project_id,
                str(row.kind),
                UUID(evaluation.evaluation_id),
                UUID(evaluation.territory_id),
                month,
                CATEGORY,
                BENEFICIARY,
                row.amount,
                UNITS[row.kind],
                clock.now(),
            )
            for row in rows
        ],
    )
