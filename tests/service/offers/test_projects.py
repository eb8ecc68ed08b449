"""A need may serve only a project of its requester's territory that the requester carries, and
none once the project is harvested or dropped; offers knows the projects from the projects topic,
and refuses a project not yet known."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from contracts.envelope import new_event
from contracts.projects import ProjectCreatedV1, ProjectStageChangedV1, Stage, Theme
from tests.harness import Stack
from tests.scenario import Territory, need_for, new_member, new_territory
from tests.support import eventually, produce


async def announce(stack: Stack, payload: ProjectCreatedV1 | ProjectStageChangedV1) -> None:
    event = new_event(
        payload, subject=payload.project_id, territory=payload.territory_id, source="/mcvt/tests"
    )
    await produce(stack.kafka, str(payload.topic), event.model_dump_json().encode())


async def created(stack: Stack, territory_id: str, carrier_ids: list[str]) -> str:
    """A project of the territory, as the projects service announces it; wait until offers
    knows it."""
    project_id = str(uuid.uuid4())
    payload = ProjectCreatedV1(
        project_id=project_id,
        territory_id=territory_id,
        title="Garage solidaire",
        theme=Theme.SHOPS_SERVICES,
        carrier_ids=carrier_ids,
        idea_ids=[],
        stage=Stage.IDEA,
        created_by=carrier_ids[0],
    )
    await announce(stack, payload)

    async def known() -> bool:
        found = await stack.pool("offers").fetchval(
            "SELECT true FROM projects WHERE project_id = $1", uuid.UUID(project_id)
        )
        return bool(found)

    await eventually(known)
    return project_id


async def test_only_a_carrier_of_the_territory_opens_a_need_for_its_project(
    stack: Stack, territory: Territory
) -> None:
    carrier = await new_member(stack, territory)
    neighbour = await new_member(stack, territory, name="Ressourcerie du Diois")
    elsewhere = await new_member(stack, await new_territory(stack), name="Garage du Trièves")
    project_id = await created(stack, territory.id, [carrier.id])

    accepted = await stack.offers.post(
        "/v1/needs", json=need_for(project_id=project_id), headers=carrier.headers
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["project_id"] == project_id

    for stranger in (neighbour, elsewhere):
        refused = await stack.offers.post(
            "/v1/needs", json=need_for(project_id=project_id), headers=stranger.headers
        )
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in refused.json()["errors"]] == ["project_id"]


async def test_a_project_not_yet_known_is_refused(stack: Stack, territory: Territory) -> None:
    carrier = await new_member(stack, territory)
    refused = await stack.offers.post(
        "/v1/needs", json=need_for(project_id=str(uuid.uuid4())), headers=carrier.headers
    )
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["project_id"]
    assert "not yet known" in refused.json()["detail"]


async def moved(
    stack: Stack, territory_id: str, project_id: str, start: Stage, path: list[Stage]
) -> None:
    """The project moved along `path` from `start`, as the projects service announces it; wait
    until offers knows its last stage."""
    for before, after in zip([start, *path], path, strict=False):
        await announce(
            stack,
            ProjectStageChangedV1(
                project_id=project_id,
                territory_id=territory_id,
                from_stage=before,
                to_stage=after,
                changed_by=None,
                reason="test",
                changed_at=datetime.now(UTC),
            ),
        )

    async def known() -> bool:
        stage = await stack.pool("offers").fetchval(
            "SELECT stage FROM projects WHERE project_id = $1", uuid.UUID(project_id)
        )
        return stage == path[-1]

    await eventually(known)


@pytest.mark.parametrize(
    "path",
    [
        [Stage.DROPPED],
        [Stage.PREPARED, Stage.TRIAL, Stage.EVALUATED, Stage.HARVESTED],
    ],
    ids=["dropped", "harvested"],
)
async def test_a_harvested_or_dropped_project_takes_no_more_needs(
    stack: Stack, territory: Territory, path: list[Stage]
) -> None:
    carrier = await new_member(stack, territory)
    project_id = await created(stack, territory.id, [carrier.id])
    *on_the_way, last = path
    if on_the_way:
        await moved(stack, territory.id, project_id, Stage.IDEA, on_the_way)
    before = await stack.offers.post(
        "/v1/needs", json=need_for(project_id=project_id), headers=carrier.headers
    )
    assert before.status_code == 201, before.text  # still open on its way there

    await moved(stack, territory.id, project_id, ([Stage.IDEA, *on_the_way])[-1], [last])
    refused = await stack.offers.post(
        "/v1/needs", json=need_for(project_id=project_id), headers=carrier.headers
    )
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in refused.json()["errors"]] == ["project_id"]
    assert last in refused.json()["detail"]
