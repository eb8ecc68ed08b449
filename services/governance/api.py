"""HTTP routes of the governance service (mounted under /v1): proposals and votes, the
territory's colleges and rules (read only: changed by adopted proposals), the audit chain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from contracts.governance import Choice, College, CollegeTally, Method, ProposalKind
from services.governance import handlers, store
from services.governance.domain.ballots import Draft
from services.runtime.access import ADMITTED_ONLY
from services.runtime.auth import CurrentActor
from services.runtime.db import Connection, in_transaction
from services.runtime.errors import NotFound
from services.runtime.pages import CursorParam, Limit, Page, decode_cursor, page_of
from services.runtime.service import Pool
from services.runtime.service import RequestContext as Ctx

proposals_router = APIRouter(prefix="/proposals", tags=["proposals"], dependencies=[ADMITTED_ONLY])
territories_router = APIRouter(
    prefix="/territories/{territory_id}", tags=["territory"], dependencies=[ADMITTED_ONLY]
)
members_router = APIRouter(prefix="/members", tags=["members"], dependencies=[ADMITTED_ONLY])


class TallyOut(BaseModel):
    outcome: str
    reason: str = Field(description="`adopted`, `rejected`, `no_quorum` or `objection`.")
    result: str | None = Field(description="The weighted share of yes, as `p/q`.")
    colleges: list[CollegeTally]


class ProposalOut(BaseModel):
    id: uuid.UUID
    territory_id: uuid.UUID
    kind: ProposalKind
    title: str
    description: str
    method: Method
    secret: bool
    parameters: dict[str, Any]
    subject_id: str | None
    college_weights: dict[str, int] = Field(description="Frozen when the proposal opened.")
    opens_at: datetime
    closes_at: datetime
    status: str
    voted: int = Field(description="Members of the electorate who have voted.")
    electorate: int
    closed_at: datetime | None
    closed_early: bool | None
    decision_id: uuid.UUID | None
    tally: TallyOut | None = Field(description="Once closed: per college, then weighted.")

    @classmethod
    def of(cls, row: asyncpg.Record, turnout: tuple[int, int]) -> ProposalOut:
        return cls(
            **{name: row[name] for name in cls.model_fields if name in row.keys()},
            college_weights=row["weights"],
            voted=turnout[0],
            electorate=turnout[1],
        )


class VoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    choice: Choice


class VoteOut(BaseModel):
    choice: Choice
    college: str
    cast_at: datetime
    current: bool
    receipt: str = Field(description="The hash of the vote's audit entry.")
    salt: str | None = Field(
        default=None, description="Secret ballot: the salt that opens the entry's commitment."
    )

    @classmethod
    def of(cls, vote: Any) -> VoteOut:
        salt = vote["salt"]
        return cls(
            choice=vote["choice"],
            college=vote["college"],
            cast_at=vote["cast_at"],
            current=vote["current"],
            receipt=vote["receipt"],
            salt=salt.hex() if salt else None,
        )


class MyVotesOut(BaseModel):
    college: str | None = Field(
        description="The college I vote in on this proposal, frozen when it opened; null when "
        "I am not in its electorate (I joined later)."
    )
    current: VoteOut | None
    history: list[VoteOut] = Field(description="Every vote cast, newest first.")


class CollegesOut(BaseModel):
    territory_id: uuid.UUID
    version: int
    weights: dict[str, int]
    members: dict[str, int] = Field(description="Active members per college.")


class RulesOut(BaseModel):
    territory_id: uuid.UUID
    version: int
    public_asset_agreements_need_approval: bool
    college_quorum_percent: int
    quorum_weight_percent: int
    time_credit_floor: int
    offers_visible_to_other_territories: bool


class MemberOut(BaseModel):
    actor_id: uuid.UUID
    territory_id: uuid.UUID
    college: str
    weight: int = Field(description="My college's weight in the territory today, in percent.")
    status: str


class CollegeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    college: College


# --- proposals ------------------------------------------------------------------------------------


async def _view(conn: Connection, proposal_id: uuid.UUID) -> ProposalOut:
    row = await store.get_proposal(conn, proposal_id)
    assert row is not None
    return ProposalOut.of(row, await store.turnout(conn, proposal_id))


@proposals_router.post(
    "",
    status_code=201,
    summary="Open a proposal (a facilitator of the territory); its electorate is frozen now",
)
async def open_proposal(draft: Draft, pool: Pool, me: CurrentActor, ctx: Ctx) -> ProposalOut:

    async def work(conn: Connection) -> ProposalOut:
        proposal_id = await handlers.open_proposal(conn, uuid.UUID(me.territory_id), draft, me, ctx)
        assert proposal_id is not None  # only an agreement's approval can exist already
        return await _view(conn, proposal_id)

    return await in_transaction(pool, work)


@proposals_router.get("", summary="The proposals of my territory, newest first")
async def list_proposals(
    pool: Pool,
    me: CurrentActor,
    status: str | None = Query(default=None, pattern="^(open|closed)$"),
    voter: str | None = Query(
        default=None,
        pattern="^me$",
        description="`me`: only the proposals whose electorate, frozen when each opened, holds "
        "me: those I may vote on.",
    ),
    cursor: CursorParam = None,
    limit: Limit = 50,
) -> Page[ProposalOut]:
    after = decode_cursor(cursor)
    elector = uuid.UUID(me.actor_id) if voter else None
    async with pool.acquire() as conn:
        rows = await store.list_proposals(
            conn, uuid.UUID(me.territory_id), status, after, limit, elector
        )
        turnouts = {row["id"]: await store.turnout(conn, row["id"]) for row in rows[:limit]}
    return page_of(
        rows,
        limit,
        position=lambda row: (row["created_at"], row["id"]),
        view=lambda row: ProposalOut.of(row, turnouts[row["id"]]),
    )


@proposals_router.get("/{proposal_id}", summary="A proposal, with its tally once closed")
async def get_proposal(proposal_id: uuid.UUID, pool: Pool, me: CurrentActor) -> ProposalOut:
    async with pool.acquire() as conn:
        await handlers.visible_proposal(conn, proposal_id, me)
        return await _view(conn, proposal_id)


@proposals_router.post(
    "/{proposal_id}/votes",
    summary="Cast or change my vote until the closing time; returns its receipt",
    responses={
        403: {"description": "Not in the proposal's electorate, suspended, another territory"},
        409: {"description": "Closed, or not open yet"},
    },
)
async def vote(
    proposal_id: uuid.UUID, body: VoteIn, pool: Pool, me: CurrentActor, ctx: Ctx
) -> VoteOut:
    cast = await in_transaction(
        pool, lambda conn: handlers.cast_vote(conn, proposal_id, me, body.choice, ctx)
    )
    return VoteOut.of(cast)


@proposals_router.get("/{proposal_id}/votes/me", summary="My current vote and my earlier ones")
async def my_votes(proposal_id: uuid.UUID, pool: Pool, me: CurrentActor) -> MyVotesOut:
    async with pool.acquire() as conn:
        await handlers.visible_proposal(conn, proposal_id, me)
        actor_id = uuid.UUID(me.actor_id)
        college = await store.college_in(conn, proposal_id, actor_id)
        votes = [VoteOut.of(row) for row in await store.votes_of(conn, proposal_id, actor_id)]
    return MyVotesOut(
        college=college, current=next((v for v in votes if v.current), None), history=votes
    )


@proposals_router.post(
    "/{proposal_id}/close",
    summary="Close early (a facilitator), once every member of the electorate has voted",
    responses={409: {"description": "Closed already, or some members have not voted"}},
)
async def close_early(
    proposal_id: uuid.UUID, pool: Pool, me: CurrentActor, ctx: Ctx
) -> ProposalOut:
    async def work(conn: Connection) -> ProposalOut:
        await handlers.close_proposal(conn, proposal_id, ctx, early_by=me)
        return await _view(conn, proposal_id)

    return await in_transaction(pool, work)


# --- the territory --------------------------------------------------------------------------------


@territories_router.get("/colleges", summary="The colleges, their weights and member counts")
async def colleges(territory_id: uuid.UUID, pool: Pool, me: CurrentActor) -> CollegesOut:
    async with pool.acquire() as conn:
        settings = await store.territory(conn, handlers.own_territory(me, territory_id))
        sizes = await store.college_sizes(conn, territory_id)
    return CollegesOut(
        territory_id=territory_id,
        version=settings["colleges_version"],
        weights=settings["weights"],
        members={college: sizes.get(college, 0) for college in settings["weights"]},
    )


@territories_router.get("/rules", summary="The territory's rules")
async def rules(territory_id: uuid.UUID, pool: Pool, me: CurrentActor) -> RulesOut:
    async with pool.acquire() as conn:
        settings = await store.territory(conn, handlers.own_territory(me, territory_id))
    return RulesOut(
        territory_id=territory_id, version=settings["rules_version"], **settings["rules"]
    )


@territories_router.put(
    "/members/{actor_id}/college",
    status_code=204,
    summary="Put a member in another college (a facilitator of the territory)",
)
async def assign_college(
    territory_id: uuid.UUID,
    actor_id: uuid.UUID,
    body: CollegeIn,
    pool: Pool,
    me: CurrentActor,
    ctx: Ctx,
) -> None:
    await in_transaction(
        pool,
        lambda conn: handlers.assign_college(
            conn, handlers.own_territory(me, territory_id), actor_id, str(body.college), me, ctx
        ),
    )


# --- members --------------------------------------------------------------------------------------


@members_router.get(
    "/me",
    summary="My college and its weight today (each actor reads its own only)",
    responses={404: {"description": "Governance does not know me yet (not admitted)"}},
)
async def my_membership(pool: Pool, me: CurrentActor) -> MemberOut:
    async with pool.acquire() as conn:
        member = await store.get_member(conn, uuid.UUID(me.actor_id))
        if member is None:
            raise NotFound("la gouvernance ne connaît pas encore ce membre")
        settings = await store.territory(conn, member["territory_id"])
    return MemberOut(
        actor_id=member["actor_id"],
        territory_id=member["territory_id"],
        college=member["college"],
        weight=settings["weights"].get(member["college"], 0),
        status=member["status"],
    )
