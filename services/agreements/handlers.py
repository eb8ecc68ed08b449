"""Use cases of the agreements service: each reads, lets the domain decide, writes the new state
with its events (outbox) and timers (scheduler) in one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any
from uuid import UUID

import asyncpg

from contracts import agreements as events
from contracts.actors import ActorKind, ActorState
from contracts.agreements import (
    AgreementStatus,
    AmountUnit,
    Party,
    Signature,
    TerminationReason,
    Terms,
)
from contracts.fields import wall_clock
from contracts.governance import (
    DecisionMadeV1,
    Outcome,
    ProposalKind,
    TerritoryRulesChangedV1,
)
from contracts.matches import MatchConfirmedV1
from contracts.needs import NeedState
from contracts.offers import OfferState
from services.agreements import projects, store
from services.agreements.domain import credits, lifecycle, money, schedule, statements, usage
from services.agreements.domain.lifecycle import Agreement, Signed
from services.agreements.domain.terms import (
    Amendment,
    NeedVersion,
    OfferVersion,
    amend,
    initial_terms,
    terms_hash,
    usage_unit,
)
from services.agreements.domain.value import UNITS, computed_rows
from services.agreements.settings import AgreementsSettings
from services.runtime import clock, scheduler
from services.runtime.context import Context
from services.runtime.db import Connection, in_transaction
from services.runtime.errors import Conflict, NotFound, NotYet
from services.runtime.outbox import emit
from services.runtime.principal import Principal

ACTIVATE = "agreements.activate"
CLOSE_PERIOD = "agreements.close_period"
LAPSE = "agreements.lapse"


# --- views kept from other services' events ---------------------------------------------------


async def apply_offer(conn: Connection, state: OfferState) -> None:
    await store.save_offer_version(
        conn,
        OfferVersion(
            offer_id=state.offer_id,
            version=state.version,
            territory_id=state.territory_id,
            provider_id=state.provider_id,
            asset_id=state.asset.asset_id,
            asset_owner_id=state.asset.owner_id,
            category=state.asset.category,
            title=state.title,
            performance=state.performance,
            clause=state.clause,
            price=state.price,
            valid_to=state.valid_to,
        ),
    )


async def apply_need(conn: Connection, state: NeedState) -> None:
    await store.save_need_version(
        conn,
        NeedVersion(
            need_id=state.need_id,
            version=state.version,
            requester_id=state.requester_id,
            requester_kind=str(state.requester_kind),
            title=state.title,
            weekly_windows=state.weekly_windows,
            dated_windows=state.dated_windows,
            expires_at=state.expires_at,
        ),
    )


async def apply_actor(conn: Connection, state: ActorState) -> None:
    await store.save_actor_kind(
        conn, UUID(state.actor_id), UUID(state.territory_id), str(state.kind), state.version
    )


async def apply_rules(conn: Connection, rules: TerritoryRulesChangedV1) -> None:
    """Governance's rules of a territory. Its time credit floor counts hours of time credit,
    the offers' unit of time credits; agreements keep minutes."""
    await store.save_rules(
        conn,
        UUID(rules.territory_id),
        rules.public_asset_agreements_need_approval,
        rules.time_credit_floor * money.MINUTES_PER_HOUR,
        rules.version,
    )


@dataclass(frozen=True)
class Rules:
    public_asset_approval: bool
    time_credit_floor_minutes: int


async def rules_of(conn: Connection, territory_id: UUID, settings: AgreementsSettings) -> Rules:
    """The territory's rules as governance published them, else the settings' defaults."""
    found = await store.rules_of(conn, territory_id)
    if found is None:
        return Rules(settings.public_asset_approval, settings.time_credit_floor_minutes)
    return Rules(found["public_asset_approval"], found["time_credit_floor_minutes"])


# --- events -----------------------------------------------------------------------------------


def _refs(agreement: Agreement) -> dict[str, Any]:
    return {
        "agreement_id": str(agreement.id),
        "territory_id": str(agreement.territory_id),
        "provider_id": str(agreement.provider_id),
        "beneficiary_id": str(agreement.beneficiary_id),
        "match_id": str(agreement.match_id),
        "offer_id": str(agreement.offer_id),
        "need_id": str(agreement.need_id),
        "asset_id": str(agreement.asset_id),
    }


async def _emit_state(
    conn: Connection,
    model: type[events.AgreementState],
    agreement: Agreement,
    ctx: Context,
    **extra: Any,
) -> None:
    """An agreement state event: its full state with the terms in force (or to sign)."""
    terms = await store.get_terms(conn, agreement.id, agreement.terms_version)
    signed = [
        s
        for s in await store.signatures_of(conn, agreement.id)
        if s.terms_version == agreement.terms_version
    ]
    payload = model(
        **_refs(agreement),
        offer_version=agreement.offer_version,
        need_version=agreement.need_version,
        category=agreement.category,
        status=agreement.status,
        approval=agreement.approval,
        terms=terms,
        signatures=signed,
        starts_at=agreement.starts_at,
        ends_at=agreement.ends_at,
        version=agreement.version,
        **extra,
    )
    await emit(conn, payload, subject=agreement.id, territory=agreement.territory_id, ctx=ctx)


async def _emit(
    conn: Connection, payload: events.AgreementRef, agreement: Agreement, ctx: Context
) -> None:
    await emit(conn, payload, subject=agreement.id, territory=agreement.territory_id, ctx=ctx)


# --- birth: a confirmed match -----------------------------------------------------------------


async def create_from_match(
    conn: Connection, match: MatchConfirmedV1, ctx: Context, settings: AgreementsSettings
) -> Agreement | None:
    """The draft agreement of a confirmed match; None when the match already made one."""
    if await store.agreement_of_match(conn, UUID(match.match_id)) is not None:
        return None
    offer = await store.get_offer_version(conn, UUID(match.offer_id), match.offer_version)
    need = await store.get_need_version(conn, UUID(match.need_id), match.need_version)
    if offer is None or need is None:
        raise NotYet(f"offer or need version of match {match.match_id}")
    owner_kind = await store.kind_of(conn, UUID(offer.asset_owner_id))
    if owner_kind is None:
        raise NotYet(f"actor {offer.asset_owner_id}, owner of the asset of match {match.match_id}")
    now = clock.now()
    terms = initial_terms(offer, need, match.quantity, match.unit)
    public = owner_kind == ActorKind.LOCAL_AUTHORITY
    agreement = lifecycle.draft(
        agreement_id=uuid.uuid4(),
        match_id=UUID(match.match_id),
        offer=offer,
        need=need,
        terms=terms,
        provider_kind=await store.kind_of(conn, UUID(offer.provider_id)) or owner_kind,
        public_asset=public,
        approval_required=public
        and (await rules_of(conn, UUID(offer.territory_id), settings)).public_asset_approval,
        now=now,
        lapse_after=settings.lapse_after,
    )
    if not await store.insert_agreement(conn, agreement):
        return None
    await store.insert_terms(
        conn, agreement.id, terms, terms_hash(terms), proposed_by=None, changed=[], now=now
    )
    await scheduler.schedule(conn, LAPSE, str(agreement.id), agreement.lapses_at)
    await _emit_state(
        conn,
        events.AgreementCreatedV1,
        agreement,
        ctx,
        public_asset=public,
        awaits_approval=agreement.approval is events.Approval.PENDING,
        lapses_at=agreement.lapses_at,
    )
    return agreement


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Detail:
    agreement: Agreement
    versions: list[store.TermsVersion]
    signatures: list[Signature]


async def readable(conn: Connection, agreement_id: UUID, principal: Principal) -> Agreement:
    agreement = await store.get_agreement(conn, agreement_id)
    if agreement is None:
        raise NotFound("no such agreement")
    lifecycle.may_read(principal, agreement)
    return agreement


async def detail(pool: asyncpg.Pool, agreement_id: UUID, principal: Principal) -> Detail:
    async with pool.acquire() as conn:
        agreement = await readable(conn, agreement_id, principal)
        return Detail(
            agreement,
            await store.all_terms(conn, agreement_id),
            await store.signatures_of(conn, agreement_id),
        )


async def list_mine(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    statuses: list[str] | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Agreement]:
    async with pool.acquire() as conn:
        return await store.list_agreements(
            conn, UUID(principal.actor_id), statuses=statuses, after=after, limit=limit
        )


async def acting(
    conn: Connection, agreement_id: UUID, principal: Principal
) -> tuple[Agreement, Party]:
    agreement = await store.get_agreement(conn, agreement_id, for_update=True)
    if agreement is None:
        raise NotFound("no such agreement")
    return agreement, lifecycle.party_acting(principal, agreement)


# --- signatures -------------------------------------------------------------------------------


async def sign(
    pool: asyncpg.Pool,
    agreement_id: UUID,
    version: int,
    expected_hash: str | None,
    principal: Principal,
    ctx: Context,
) -> Agreement:
    async def run(conn: Connection) -> Agreement:
        agreement, party = await acting(conn, agreement_id, principal)
        terms = await store.get_terms(conn, agreement.id, agreement.signing_version)
        signing = lifecycle.sign(
            agreement,
            terms,
            await store.signatures_of(conn, agreement.id),
            party=party,
            actor_id=principal.actor_id,
            version=version,
            expected_hash=expected_hash,
            now=clock.now(),
        )
        signed = signing.agreement
        await store.insert_signature(conn, signed.id, signing.signature)
        await store.update_agreement(conn, signed)
        await _emit_state(
            conn, events.AgreementSignedV1, signed, ctx, by=party, signature=signing.signature
        )
        if signing.outcome is Signed.BOTH:
            await scheduler.cancel(conn, LAPSE, str(signed.id))
            await _schedule_start(conn, signed)
        elif signing.outcome is Signed.AMENDED:
            await _emit_amended(conn, agreement, signed, ctx)
        return signed

    return await in_transaction(pool, run)


async def _schedule_start(conn: Connection, agreement: Agreement) -> None:
    if agreement.starts_at is not None:
        await scheduler.schedule(conn, ACTIVATE, str(agreement.id), agreement.starts_at)


async def _emit_amended(
    conn: Connection, before: Agreement, after: Agreement, ctx: Context
) -> None:
    versions = await store.all_terms(conn, after.id)
    changed = versions[after.terms_version - 1].changed
    await _emit_state(
        conn,
        events.AgreementAmendedV1,
        after,
        ctx,
        previous_terms_version=before.terms_version,
        changed=changed,
    )
    if after.status is AgreementStatus.ACTIVE and after.ends_at != before.ends_at:
        await _schedule_close(conn, after, await store.current_period_start(conn, after))


# --- amendments -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    agreement: Agreement
    terms: Terms
    changed: list[str]


async def prepare_amendment(
    pool: asyncpg.Pool, agreement_id: UUID, amendment: Amendment, principal: Principal
) -> Proposal:
    """The amended terms, before they are checked with matching and written."""
    async with pool.acquire() as conn:
        agreement = await readable(conn, agreement_id, principal)
        lifecycle.party_acting(principal, agreement)
        terms = await store.get_terms(conn, agreement.id, agreement.terms_version)
        latest = len(await store.all_terms(conn, agreement.id))
    amended, changed = amend(terms, amendment, now=clock.now())
    return Proposal(agreement, amended.model_copy(update={"version": latest + 1}), changed)


async def propose_amendment(
    pool: asyncpg.Pool, proposal: Proposal, principal: Principal, ctx: Context
) -> Agreement:
    async def run(conn: Connection) -> Agreement:
        agreement, party = await acting(conn, proposal.agreement.id, principal)
        if agreement.version != proposal.agreement.version:
            raise Conflict("the agreement changed meanwhile: try again", field="version")
        now = clock.now()
        proposed = lifecycle.propose_amendment(agreement, proposal.terms, now=now)
        await store.insert_terms(
            conn,
            agreement.id,
            proposal.terms,
            terms_hash(proposal.terms),
            proposed_by=party,
            changed=proposal.changed,
            now=now,
        )
        await store.update_agreement(conn, proposed)
        if proposed.lapses_at != agreement.lapses_at:  # an amended draft ending sooner
            await scheduler.schedule(conn, LAPSE, str(proposed.id), proposed.lapses_at)
        await _emit_state(
            conn,
            events.AgreementAmendmentProposedV1,
            proposed,
            ctx,
            by=party,
            proposed=proposal.terms,
        )
        return proposed

    return await in_transaction(pool, run)


# --- termination, approval, timed transitions -------------------------------------------------


async def terminate(
    pool: asyncpg.Pool,
    agreement_id: UUID,
    explanation: str,
    principal: Principal,
    ctx: Context,
    settings: AgreementsSettings,
) -> Agreement:
    async def run(conn: Connection) -> Agreement:
        agreement, party = await acting(conn, agreement_id, principal)
        terms = await store.get_terms(conn, agreement.id, agreement.terms_version)
        notice = timedelta(days=terms.clause.notice_days)
        ended = lifecycle.terminate(
            agreement,
            TerminationReason.BY_PARTY,
            party,
            explanation,
            now=clock.now(),
            notice=notice,
        )
        return await _after_termination(conn, agreement, ended, ctx, settings)

    return await in_transaction(pool, run)


async def _after_termination(
    conn: Connection,
    before: Agreement,
    ended: Agreement,
    ctx: Context,
    settings: AgreementsSettings,
) -> Agreement:
    await store.update_agreement(conn, ended)
    if ended.status is not AgreementStatus.TERMINATED:  # running out its notice
        await _schedule_close(conn, ended, await store.current_period_start(conn, ended))
        return ended
    await scheduler.cancel(conn, LAPSE, str(ended.id))
    await scheduler.cancel(conn, ACTIVATE, str(ended.id))
    if before.status is AgreementStatus.ACTIVE:
        await scheduler.cancel(conn, CLOSE_PERIOD, str(ended.id))
        start = await store.current_period_start(conn, ended)
        if start is not None and start < ended.ends_at:
            terms = await store.get_terms(conn, ended.id, ended.terms_version)
            await _issue(conn, ended, terms, start, ended.ends_at, ctx, settings=settings)
    await _emit_terminated(conn, ended, ctx)
    return ended


async def _emit_terminated(conn: Connection, ended: Agreement, ctx: Context) -> None:
    assert ended.termination is not None
    await _emit_state(
        conn,
        events.AgreementTerminatedV1,
        ended,
        ctx,
        reason=ended.termination.reason,
        by=ended.termination.by,
        explanation=ended.termination.explanation,
        effective_at=ended.termination.effective_at,
    )


async def apply_decision(
    conn: Connection, decision: DecisionMadeV1, ctx: Context, settings: AgreementsSettings
) -> None:
    """Governance's decision on an agreement on a public asset."""
    if decision.kind is not ProposalKind.APPROVE_PUBLIC_ASSET_AGREEMENT or not decision.subject_id:
        return
    try:
        agreement_id = UUID(decision.subject_id)
    except ValueError:
        return
    agreement = await store.get_agreement(conn, agreement_id, for_update=True)
    if agreement is None:
        raise NotYet(f"agreement {decision.subject_id} of decision {decision.decision_id}")
    terms = await store.get_terms(conn, agreement.id, agreement.terms_version)
    decided = lifecycle.decide_approval(
        agreement, terms, adopted=decision.outcome is Outcome.ADOPTED, now=clock.now()
    )
    if decided is None:
        return
    if decided.status is AgreementStatus.TERMINATED:
        await _after_termination(conn, agreement, decided, ctx, settings)
        return
    await store.update_agreement(conn, decided)
    await _schedule_start(conn, decided)


async def activate_job(conn: Connection, job: scheduler.Job, ctx: Context) -> None:
    agreement = await store.get_agreement(conn, UUID(job.key), for_update=True)
    if agreement is None:
        return
    active = lifecycle.activate(agreement, now=clock.now())
    if active is None:
        return
    await store.update_agreement(conn, active)
    project = await projects.project_of(conn, active.id)
    await _emit_state(
        conn,
        events.AgreementActivatedV1,
        active,
        ctx,
        project_id=str(project) if project else None,
    )
    assert active.starts_at is not None
    await _schedule_close(conn, active, active.starts_at)


async def _schedule_close(
    conn: Connection, agreement: Agreement, start: datetime | None, terms: Terms | None = None
) -> None:
    if start is None:
        return
    terms = terms or await store.get_terms(conn, agreement.id, agreement.terms_version)
    end = schedule.period_end(start, agreement.ends_at, terms.clause.statement_period)
    await scheduler.schedule(
        conn, CLOSE_PERIOD, str(agreement.id), end, {"start": start.isoformat()}
    )


async def close_period_job(
    conn: Connection, job: scheduler.Job, ctx: Context, settings: AgreementsSettings
) -> None:
    """Close the period that began at `job.payload["start"]`; then the next one, or the end."""
    agreement = await store.get_agreement(conn, UUID(job.key), for_update=True)
    if agreement is None or agreement.status is not AgreementStatus.ACTIVE:
        return
    now = clock.now()
    start = datetime.fromisoformat(job.payload["start"])
    terms = await store.get_terms(conn, agreement.id, agreement.terms_version)
    end = schedule.period_end(start, agreement.ends_at, terms.clause.statement_period)
    if end > now:  # the end moved later (an amendment): wait for it
        await _schedule_close(conn, agreement, start, terms)
        return
    if end < agreement.ends_at:
        await _schedule_close(conn, agreement, end, terms)
    await _issue(conn, agreement, terms, start, end, ctx, settings=settings)
    if end < agreement.ends_at:
        return
    finished = lifecycle.complete(agreement, now=now)
    if finished is None:
        return
    await store.update_agreement(conn, finished)
    if finished.status is AgreementStatus.TERMINATED:
        await _emit_terminated(conn, finished, ctx)
    else:
        await _emit_state(conn, events.AgreementCompletedV1, finished, ctx)


async def lapse_job(conn: Connection, job: scheduler.Job, ctx: Context) -> None:
    agreement = await store.get_agreement(conn, UUID(job.key), for_update=True)
    if agreement is None:
        return
    lapsed = lifecycle.lapse(agreement, now=clock.now())
    if lapsed is None:
        return
    await store.update_agreement(conn, lapsed)
    await _emit_state(conn, events.AgreementLapsedV1, lapsed, ctx)


# --- statements -------------------------------------------------------------------------------


async def _issue(
    conn: Connection,
    agreement: Agreement,
    terms: Terms,
    start: datetime,
    end: datetime,
    ctx: Context,
    *,
    settings: AgreementsSettings,
    supersedes: asyncpg.Record | None = None,
) -> None:
    """Evaluate the period [start, end), issue its statement (or a correction of `supersedes`),
    move time credits, write the events and the value ledger (last: the summary row it updates
    is shared by the territory's agreements, so its lock is held only until the commit). A
    period already stated is not stated again but by a correction."""
    now = clock.now()
    before, stated = await store.exact_before(conn, agreement.id, start)
    if stated and supersedes is None:
        return
    reports = await store.confirmed_usage(conn, agreement.id, start, end)
    quantity = sum((r.quantity for r in reports), Decimal(0))
    measured: dict[str, list[Decimal]] = {}
    for report in reports:
        for name, value in report.measurements.items():
            measured.setdefault(name, []).append(value)
    results, ratio = statements.evaluate(terms.indicators, measured)
    calendar = schedule.calendar_period(start, terms.clause.statement_period)
    due = statements.due(
        terms.price,
        terms.clause,
        quantity=Fraction(quantity),
        ratio=ratio,
        coverage=statements.coverage(start, end, *calendar),
    )
    total = money.issued(before, due.total)
    fixed = min(money.round_half_even(due.fixed), total)
    sequence = supersedes["sequence"] + 1 if supersedes is not None else 1
    statement_id = uuid.uuid4()
    payer, payee = agreement.beneficiary_id, agreement.provider_id
    transfer: credits.Transfer | None = None
    if terms.price.amount_unit is AmountUnit.TIME_CREDIT_MINUTES:
        moved_before = supersedes["total_amount"] - supersedes["shortfall"] if supersedes else 0
        rules = await rules_of(conn, agreement.territory_id, settings)
        transfer = await _plan_credits(
            conn, agreement, total - moved_before, rules.time_credit_floor_minutes
        )
    result_rows = [
        {
            "indicator": r.indicator.name,
            "target": r.indicator.target,
            "comparator": str(r.indicator.comparator),
            "tolerance": r.indicator.tolerance,
            "measured": money.text(r.measured) if r.measured is not None else None,
            "met": r.met,
        }
        for r in results
    ]
    await store.insert_evaluation(conn, agreement.id, start, end, sequence, result_rows, ratio, now)
    await store.insert_statement(
        conn,
        {
            "id": statement_id,
            "agreement_id": agreement.id,
            "territory_id": agreement.territory_id,
            "period_start": start,
            "period_end": end,
            "sequence": sequence,
            "supersedes": supersedes["id"] if supersedes is not None else None,
            "terms_version": terms.version,
            "price_model": str(terms.price.model),
            "amount_unit": str(terms.price.amount_unit),
            "quantity": quantity,
            "ratio": Decimal(ratio.numerator) / Decimal(ratio.denominator),
            "exact_numerator": due.total.numerator,
            "exact_denominator": due.total.denominator,
            "fixed_amount": fixed,
            "variable_amount": total - fixed,
            "total_amount": total,
            "shortfall": transfer.shortfall if transfer else 0,
            "payer_id": payer,
            "payee_id": payee,
            "issued_at": now,
        },
    )
    for movement in transfer.movements or () if transfer else ():
        await store.post_movement(
            conn,
            statement_id,
            movement.actor_id,
            movement.counterpart_id,
            movement.minutes,
            movement.balance_after,
            now,
        )
    refs = _refs(agreement)
    period = {"period_start": wall_clock(start), "period_end": wall_clock(end)}
    evaluated = events.PerformanceEvaluatedV1(
        **refs,
        **period,
        results=[events.IndicatorResult.model_validate(r) for r in result_rows],
        ratio=money.text(ratio),
    )
    issued = events.StatementIssuedV1(
        **refs,
        **period,
        statement_id=str(statement_id),
        sequence=sequence,
        supersedes=str(supersedes["id"]) if supersedes is not None else None,
        terms_version=terms.version,
        price_model=terms.price.model,
        amount_unit=terms.price.amount_unit,
        quantity=money.text(quantity),
        fixed_amount=fixed,
        variable_amount=total - fixed,
        total_amount=total,
        ratio=money.text(ratio),
        payer_id=str(payer),
        payee_id=str(payee),
        issued_at=now,
    )
    await _emit(conn, evaluated, agreement, ctx)
    await _emit(conn, issued, agreement, ctx)
    factor = await store.factor_for(conn, agreement.category, agreement.territory_id)
    rows = computed_rows(
        total=total,
        amount_unit=terms.price.amount_unit,
        quantity=quantity,
        unit=usage_unit(terms),
        factor=factor,
    )
    month = schedule.local(start).date().replace(day=1)
    await store.record_value(conn, agreement, start, month, rows, dict(UNITS), now)


async def _plan_credits(
    conn: Connection, agreement: Agreement, minutes: int, floor: int
) -> credits.Transfer:
    """What moves from the beneficiary to the provider (the other way for a correction
    downwards), the accounts locked; the movements are written once the statement is."""
    payer, payee = agreement.beneficiary_id, agreement.provider_id
    if minutes < 0:
        payer, payee, minutes = payee, payer, -minutes
    if minutes == 0:
        return credits.Transfer(None, 0, 0)
    balances = await store.lock_accounts(conn, agreement.territory_id, payer, payee)
    return credits.transfer(
        payer=payer,
        payee=payee,
        minutes=minutes,
        payer_balance=balances[payer],
        payee_balance=balances[payee],
        floor=floor,
    )


# --- usage ------------------------------------------------------------------------------------


async def report_usage(
    pool: asyncpg.Pool,
    agreement_id: UUID,
    body: dict[str, Any],
    principal: Principal,
    ctx: Context,
) -> usage.Report:
    async def run(conn: Connection) -> usage.Report:
        agreement, party = await acting(conn, agreement_id, principal)
        terms = await store.get_terms(conn, agreement.id, agreement.terms_version)
        corrects = None
        if body.get("corrects") is not None:
            corrects = await store.get_report(conn, agreement.id, body["corrects"], for_update=True)
            if corrects is None:
                raise NotFound("no such report to correct", field="corrects")
        entry = usage.report(
            agreement,
            terms,
            report_id=uuid.uuid4(),
            party=party,
            period_start=body["period_start"],
            period_end=body["period_end"],
            quantity=body["quantity"],
            measurements=body["measurements"],
            corrects=corrects,
            now=clock.now(),
        )
        await store.insert_report(conn, entry)
        await _emit(
            conn, events.UsageRecordedV1(**_usage_payload(agreement, terms, entry)), agreement, ctx
        )
        return entry

    return await in_transaction(pool, run)


def _usage_payload(agreement: Agreement, terms: Terms, entry: usage.Report) -> dict[str, Any]:
    return {
        **_refs(agreement),
        "report_id": str(entry.id),
        "reported_by": entry.reported_by,
        "period_start": wall_clock(entry.period_start),
        "period_end": wall_clock(entry.period_end),
        "quantity": money.text(entry.quantity),
        "unit": usage_unit(terms),
        "measurements": [
            events.Measurement(indicator=name, value=money.text(value))
            for name, value in entry.measurements.items()
        ],
        "status": entry.status,
        "corrects": str(entry.corrects) if entry.corrects else None,
    }


class UsageDecision(StrEnum):
    CONFIRM = "confirm"  # the other party
    DISPUTE = "dispute"  # the other party, with a reason
    WITHDRAW = "withdraw"  # its author


async def decide_usage(
    pool: asyncpg.Pool,
    agreement_id: UUID,
    report_id: UUID,
    decision: UsageDecision,
    reason: str,
    principal: Principal,
    ctx: Context,
    settings: AgreementsSettings,
) -> usage.Report:
    """Confirm, dispute (the other party) or withdraw (its author) a report."""

    async def run(conn: Connection) -> usage.Report:
        agreement, party = await acting(conn, agreement_id, principal)
        entry = await store.get_report(conn, agreement.id, report_id, for_update=True)
        if entry is None:
            raise NotFound("no such report")
        terms = await store.get_terms(conn, agreement.id, agreement.terms_version)
        now = clock.now()
        if decision is UsageDecision.WITHDRAW:
            withdrawn = usage.withdraw(entry, party, now=now)
            await store.update_report(conn, withdrawn)
            return withdrawn
        if decision is UsageDecision.DISPUTE:
            disputed = usage.dispute(entry, party, reason, now=now)
            await store.update_report(conn, disputed)
            payload = _usage_payload(agreement, terms, disputed)
            await _emit(
                conn,
                events.UsageDisputedV1(**payload, disputed_by=party, reason=reason),
                agreement,
                ctx,
            )
            return disputed
        confirmed = usage.confirm(entry, party, now=now)
        await store.update_report(conn, confirmed)
        payload = _usage_payload(agreement, terms, confirmed)
        await _emit(conn, events.UsageConfirmedV1(**payload, confirmed_by=party), agreement, ctx)
        closed = await store.statement_covering(conn, agreement.id, confirmed.period_start)
        if closed is not None:  # its period closed already: a correcting statement
            await _issue(
                conn,
                agreement,
                terms,
                closed["period_start"],
                closed["period_end"],
                ctx,
                settings=settings,
                supersedes=closed,
            )
        return confirmed

    return await in_transaction(pool, run)


async def list_usage(
    pool: asyncpg.Pool,
    agreement_id: UUID,
    principal: Principal,
    *,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[usage.Report]:
    async with pool.acquire() as conn:
        await readable(conn, agreement_id, principal)
        return await store.list_reports(conn, agreement_id, after=after, limit=limit)


async def list_statements(
    pool: asyncpg.Pool,
    agreement_id: UUID,
    principal: Principal,
    *,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        await readable(conn, agreement_id, principal)
        return await store.statements_of(conn, agreement_id, after=after, limit=limit)


async def list_evaluations(
    pool: asyncpg.Pool, agreement_id: UUID, principal: Principal
) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        await readable(conn, agreement_id, principal)
        return await store.evaluations_of(conn, agreement_id)
