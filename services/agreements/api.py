"""HTTP routes of the agreements service (mounted under /v1)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar
from uuid import UUID

import asyncpg
import httpx
from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from contracts import taxonomy
from contracts.agreements import AgreementStatus, IndicatorResult, Signature, Terms
from contracts.taxonomy import CategoryCode
from services.agreements import convention, handlers, impact, store
from services.agreements.domain.lifecycle import Agreement
from services.agreements.domain.terms import Amendment
from services.agreements.domain.usage import Report
from services.agreements.requests import (
    AmendmentIn,
    DeclarationIn,
    DisputeIn,
    FactorIn,
    SignIn,
    TerminateIn,
    UsageIn,
)
from services.agreements.settings import AgreementsSettings
from services.runtime.access import ADMITTED_ONLY
from services.runtime.auth import CurrentActor
from services.runtime.errors import Conflict, InvalidInput, NotFound
from services.runtime.pages import Cursor, CursorParam, Limit, Page, decode_cursor, page_of
from services.runtime.service import Pool, settings_of
from services.runtime.service import RequestContext as Ctx

agreements_router = APIRouter(
    prefix="/agreements", tags=["agreements"], dependencies=[ADMITTED_ONLY]
)
credits_router = APIRouter(prefix="/actors", tags=["time credits"], dependencies=[ADMITTED_ONLY])
territories_router = APIRouter(prefix="/territories", tags=["impact"], dependencies=[ADMITTED_ONLY])
SettingsDep = Annotated[AgreementsSettings, Depends(settings_of(AgreementsSettings))]


# --- views ------------------------------------------------------------------------------------


class TermsVersionOut(BaseModel):
    terms: Terms
    terms_hash: str
    proposed_by: str | None
    changed: list[str]
    created_at: datetime
    in_force: bool


class AgreementDetail(Agreement):
    versions: list[TermsVersionOut] = Field(description="Every version of the terms, oldest first.")
    signatures: list[Signature]


class StatementOut(BaseModel):
    id: UUID
    agreement_id: UUID
    period_start: datetime
    period_end: datetime
    sequence: int
    supersedes: UUID | None
    terms_version: int
    price_model: str
    amount_unit: str = Field(description="eur_cents or time_credit_minutes.")
    quantity: Decimal
    ratio: Decimal
    fixed_amount: int
    variable_amount: int
    total_amount: int
    shortfall: int = Field(description="Time credit minutes the payer's floor kept from moving.")
    payer_id: UUID
    payee_id: UUID
    issued_at: datetime

    @classmethod
    def of(cls, row: asyncpg.Record) -> StatementOut:
        return cls.model_validate(dict(row))


T = TypeVar("T")


def _same(item: T) -> T:
    return item


def _position(item: Agreement | Report) -> Cursor:
    return item.created_at, item.id


def _detail(found: handlers.Detail) -> AgreementDetail:
    agreement = found.agreement
    return AgreementDetail.model_validate(
        {
            **agreement.model_dump(),
            "versions": [
                TermsVersionOut(
                    terms=v.terms,
                    terms_hash=v.terms_hash,
                    proposed_by=str(v.proposed_by) if v.proposed_by else None,
                    changed=v.changed,
                    created_at=v.created_at,
                    in_force=v.terms.version == agreement.terms_version
                    and agreement.status is not AgreementStatus.DRAFT,
                )
                for v in found.versions
            ],
            "signatures": found.signatures,
        }
    )


# --- agreements -------------------------------------------------------------------------------


@agreements_router.get("", summary="My agreements (as provider or beneficiary), newest first")
async def list_agreements(
    pool: Pool,
    me: CurrentActor,
    status_: Annotated[list[AgreementStatus] | None, Query(alias="status")] = None,
    cursor: CursorParam = None,
    limit: Limit = 50,
) -> Page[Agreement]:
    found = await handlers.list_mine(
        pool,
        me,
        statuses=[str(s) for s in status_] if status_ else None,
        after=decode_cursor(cursor),
        limit=limit + 1,
    )
    return page_of(found, limit, position=_position, view=_same)


@agreements_router.get("/{agreement_id}", summary="An agreement with every version of its terms")
async def get_agreement(agreement_id: UUID, pool: Pool, me: CurrentActor) -> AgreementDetail:
    return _detail(await handlers.detail(pool, agreement_id, me))


@agreements_router.post("/{agreement_id}/sign", summary="Sign the version awaiting my signature")
async def sign(
    agreement_id: UUID, body: SignIn, pool: Pool, me: CurrentActor, ctx: Ctx
) -> AgreementDetail:
    await handlers.sign(pool, agreement_id, body.terms_version, body.terms_hash, me, ctx)
    return _detail(await handlers.detail(pool, agreement_id, me))


@agreements_router.post(
    "/{agreement_id}/terminate", summary="End it early, with the clause's notice"
)
async def terminate(
    agreement_id: UUID,
    body: TerminateIn,
    pool: Pool,
    me: CurrentActor,
    ctx: Ctx,
    settings: SettingsDep,
) -> Agreement:
    return await handlers.terminate(pool, agreement_id, body.reason, me, ctx, settings)


async def _check_with_matching(
    request: Request, settings: AgreementsSettings, match_id: UUID, terms: Terms
) -> None:
    """Matching says whether the asset can take the new quantity and schedule (409 if not)."""
    body = {
        "quantity": terms.quantity,
        "weekly_windows": [w.model_dump(mode="json") for w in terms.weekly_windows],
        "dated_windows": [
            {"start": w.start.isoformat(), "end": w.end.isoformat()} for w in terms.dated_windows
        ],
    }
    headers = {"Authorization": request.headers.get("authorization", "")}
    url = f"{settings.matching_url.rstrip('/')}/v1/matches/{match_id}/capacity-check"
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(url, json=body, headers=headers)
    except httpx.TransportError as error:  # answered as the runtime's 503 with Retry-After
        raise ConnectionError(f"matching is out of reach: {error!r}") from error
    if answer.status_code >= 500:
        raise ConnectionError(f"matching answered {answer.status_code}")
    if answer.status_code == status.HTTP_409_CONFLICT:
        detail = answer.json().get("detail", "the asset cannot take this amendment")
        raise Conflict(f"matching: {detail}", field="quantity")
    if answer.is_error:
        raise Conflict(
            f"matching could not check the amendment ({answer.status_code}); try again later",
            field="quantity",
        )


@agreements_router.post(
    "/{agreement_id}/amendments",
    status_code=status.HTTP_201_CREATED,
    summary="Propose new terms (end, schedule, quantity, unit price); both sign them again",
)
async def propose_amendment(
    agreement_id: UUID,
    body: AmendmentIn,
    request: Request,
    pool: Pool,
    me: CurrentActor,
    ctx: Ctx,
    settings: SettingsDep,
) -> AgreementDetail:
    unit_amount = None
    if body.unit_price is not None:
        unit_amount = int((body.unit_price * 100).to_integral_value())
    proposal = await handlers.prepare_amendment(
        pool,
        agreement_id,
        Amendment(
            ends_at=body.ends_at,
            quantity=body.quantity,
            weekly_windows=body.weekly_windows,
            dated_windows=body.dated_windows,
            unit_amount=unit_amount,
        ),
        me,
    )
    if {"quantity", "weekly_windows", "dated_windows", "ends_at"} & set(proposal.changed):
        await _check_with_matching(request, settings, proposal.agreement.match_id, proposal.terms)
    await handlers.propose_amendment(pool, proposal, me, ctx)
    return _detail(await handlers.detail(pool, agreement_id, me))


@agreements_router.get(
    "/{agreement_id}/convention",
    # A plain Response class keeps the error answers documented as problem+json.
    response_class=Response,
    responses={200: {"content": {"text/html": {}}}},
    summary="The printable convention (French HTML) of a version of the terms",
)
async def get_convention(
    agreement_id: UUID,
    pool: Pool,
    me: CurrentActor,
    version: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> HTMLResponse:
    found = await handlers.detail(pool, agreement_id, me)
    if version is not None and version > len(found.versions):
        raise NotFound("no such version of the terms", field="version")
    async with pool.acquire() as conn:
        offer = await store.get_offer_version(
            conn, found.agreement.offer_id, found.agreement.offer_version
        )
    title = offer.title if offer else str(found.agreement.offer_id)
    return HTMLResponse(convention.render(found, version, title))


# --- usage ------------------------------------------------------------------------------------


@agreements_router.post(
    "/{agreement_id}/usage", status_code=status.HTTP_201_CREATED, summary="Report usage"
)
async def report_usage(
    agreement_id: UUID, body: UsageIn, pool: Pool, me: CurrentActor, ctx: Ctx
) -> Report:
    fields: dict[str, Any] = body.model_dump()
    return await handlers.report_usage(pool, agreement_id, fields, me, ctx)


@agreements_router.get("/{agreement_id}/usage", summary="The agreement's usage reports")
async def list_usage(
    agreement_id: UUID, pool: Pool, me: CurrentActor, cursor: CursorParam = None, limit: Limit = 50
) -> Page[Report]:
    found = await handlers.list_usage(
        pool, agreement_id, me, after=decode_cursor(cursor), limit=limit + 1
    )
    return page_of(found, limit, position=_position, view=_same)


@agreements_router.post(
    "/{agreement_id}/usage/{report_id}/confirm", summary="Confirm the other party's report"
)
async def confirm_usage(
    agreement_id: UUID,
    report_id: UUID,
    pool: Pool,
    me: CurrentActor,
    ctx: Ctx,
    settings: SettingsDep,
) -> Report:
    return await handlers.decide_usage(
        pool, agreement_id, report_id, handlers.UsageDecision.CONFIRM, "", me, ctx, settings
    )


@agreements_router.post(
    "/{agreement_id}/usage/{report_id}/dispute", summary="Dispute the other party's report"
)
async def dispute_usage(
    agreement_id: UUID,
    report_id: UUID,
    body: DisputeIn,
    pool: Pool,
    me: CurrentActor,
    ctx: Ctx,
    settings: SettingsDep,
) -> Report:
    return await handlers.decide_usage(
        pool,
        agreement_id,
        report_id,
        handlers.UsageDecision.DISPUTE,
        body.reason,
        me,
        ctx,
        settings,
    )


@agreements_router.post(
    "/{agreement_id}/usage/{report_id}/withdraw", summary="Withdraw my report not confirmed"
)
async def withdraw_usage(
    agreement_id: UUID,
    report_id: UUID,
    pool: Pool,
    me: CurrentActor,
    ctx: Ctx,
    settings: SettingsDep,
) -> Report:
    return await handlers.decide_usage(
        pool, agreement_id, report_id, handlers.UsageDecision.WITHDRAW, "", me, ctx, settings
    )


# --- statements -------------------------------------------------------------------------------


@agreements_router.get("/{agreement_id}/statements", summary="Statements, newest first")
async def list_statements(
    agreement_id: UUID, pool: Pool, me: CurrentActor, cursor: CursorParam = None, limit: Limit = 50
) -> Page[StatementOut]:
    rows = await handlers.list_statements(
        pool, agreement_id, me, after=decode_cursor(cursor), limit=limit + 1
    )
    return page_of(rows, limit, position=lambda r: (r["issued_at"], r["id"]), view=StatementOut.of)


class EvaluationOut(BaseModel):
    period_start: datetime
    period_end: datetime
    sequence: int = Field(description="1, or more once a late confirmation corrected it.")
    results: list[IndicatorResult]
    ratio: Decimal = Field(description="Share of indicators met, in [0, 1]; 1 if none.")
    evaluated_at: datetime

    @classmethod
    def of(cls, row: asyncpg.Record) -> EvaluationOut:
        return cls.model_validate(dict(row))


@agreements_router.get(
    "/{agreement_id}/evaluations",
    summary="The performance of each closed period (its latest evaluation), newest first",
)
async def list_evaluations(agreement_id: UUID, pool: Pool, me: CurrentActor) -> list[EvaluationOut]:
    return [EvaluationOut.of(r) for r in await handlers.list_evaluations(pool, agreement_id, me)]


CSV = "text/csv; charset=utf-8"


@agreements_router.get(
    "/{agreement_id}/statements.csv",
    response_class=Response,
    responses={200: {"content": {CSV: {}}}},
    summary="Statements as CSV (semicolons, UTF-8 with BOM) for the parties' own invoicing",
)
async def statements_csv(agreement_id: UUID, pool: Pool, me: CurrentActor) -> Response:
    async with pool.acquire() as conn:
        await handlers.detail(pool, agreement_id, me)
        rows = await store.statements_for_export(conn, agreement_id)
    header = [
        "relevé", "début", "fin", "version", "remplace", "modèle de prix", "unité",
        "quantité", "ratio", "part fixe", "part variable", "total", "payeur", "bénéficiaire",
        "émis le",
    ]  # fmt: skip
    text = impact.csv_text(
        [
            header,
            *(
                [
                    r["id"],
                    r["period_start"].isoformat(),
                    r["period_end"].isoformat(),
                    r["sequence"],
                    r["supersedes"],
                    r["price_model"],
                    r["amount_unit"],
                    r["quantity"],
                    r["ratio"],
                    r["fixed_amount"],
                    r["variable_amount"],
                    r["total_amount"],
                    r["payer_id"],
                    r["payee_id"],
                    r["issued_at"].isoformat(),
                ]
                for r in rows
            ),
        ]
    )
    return Response(text, media_type=CSV)


# --- value declarations -----------------------------------------------------------------------


@agreements_router.post(
    "/{agreement_id}/value-declarations",
    status_code=status.HTTP_201_CREATED,
    summary="Declare value created in a period (purchase avoided, people served, jobs)",
)
async def declare_value(
    agreement_id: UUID, body: DeclarationIn, pool: Pool, me: CurrentActor
) -> impact.Declaration:
    return await impact.declare(pool, agreement_id, body, me)


@agreements_router.get("/{agreement_id}/value-declarations", summary="Value declared")
async def list_declarations(
    agreement_id: UUID, pool: Pool, me: CurrentActor
) -> list[impact.Declaration]:
    return await impact.declarations(pool, agreement_id, me)


@agreements_router.post(
    "/{agreement_id}/value-declarations/{declaration_id}/confirm",
    summary="Confirm the other party's declaration: it enters the value ledger",
)
async def confirm_declaration(
    agreement_id: UUID, declaration_id: UUID, pool: Pool, me: CurrentActor
) -> impact.Declaration:
    return await impact.confirm_declaration(pool, agreement_id, declaration_id, me)


# --- time credits -----------------------------------------------------------------------------


class Movement(BaseModel):
    id: int
    statement_id: UUID
    counterpart_id: UUID
    minutes: int
    balance_after: int
    created_at: datetime


class TimeCredits(BaseModel):
    actor_id: UUID
    balance_minutes: int
    floor_minutes: int
    movements: list[Movement] = Field(description="Newest first.")
    next_before: int | None = Field(description="Pass as `before` for older movements.")


@credits_router.get(
    "/{actor_id}/time-credits", summary="An actor's time credit account and its movements"
)
async def time_credits(
    actor_id: UUID,
    pool: Pool,
    me: CurrentActor,
    settings: SettingsDep,
    before: Annotated[int | None, Query(ge=1)] = None,
    limit: Limit = 50,
) -> TimeCredits:
    async with pool.acquire() as conn:
        account = await store.account(conn, actor_id)
        territory = account["territory_id"] if account else await _territory_of(conn, actor_id)
        mine = me.actor_id == str(actor_id)
        if not mine and not (territory is not None and me.facilitates(str(territory))):
            raise NotFound("no such account")
        rows = await store.movements(conn, actor_id, before=before, limit=limit + 1)
        rules = await handlers.rules_of(conn, UUID(str(territory or me.territory_id)), settings)
    shown = rows[:limit]
    return TimeCredits(
        actor_id=actor_id,
        balance_minutes=account["balance_minutes"] if account else 0,
        floor_minutes=rules.time_credit_floor_minutes,
        movements=[Movement.model_validate(dict(r)) for r in shown],
        next_before=shown[-1]["id"] if len(rows) > limit else None,
    )


async def _territory_of(conn: Any, actor_id: UUID) -> UUID | None:
    territory: UUID | None = await conn.fetchval(
        "SELECT territory_id FROM access_actors WHERE actor_id = $1", actor_id
    )
    return territory


# --- impact -----------------------------------------------------------------------------------


@territories_router.get("/{territory_id}/impact", summary="The value created in the territory")
async def get_impact(territory_id: UUID, pool: Pool, me: CurrentActor) -> impact.Impact:
    return await impact.impact(pool, territory_id, me)


@territories_router.get(
    "/{territory_id}/impact.csv",
    response_class=Response,
    responses={200: {"content": {CSV: {}}}},
    summary="The value ledger as CSV (semicolons, UTF-8 with BOM, formulas neutralised)",
)
async def get_impact_csv(territory_id: UUID, pool: Pool, me: CurrentActor) -> Response:
    text = await impact.impact_csv(pool, territory_id, me)
    return Response(
        text,
        media_type=CSV,
        headers={"Content-Disposition": f'attachment; filename="impact-{territory_id}.csv"'},
    )


@territories_router.get(
    "/{territory_id}/emission-factors",
    summary="Emission factors in force: the territory's own, then the reference table's",
)
async def list_factors(territory_id: UUID, pool: Pool, me: CurrentActor) -> list[impact.FactorOut]:
    return await impact.list_factors(pool, territory_id, me)


@territories_router.put(
    "/{territory_id}/emission-factors/{category}",
    summary="Set the territory's own factor for a category, with its source (facilitators)",
)
async def set_factor(
    territory_id: UUID, category: CategoryCode, body: FactorIn, pool: Pool, me: CurrentActor
) -> impact.FactorOut:
    if not taxonomy.is_known(category):
        raise InvalidInput(f"unknown category {category!r}", field="category")
    return await impact.set_factor(pool, territory_id, category, body, me)
