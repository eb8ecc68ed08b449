"""HTTP routes of the projects service (mounted under /v1): the territory's vision, ideas and
their supports, projects and their stages, pledges, evaluations. Members of the territory only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, TypeVar

import asyncpg
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from contracts.projects import ContributionKind, Stage, Theme, TrialIndicator
from services.projects import handlers, store
from services.projects.requests import (
    EvaluationIn,
    GroupIn,
    IdeaIn,
    PledgeIn,
    ProjectIn,
    StageIn,
    VisionIn,
)
from services.runtime.access import ADMITTED_ONLY
from services.runtime.auth import CurrentActor
from services.runtime.db import Connection, in_transaction
from services.runtime.errors import NotFound
from services.runtime.pages import CursorParam, Limit, Page, decode_cursor, page_of
from services.runtime.service import Pool
from services.runtime.service import RequestContext as Ctx

visions_router = APIRouter(prefix="/visions", tags=["vision"], dependencies=[ADMITTED_ONLY])
ideas_router = APIRouter(prefix="/ideas", tags=["ideas"], dependencies=[ADMITTED_ONLY])
projects_router = APIRouter(prefix="/projects", tags=["projects"], dependencies=[ADMITTED_ONLY])


class VisionOut(BaseModel):
    id: uuid.UUID
    territory_id: uuid.UUID
    title: str
    text: str
    themes: list[Theme]
    aims: list[str]
    created_at: datetime
    adopted_at: datetime | None = Field(description="Null: a draft, until a free_motion adopts it.")
    decision_id: uuid.UUID | None


class IdeaOut(BaseModel):
    id: uuid.UUID
    territory_id: uuid.UUID
    title: str
    description: str
    theme: Theme
    session: str
    vision_id: uuid.UUID | None
    submitted_by: uuid.UUID
    grouped_into: uuid.UUID | None = Field(description="The idea it was grouped into, if any.")
    supports: int
    created_at: datetime


class NeedOut(BaseModel):
    need_id: uuid.UUID
    title: str
    category: str
    quantity: float
    unit: str
    status: str
    agreement_id: uuid.UUID | None


class StageChangeOut(BaseModel):
    from_stage: Stage
    to_stage: Stage
    changed_by: uuid.UUID | None = Field(description="Null: a governance decision moved it.")
    decision_id: uuid.UUID | None
    reason: str
    changed_at: datetime


class PledgedOut(BaseModel):
    kind: ContributionKind
    unit: str
    status: str
    amount: float
    pledges: int


class EvaluationOut(BaseModel):
    id: uuid.UUID
    indicators: list[TrialIndicator]
    jobs_created: float
    jobs_consolidated: float
    people_served: int
    value_created_cents: int
    evaluated_by: uuid.UUID
    evaluated_at: datetime


class ProjectSummary(BaseModel):
    id: uuid.UUID
    territory_id: uuid.UUID
    title: str
    description: str
    theme: Theme
    vision_id: uuid.UUID | None
    stage: Stage
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime


class ProjectOut(ProjectSummary):
    carrier_ids: list[uuid.UUID]
    idea_ids: list[uuid.UUID]
    needs: list[NeedOut] = Field(description="The needs opened for it at the offers service.")
    still_needed: list[NeedOut] = Field(description="Those still open or matched, not served.")
    pledged: list[PledgedOut] = Field(description="Contributions per kind, unit and status.")
    history: list[StageChangeOut]
    evaluation: EvaluationOut | None


class PledgeOut(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    contributor_id: uuid.UUID
    kind: ContributionKind
    amount: float
    unit: str
    need_id: uuid.UUID | None
    note: str
    status: str = Field(description="`pledged` or `fulfilled`.")
    agreement_id: uuid.UUID | None
    confirmed_by: uuid.UUID | None
    created_at: datetime
    fulfilled_at: datetime | None


M = TypeVar("M", bound=BaseModel)


def _of(model: type[M], row: Any) -> M:
    return model.model_validate(dict(row))


# --- the vision ---------------------------------------------------------------------------------


@visions_router.post(
    "",
    status_code=201,
    summary="Draft the territory's shared vision (a facilitator); a free_motion naming its id "
    "(`parameters.vision_id`) adopts it",
)
async def draft_vision(body: VisionIn, pool: Pool, me: CurrentActor) -> VisionOut:
    async def work(conn: Connection) -> VisionOut:
        vision_id = await handlers.draft_vision(conn, body, me)
        return _of(VisionOut, await store.get_vision(conn, vision_id))

    return await in_transaction(pool, work)


@visions_router.get("/current", summary="The territory's shared vision, as last adopted")
async def current_vision(pool: Pool, me: CurrentActor) -> VisionOut:
    async with pool.acquire() as conn:
        vision = await store.current_vision(conn, handlers.territory_of(me))
    if vision is None:
        raise NotFound("le territoire n'a pas encore adopté de vision")
    return _of(VisionOut, vision)


@visions_router.get("/drafts", summary="The drafts of vision awaiting their vote")
async def vision_drafts(pool: Pool, me: CurrentActor) -> list[VisionOut]:
    async with pool.acquire() as conn:
        return [_of(VisionOut, row) for row in await store.drafts(conn, handlers.territory_of(me))]


# --- ideas --------------------------------------------------------------------------------------


@ideas_router.post("", status_code=201, summary="Submit an idea")
async def submit_idea(body: IdeaIn, pool: Pool, me: CurrentActor, ctx: Ctx) -> IdeaOut:
    async def work(conn: Connection) -> IdeaOut:
        idea_id = await handlers.submit_idea(conn, body, me, ctx)
        return _of(IdeaOut, await store.get_idea(conn, idea_id))

    return await in_transaction(pool, work)


@ideas_router.get("", summary="The territory's ideas (duplicates grouped), newest first")
async def list_ideas(
    pool: Pool,
    me: CurrentActor,
    theme: Annotated[Theme | None, Query()] = None,
    cursor: CursorParam = None,
    limit: Limit = 50,
) -> Page[IdeaOut]:
    after = decode_cursor(cursor)
    async with pool.acquire() as conn:
        rows = await store.list_ideas(
            conn, handlers.territory_of(me), str(theme) if theme else None, after, limit
        )
    return page_of(
        rows,
        limit,
        position=lambda row: (row["created_at"], row["id"]),
        view=lambda row: _of(IdeaOut, row),
    )


@ideas_router.get("/{idea_id}", summary="An idea and its supports")
async def get_idea(idea_id: uuid.UUID, pool: Pool, me: CurrentActor) -> IdeaOut:
    async with pool.acquire() as conn:
        return _of(IdeaOut, await handlers.visible_idea(conn, idea_id, me))


@ideas_router.post(
    "/{idea_id}/supports",
    summary="Support an idea (once per actor)",
    responses={409: {"description": "Supported already, or grouped into another idea"}},
)
async def support_idea(idea_id: uuid.UUID, pool: Pool, me: CurrentActor, ctx: Ctx) -> IdeaOut:
    async def work(conn: Connection) -> IdeaOut:
        await handlers.support_idea(conn, idea_id, me, ctx)
        return _of(IdeaOut, await store.get_idea(conn, idea_id))

    return await in_transaction(pool, work)


@ideas_router.post(
    "/{idea_id}/group",
    summary="Group duplicates into this idea (a facilitator); their supports move to it",
)
async def group_ideas(
    idea_id: uuid.UUID, body: GroupIn, pool: Pool, me: CurrentActor, ctx: Ctx
) -> IdeaOut:
    async def work(conn: Connection) -> IdeaOut:
        await handlers.group_ideas(conn, idea_id, list(body.duplicate_ids), me, ctx)
        return _of(IdeaOut, await store.get_idea(conn, idea_id))

    return await in_transaction(pool, work)


# --- projects -----------------------------------------------------------------------------------


async def _load(conn: Connection, project_id: uuid.UUID) -> ProjectOut:
    project = await store.get_project(conn, project_id)
    assert project is not None
    return await _view(conn, project)


async def _view(conn: Connection, project: asyncpg.Record) -> ProjectOut:
    project_id = project["id"]
    needs = [_of(NeedOut, row) for row in await store.needs_of(conn, project_id)]
    evaluation = await store.evaluation_of(conn, project_id)
    return ProjectOut(
        **dict(project),
        carrier_ids=await store.carriers_of(conn, project_id),
        idea_ids=await store.ideas_of(conn, project_id),
        needs=needs,
        still_needed=[
            n for n in needs if n.status in ("open", "matched") and n.agreement_id is None
        ],
        pledged=[_of(PledgedOut, row) for row in await store.pledged_totals(conn, project_id)],
        history=[_of(StageChangeOut, row) for row in await store.history(conn, project_id)],
        evaluation=_of(EvaluationOut, evaluation) if evaluation else None,
    )


@projects_router.post("", status_code=201, summary="Start a project (you carry it) from ideas")
async def create_project(body: ProjectIn, pool: Pool, me: CurrentActor, ctx: Ctx) -> ProjectOut:
    async def work(conn: Connection) -> ProjectOut:
        project_id = await handlers.create_project(conn, body, me, ctx)
        return await _load(conn, project_id)

    return await in_transaction(pool, work)


@projects_router.get("", summary="The territory's projects, newest first, by stage if asked")
async def list_projects(
    pool: Pool,
    me: CurrentActor,
    stage: Annotated[Stage | None, Query()] = None,
    cursor: CursorParam = None,
    limit: Limit = 50,
) -> Page[ProjectSummary]:
    after = decode_cursor(cursor)
    async with pool.acquire() as conn:
        rows = await store.list_projects(
            conn, handlers.territory_of(me), str(stage) if stage else None, after, limit
        )
    return page_of(
        rows,
        limit,
        position=lambda row: (row["created_at"], row["id"]),
        view=lambda row: _of(ProjectSummary, row),
    )


@projects_router.get("/{project_id}", summary="A project: carriers, needs, pledges, history")
async def get_project(project_id: uuid.UUID, pool: Pool, me: CurrentActor) -> ProjectOut:
    async with pool.acquire() as conn:
        return await _view(conn, await handlers.visible_project(conn, project_id, me))


@projects_router.post(
    "/{project_id}/stage",
    summary="Move the project to another stage, saying why (its carriers or a facilitator)",
    responses={
        403: {"description": "Neither a carrier of the project nor a facilitator"},
        409: {"description": "A move the stages do not allow (no harvest without evaluation)"},
    },
)
async def move_stage(
    project_id: uuid.UUID, body: StageIn, pool: Pool, me: CurrentActor, ctx: Ctx
) -> ProjectOut:
    async def work(conn: Connection) -> ProjectOut:
        await handlers.move_stage(conn, project_id, body.stage, body.reason, me, ctx)
        return await _load(conn, project_id)

    return await in_transaction(pool, work)


@projects_router.post(
    "/{project_id}/evaluation",
    status_code=201,
    summary="Evaluate the trial (its carriers or a facilitator): the project becomes evaluated "
    "and its figures go to the territory's impact ledger",
)
async def evaluate(
    project_id: uuid.UUID, body: EvaluationIn, pool: Pool, me: CurrentActor, ctx: Ctx
) -> ProjectOut:
    async def work(conn: Connection) -> ProjectOut:
        await handlers.evaluate(conn, project_id, body, me, ctx)
        return await _load(conn, project_id)

    return await in_transaction(pool, work)


@projects_router.post(
    "/{project_id}/pledges", status_code=201, summary="Pledge a contribution to the project"
)
async def pledge(
    project_id: uuid.UUID, body: PledgeIn, pool: Pool, me: CurrentActor, ctx: Ctx
) -> PledgeOut:
    async def work(conn: Connection) -> PledgeOut:
        pledge_id = await handlers.pledge(conn, project_id, body, me, ctx)
        return _of(PledgeOut, await store.get_pledge(conn, pledge_id))

    return await in_transaction(pool, work)


@projects_router.get("/{project_id}/pledges", summary="The project's pledges, newest first")
async def list_pledges(
    project_id: uuid.UUID,
    pool: Pool,
    me: CurrentActor,
    cursor: CursorParam = None,
    limit: Limit = 50,
) -> Page[PledgeOut]:
    after = decode_cursor(cursor)
    async with pool.acquire() as conn:
        await handlers.visible_project(conn, project_id, me)
        rows = await store.list_pledges(conn, project_id, after, limit)
    return page_of(
        rows,
        limit,
        position=lambda row: (row["created_at"], row["id"]),
        view=lambda row: _of(PledgeOut, row),
    )


@projects_router.post(
    "/{project_id}/pledges/{pledge_id}/confirm",
    summary="Confirm a contribution was made (a carrier of the project)",
)
async def confirm_pledge(
    project_id: uuid.UUID, pledge_id: uuid.UUID, pool: Pool, me: CurrentActor, ctx: Ctx
) -> PledgeOut:
    async def work(conn: Connection) -> PledgeOut:
        await handlers.confirm_pledge(conn, project_id, pledge_id, me, ctx)
        return _of(PledgeOut, await store.get_pledge(conn, pledge_id))

    return await in_transaction(pool, work)
