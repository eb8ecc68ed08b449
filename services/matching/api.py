"""HTTP routes of the matching service (mounted under /v1): matches, candidates, policy."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.fields import CleanText
from contracts.matches import MatchStatus, Origin, Party, Score
from contracts.offers import DatedWindow, WeeklySlot
from contracts.taxonomy import Unit
from services.matching import agreements, handlers, policies, store
from services.matching.lifecycle import Match, score_of
from services.matching.ownership import Territories
from services.matching.proposals import Rematch
from services.runtime.access import ADMITTED_ONLY
from services.runtime.auth import CurrentActor
from services.runtime.pages import CursorParam, Limit, Page, decode_cursor, page_of
from services.runtime.principal import Principal
from services.runtime.service import Pool
from services.runtime.service import RequestContext as Ctx

matches_router = APIRouter(prefix="/matches", tags=["matches"], dependencies=[ADMITTED_ONLY])
needs_router = APIRouter(prefix="/needs", tags=["candidates"], dependencies=[ADMITTED_ONLY])
policy_router = APIRouter(tags=["policy"], dependencies=[ADMITTED_ONLY])


def territories(request: Request) -> Territories:
    held: Territories = request.app.state.territories
    return held


Held = Annotated[Territories, Depends(territories)]


EXPLANATIONS = {
    Origin.ENGINE: "Proposé par le moteur de mise en relation selon le score ci-dessous.",
    Origin.FACILITATOR: "Proposé à la main par l'équipe d'animation du territoire ; le score "
    "ci-dessous est indicatif.",
}


class MatchOut(BaseModel):
    id: uuid.UUID
    status: MatchStatus
    my_party: Party | None = Field(
        description="The caller's side of the match; null for the facilitator who proposed it."
    )
    origin: Origin = Field(description="Who proposed the pair: the engine or a facilitator.")
    explanation: str = Field(description="How the pair came to be proposed, in French.")
    territory_id: str
    offer_id: str
    offer_version: int
    need_id: str
    need_version: int
    provider_id: str
    requester_id: str
    quantity: float
    unit: Unit
    score: Score = Field(description="Why the pair was proposed: parts, weights and total.")
    accepted_by: list[Party]
    proposed_at: datetime
    expires_at: datetime
    confirmed_at: datetime | None
    closed_at: datetime | None
    reason: str | None = Field(description="Why it was declined or cancelled.")
    version: int
    project_id: str | None = Field(
        default=None, description="The territorial project the need serves, if any."
    )

    @classmethod
    def of(cls, match: Match, me: Principal) -> MatchOut:
        party = match.party_of(me.actor_id)
        return cls(
            id=match.id, status=match.status, my_party=party, origin=match.origin,
            explanation=EXPLANATIONS[match.origin], territory_id=match.territory_id,
            offer_id=match.offer_id, offer_version=match.offer_version, need_id=match.need_id,
            need_version=match.need_version, provider_id=match.provider_id,
            requester_id=match.requester_id, quantity=match.quantity, unit=match.unit,
            score=match.score, accepted_by=match.accepted_by, proposed_at=match.proposed_at,
            expires_at=match.expires_at, confirmed_at=match.confirmed_at,
            closed_at=match.closed_at, reason=match.reason, version=match.version,
            project_id=match.project_id,
        )  # fmt: skip


class CapacityCheck(BaseModel):
    """An amended quantity and schedule of a confirmed match's agreement."""

    model_config = ConfigDict(extra="forbid")

    quantity: float = Field(gt=0, le=1_000_000_000)
    weekly_windows: list[WeeklySlot] = Field(default_factory=list, max_length=70)
    dated_windows: list[DatedWindow] = Field(
        default_factory=list, max_length=200, description="Wall-clock times of the territory."
    )


class Fits(BaseModel):
    fits: bool


class Decline(BaseModel):
    reason: Annotated[str, StringConstraints(max_length=500), CleanText()] = ""


class PairIn(BaseModel):
    need_id: str = Field(max_length=100, description="An open need of the territory.")
    offer_id: str = Field(max_length=100, description="A published offer of the territory.")


class UnmatchedOut(BaseModel):
    need_id: str
    requester_id: str
    title: str
    category: str
    quantity: float
    unit: str
    expires_at: datetime


class PairOut(BaseModel):
    match_id: uuid.UUID
    status: MatchStatus


class CandidateOut(BaseModel):
    rank: int
    offer_id: str
    offer_version: int
    provider_id: str
    title: str
    score: Score
    match: PairOut | None = Field(description="The latest match of this pair, if any.")


class CandidatesOut(BaseModel):
    need_id: str
    policy_version: int
    threshold: float
    items: list[CandidateOut]


class PolicyOut(BaseModel):
    territory_id: str
    version: int
    weights: dict[str, float]
    threshold: float
    top_k: int
    ttl_hours: float
    fairness_cap: int
    social_priority: dict[str, float] = Field(description="Score part per requester kind.")
    decision_id: str | None = Field(description="The governance decision that adopted it.")
    adopted_at: datetime | None


class RematchOut(BaseModel):
    policy_version: int
    needs: int = Field(description="Open needs of the territory considered.")
    proposed: int
    cancelled: int
    rounds: int = Field(description="Allocation rounds: the most proposals one need received.")


@matches_router.get("", summary="My matches, as provider or requester, newest first")
async def list_matches(
    pool: Pool,
    me: CurrentActor,
    status: MatchStatus | None = None,
    cursor: CursorParam = None,
    limit: Limit = 50,
) -> Page[MatchOut]:
    found = await handlers.list_matches(
        pool, me, status=status, after=decode_cursor(cursor), limit=limit + 1
    )
    return page_of(
        found, limit, position=lambda m: (m.proposed_at, m.id), view=lambda m: MatchOut.of(m, me)
    )


@matches_router.get("/{match_id}", summary="A match and why it was proposed (its parties only)")
async def get_match(match_id: uuid.UUID, pool: Pool, me: CurrentActor) -> MatchOut:
    return MatchOut.of(await handlers.get_match(pool, match_id, me), me)


@matches_router.post(
    "/{match_id}/accept",
    summary="Accept as provider or requester; the second acceptance confirms the match",
    responses={409: {"description": "Not open any more, or the offer's capacity was taken"}},
)
async def accept_match(
    match_id: uuid.UUID, pool: Pool, held: Held, me: CurrentActor, ctx: Ctx
) -> MatchOut:
    return MatchOut.of(await handlers.accept_match(pool, held, match_id, me, ctx), me)


@matches_router.post(
    "/{match_id}/capacity-check",
    summary="Would the offer take this confirmed match with another quantity or schedule? "
    "(409 if not; asked by the agreements service for an amendment)",
)
async def capacity_check(
    match_id: uuid.UUID, body: CapacityCheck, pool: Pool, me: CurrentActor
) -> Fits:
    windows = agreements.windows_of(
        body.weekly_windows, [(w.start, w.end) for w in body.dated_windows]
    )
    await agreements.check_capacity(pool, match_id, body.quantity, windows, me)
    return Fits(fits=True)


@matches_router.post("/{match_id}/decline", summary="Decline; the need gets its next candidate")
async def decline_match(
    match_id: uuid.UUID,
    pool: Pool,
    held: Held,
    me: CurrentActor,
    ctx: Ctx,
    body: Decline | None = None,
) -> MatchOut:
    reason = body.reason if body else ""
    return MatchOut.of(await handlers.decline_match(pool, held, match_id, reason, me, ctx), me)


@matches_router.post(
    "/{match_id}/cancel",
    summary="End my confirmed match (the booking); the offer's capacity is free again",
    responses={409: {"description": "The match is not confirmed: decline a proposal instead"}},
)
async def cancel_match(
    match_id: uuid.UUID, pool: Pool, held: Held, me: CurrentActor, ctx: Ctx
) -> MatchOut:
    return MatchOut.of(await handlers.cancel_match(pool, held, match_id, me, ctx), me)


@matches_router.post(
    "",
    status_code=201,
    summary="Propose an offer for a need by hand (facilitators of the territory)",
    responses={409: {"description": "The pair cannot work, or the capacity is booked"}},
)
async def propose_pair(
    body: PairIn, pool: Pool, held: Held, me: CurrentActor, ctx: Ctx
) -> MatchOut:
    match = await handlers.propose_by_hand(pool, held, body.need_id, body.offer_id, me, ctx)
    return MatchOut.of(match, me)


@needs_router.get(
    "/unmatched",
    summary="Open needs of my territory with no proposal and no candidate left (facilitators)",
)
async def unmatched_needs(pool: Pool, held: Held, me: CurrentActor) -> list[UnmatchedOut]:
    found = await handlers.unmatched_needs(pool, held, me)
    return [UnmatchedOut(**vars(item)) for item in found]


@needs_router.get("/{need_id}/candidates", summary="My need's best offers, ranked and explained")
async def need_candidates(
    need_id: str,
    pool: Pool,
    held: Held,
    me: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> CandidatesOut:
    found = await handlers.explain_candidates(pool, held, need_id, me, limit=limit)
    items = []
    for rank, candidate in enumerate(found.candidates, start=1):
        offer = candidate.offer
        pair = found.matches.get(offer.offer_id)
        items.append(
            CandidateOut(
                rank=rank,
                offer_id=offer.offer_id,
                offer_version=offer.version,
                provider_id=offer.provider_id,
                title=found.titles.get(offer.offer_id, ""),
                score=score_of(candidate),
                match=PairOut(match_id=pair.id, status=pair.status) if pair else None,
            )
        )
    policy = found.policy.policy
    return CandidatesOut(
        need_id=need_id, policy_version=policy.version, threshold=policy.threshold, items=items
    )


@policy_router.get("/policy", summary="The matching policy in force in my territory")
async def get_policy(pool: Pool, me: CurrentActor) -> PolicyOut:
    async with pool.acquire() as conn:
        record = await store.current_policy(conn, me.territory_id)
    return PolicyOut(
        territory_id=record.territory_id,
        version=record.version,
        decision_id=record.decision_id,
        adopted_at=record.adopted_at,
        **policies.to_json(record),
    )


@policy_router.post(
    "/rematch", summary="Re-match every open need of my territory at once (facilitators)"
)
async def rematch(pool: Pool, held: Held, me: CurrentActor, ctx: Ctx) -> RematchOut:
    done: Rematch = await handlers.rematch(pool, held, me, ctx)
    return RematchOut(
        policy_version=done.policy_version,
        needs=done.needs,
        proposed=done.proposed,
        cancelled=done.cancelled,
        rounds=done.rounds,
    )
