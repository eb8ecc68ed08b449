"""The territorial projects offers knows (its read model of the projects topic): a need may
serve only a project of its requester's territory that the requester carries, while the project
is neither harvested nor dropped.

Pure: no database, no HTTP, no broker.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict

from contracts.projects import FINAL_STAGES, ProjectCreatedV1, Stage
from services.offers.domain.actors import ActorRecord
from services.runtime.errors import Conflict, InvalidInput


class ProjectRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    project_id: UUID
    territory_id: UUID
    carrier_ids: frozenset[UUID]
    # None for a project recorded before offers kept the stages: taken as open.
    stage: Stage | None = None


def project_record(created: ProjectCreatedV1) -> ProjectRecord:
    return ProjectRecord(
        project_id=UUID(created.project_id),
        territory_id=UUID(created.territory_id),
        carrier_ids=frozenset(UUID(c) for c in created.carrier_ids),
        stage=created.stage,
    )


def check_project(project_id: UUID, project: ProjectRecord | None, requester: ActorRecord) -> None:
    """Refuse a need naming a project the requester may not open needs for: matching would
    claim it for the project and agreements would tag its agreement, while the project never
    counts it."""
    if project is None:
        # Not yet heard of (the projects topic may lag a just-created project), or none at all.
        raise InvalidInput(
            f"project {project_id} not yet known here (a project just created takes a moment "
            "to reach offers: try again shortly) or not a project at all",
            field="project_id",
        )
    if project.territory_id != requester.territory_id:
        raise InvalidInput("the project is not of your territory", field="project_id")
    if requester.actor_id not in project.carrier_ids:
        raise InvalidInput("only the project's carriers open needs for it", field="project_id")
    if project.stage in FINAL_STAGES:
        raise Conflict(
            f"the project is {project.stage}: it takes no more needs", field="project_id"
        )
