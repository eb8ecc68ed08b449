"""Use cases of the governance service, each on one connection inside one transaction: the
state change, its audit entries and its events (outbox) commit together."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from contracts.actors import ActorState
from contracts.governance import (
    ApprovePublicAssetAgreement,
    ChangeColleges,
    ChangeTerritoryRules,
    Choice,
    CollegesChangedV1,
    CollegeTally,
    DecisionMadeV1,
    MemberCollegeChangedV1,
    Method,
    Outcome,
    ProposalClosedV1,
    ProposalKind,
    ProposalOpenedV1,
    TerritoryRulesChangedV1,
    VoteCastV1,
    subject_of,
)
from services.governance import store
from services.governance.domain import audit, ballots
from services.governance.domain.ballots import Draft
from services.governance.domain.tally import QuorumRule, Tally, as_text, tally_votes
from services.runtime import clock, scheduler
from services.runtime.context import Context
from services.runtime.db import Connection
from services.runtime.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.runtime.outbox import emit
from services.runtime.principal import Principal

CLOSE_JOB = "governance.close"
APPROVAL_PERIOD = timedelta(days=14)


def stamp(at: datetime) -> str:
    """A time as audit entries write it (UTC, microseconds: what PostgreSQL keeps)."""
    return at.astimezone(UTC).isoformat()


async def record(conn: Connection, territory_id: UUID, content: dict[str, Any]) -> audit.Entry:
    """Append an entry to the territory's chain (waiting for the appends before it)."""
    return await store.audit_append(conn, territory_id, audit.canonical(content))


# --- membership -----------------------------------------------------------------------------------


async def apply_actor(conn: Connection, state: ActorState) -> None:
    """An actor's newest state: an admitted actor votes in its kind's college (or the one a
    facilitator gave it); a suspended one keeps its place but does not vote."""
    await store.upsert_member(
        conn,
        {
            "actor_id": UUID(state.actor_id),
            "territory_id": UUID(state.territory_id),
            "kind": str(state.kind),
            "college": ballots.college_of(state.kind),
            "assigned": False,
            "status": str(state.status),
            "version": state.version,
        },
    )


async def assign_college(
    conn: Connection,
    territory_id: UUID,
    actor_id: UUID,
    college: str,
    principal: Principal,
    ctx: Context,
) -> None:
    if not principal.facilitates(str(territory_id)):
        raise Forbidden("seule l'équipe d'animation du territoire change le collège d'un membre")
    member = await store.get_member(conn, actor_id)
    if member is None or member["territory_id"] != territory_id:
        raise NotFound("aucun membre de ce territoire ne porte cet identifiant")
    await store.assign_college(conn, actor_id, college)
    await emit(
        conn,
        MemberCollegeChangedV1(
            territory_id=str(territory_id),
            actor_id=str(actor_id),
            college=ballots.college_of(college),
            changed_by=principal.actor_id,
        ),
        subject=actor_id,
        territory=territory_id,
        ctx=ctx,
    )


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


# --- proposals ------------------------------------------------------------------------------------


async def open_proposal(
    conn: Connection,
    territory_id: UUID,
    draft: Draft,
    opened_by: Principal | None,
    ctx: Context,
) -> UUID | None:
    """Open a proposal with its electorate and weights frozen; schedule its closing. Returns
    None when an approval proposal for the same agreement exists already."""
    if opened_by is not None and not opened_by.facilitates(str(territory_id)):
        raise Forbidden("seule l'équipe d'animation du territoire ouvre une proposition")
    now = clock.now()
    opens_at = draft.opens_at or now
    ballots.check_window(opens_at, draft.closes_at, now)
    payload = ballots.parse_payload(draft.kind, draft.parameters)
    if draft.kind is ProposalKind.ADMIT_ACTOR:
        actor_id = _uuid(draft.parameters["actor_id"])
        actor = await store.get_member(conn, actor_id) if actor_id else None
        if actor is None or actor["territory_id"] != territory_id or actor["status"] != "pending":
            raise InvalidInput(
                "aucun acteur en attente d'admission dans ce territoire ne porte cet identifiant",
                field="parameters.actor_id",
            )
    settings = await store.territory(conn, territory_id)
    proposal_id = uuid.uuid4()
    parameters = payload.model_dump(mode="json", exclude_none=True)
    subject = subject_of(draft.kind, payload)
    inserted = await store.insert_proposal(
        conn,
        {
            "id": proposal_id,
            "territory_id": territory_id,
            "kind": str(draft.kind),
            "title": draft.title,
            "description": draft.description,
            "method": str(draft.method),
            "secret": draft.secret,
            "parameters": parameters,
            "subject_id": subject,
            "weights": settings["weights"],
            "rules": settings["rules"],
            "opened_by": UUID(opened_by.actor_id) if opened_by else None,
            "opens_at": opens_at,
            "closes_at": draft.closes_at,
        },
    )
    if not inserted:
        return None
    size = await store.freeze_electorate(conn, proposal_id, territory_id)
    rules = settings["rules"]
    await record(
        conn,
        territory_id,
        {
            "type": "proposal_opened",
            "proposal_id": str(proposal_id),
            "kind": str(draft.kind),
            "method": str(draft.method),
            "secret": draft.secret,
            "parameters": parameters,
            "weights": settings["weights"],
            "quorum": {
                "college_quorum_percent": rules["college_quorum_percent"],
                "quorum_weight_percent": rules["quorum_weight_percent"],
            },
            "electorate": await store.electorate_sizes(conn, proposal_id),
            "opens_at": stamp(opens_at),
            "closes_at": stamp(draft.closes_at),
            "at": stamp(now),
        },
    )
    await emit(
        conn,
        ProposalOpenedV1(
            proposal_id=str(proposal_id),
            territory_id=str(territory_id),
            kind=draft.kind,
            title=draft.title,
            method=draft.method,
            secret=draft.secret,
            subject_id=subject,
            parameters=parameters,
            opens_at=opens_at,
            closes_at=draft.closes_at,
            college_weights=settings["weights"],
            electorate_size=size,
            opened_by=opened_by.actor_id if opened_by else None,
        ),
        subject=proposal_id,
        territory=territory_id,
        ctx=ctx,
    )
    await scheduler.schedule(conn, CLOSE_JOB, str(proposal_id), draft.closes_at)
    return proposal_id


def own_territory(principal: Principal, territory_id: UUID) -> UUID:
    """A territory's colleges, rules and audit are its members' only."""
    if not principal.sees(territory_id):
        raise Forbidden("vous ne voyez que votre territoire", field="territory_id")
    return territory_id


async def visible_proposal(
    conn: Connection, proposal_id: UUID, principal: Principal, *, lock: str = ""
) -> asyncpg.Record:
    proposal = await store.get_proposal(conn, proposal_id, lock=lock)
    if proposal is None:
        raise NotFound("aucune proposition ne porte cet identifiant")
    if not principal.sees(proposal["territory_id"]):
        raise Forbidden("cette proposition relève d'un autre territoire")
    return proposal


# --- votes ----------------------------------------------------------------------------------------


async def cast_vote(
    conn: Connection, proposal_id: UUID, principal: Principal, choice: Choice, ctx: Context
) -> dict[str, Any]:
    """Cast or change the caller's vote; returns it with its receipt (its entry's hash)."""
    # Shared lock: votes go on together, a closing waits for them (and they for it).
    proposal = await visible_proposal(conn, proposal_id, principal, lock="FOR SHARE")
    voter_id = UUID(principal.actor_id)
    place = await store.elector(conn, proposal_id, voter_id)
    now = clock.now()
    ballots.check_vote(
        method=Method(proposal["method"]),
        choice=choice,
        status=proposal["status"],
        opens_at=proposal["opens_at"],
        closes_at=proposal["closes_at"],
        in_electorate=place is not None,
        voter_status=place["status"] if place else None,
        now=now,
    )
    assert place is not None
    await store.retire_current(conn, proposal_id, voter_id)
    secret = proposal["secret"]
    salt = secrets.token_bytes(16) if secret else None
    territory_id = proposal["territory_id"]
    vote: dict[str, Any] = {
        "proposal_id": proposal_id,
        "voter_id": voter_id,
        "college": place["college"],
        "choice": str(choice),
        "cast_at": now,
        "current": True,
        "salt": salt,
    }
    content = audit.vote_content(
        proposal_id=str(proposal_id),
        voter_id=str(voter_id),
        college=place["college"],
        choice=str(choice),
        at=stamp(now),
        secret=secret,
        salt=salt,
    )
    entry = await store.audit_append(conn, territory_id, audit.canonical(content), vote)
    vote.update(audit_seq=entry.seq, receipt=entry.hash)
    await emit(
        conn,
        VoteCastV1(
            proposal_id=str(proposal_id),
            territory_id=str(territory_id),
            voter_id=None if secret else str(voter_id),
            choice=None if secret else choice,
            receipt=entry.hash,
            cast_at=now,
        ),
        subject=proposal_id,
        territory=territory_id,
        ctx=ctx,
    )
    return vote


# --- closing --------------------------------------------------------------------------------------


async def tally_of(conn: Connection, proposal: asyncpg.Record) -> Tally:
    """The tally of the proposal's current votes, recomputed from the stored rows."""
    rules = proposal["rules"]
    electorate, votes = await store.counts(conn, proposal["id"])
    return tally_votes(
        Method(proposal["method"]),
        proposal["weights"],
        electorate,
        {(college, Choice(choice)): n for (college, choice), n in votes.items()},
        QuorumRule(rules["college_quorum_percent"], rules["quorum_weight_percent"]),
    )


def tally_json(tally: Tally) -> dict[str, Any]:
    return {
        "outcome": str(tally.outcome),
        "reason": tally.reason,
        "result": as_text(tally.result),
        "colleges": [college_tally(c).model_dump() for c in tally.colleges],
    }


def college_tally(c: Any) -> CollegeTally:
    return CollegeTally(
        college=c.college,
        weight=c.weight,
        electorate=c.electorate,
        yes=c.yes,
        no=c.no,
        abstain=c.abstain,
        objection=c.objection,
        quorum_reached=c.quorum_reached,
        result=as_text(c.result),
    )


async def close_proposal(
    conn: Connection, proposal_id: UUID, ctx: Context, *, early_by: Principal | None = None
) -> bool:
    """Close the proposal, tally it and publish the decision. Early, only by a facilitator of
    its territory once every member of its electorate has voted. Returns False when it was
    closed already (a second run of the closing job changes nothing)."""
    proposal = await store.get_proposal(conn, proposal_id, lock="FOR UPDATE")
    if proposal is None:
        raise NotFound("aucune proposition ne porte cet identifiant")
    territory_id = proposal["territory_id"]
    now = clock.now()
    if early_by is not None:
        if not early_by.sees(territory_id):
            raise Forbidden("cette proposition relève d'un autre territoire")
        if not early_by.facilitates(str(territory_id)):
            raise Forbidden("seule l'équipe d'animation clôt une proposition avant l'heure")
        if proposal["status"] == "closed":
            raise Conflict("la proposition est déjà close", field="proposal")
        voted, size = await store.turnout(conn, proposal_id)
        if voted < size:
            raise Conflict(
                f"{size - voted} membre(s) n'ont pas encore voté : clôture anticipée impossible",
                field="proposal",
            )
        await scheduler.cancel(conn, CLOSE_JOB, str(proposal_id))
    elif proposal["status"] == "closed":
        return False
    elif now < proposal["closes_at"]:  # the clocks disagree by a little: come back then
        await scheduler.schedule(conn, CLOSE_JOB, str(proposal_id), proposal["closes_at"])
        return False
    tally = await tally_of(conn, proposal)
    decision_id = uuid.uuid4()
    summary = tally_json(tally)
    await store.close(
        conn,
        proposal_id,
        {
            "closed_at": now,
            "closed_early": early_by is not None,
            "outcome": str(tally.outcome),
            "tally": summary,
            "decision_id": decision_id,
        },
    )
    kind = ProposalKind(proposal["kind"])
    await record(
        conn,
        territory_id,
        {
            "type": "proposal_closed",
            "proposal_id": str(proposal_id),
            "tally": summary,
            "at": stamp(now),
        },
    )
    await record(
        conn,
        territory_id,
        {
            "type": "decision_made",
            "proposal_id": str(proposal_id),
            "decision_id": str(decision_id),
            "kind": str(kind),
            "outcome": str(tally.outcome),
            "at": stamp(now),
        },
    )
    await emit(
        conn,
        ProposalClosedV1(
            proposal_id=str(proposal_id),
            territory_id=str(territory_id),
            outcome=tally.outcome,
            reason=tally.reason,
            result=as_text(tally.result),
            colleges=[college_tally(c) for c in tally.colleges],
            closed_at=now,
            closed_early=early_by is not None,
        ),
        subject=proposal_id,
        territory=territory_id,
        ctx=ctx,
    )
    await emit(
        conn,
        DecisionMadeV1(
            decision_id=str(decision_id),
            proposal_id=str(proposal_id),
            territory_id=str(territory_id),
            kind=kind,
            outcome=tally.outcome,
            subject_id=proposal["subject_id"],
            parameters=proposal["parameters"],
            decided_at=now,
        ),
        subject=proposal_id,
        territory=territory_id,
        ctx=ctx,
    )
    if tally.outcome is Outcome.ADOPTED:
        await apply_own_decision(conn, kind, proposal, str(decision_id), ctx)
    return True


async def apply_own_decision(
    conn: Connection, kind: ProposalKind, proposal: asyncpg.Record, decision_id: str, ctx: Context
) -> None:
    """The decisions governance applies itself: its colleges and its rules."""
    territory_id = proposal["territory_id"]
    if kind is ProposalKind.CHANGE_COLLEGES:
        weights = ChangeColleges.model_validate(proposal["parameters"]).weights
        await store.territory(conn, territory_id, lock=True)
        plain = {str(college): weight for college, weight in weights.items()}
        version = await store.set_weights(conn, territory_id, plain)
        await emit(
            conn,
            CollegesChangedV1(
                territory_id=str(territory_id),
                weights=plain,
                version=version,
                decision_id=decision_id,
            ),
            subject=territory_id,
            territory=territory_id,
            ctx=ctx,
        )
    elif kind is ProposalKind.CHANGE_TERRITORY_RULES:
        change = ChangeTerritoryRules.model_validate(proposal["parameters"])
        current = await store.territory(conn, territory_id, lock=True)
        rules = {**current["rules"], **change.model_dump(exclude_none=True)}
        version = await store.set_rules(conn, territory_id, rules)
        await emit(
            conn,
            TerritoryRulesChangedV1(
                territory_id=str(territory_id), version=version, decision_id=decision_id, **rules
            ),
            subject=territory_id,
            territory=territory_id,
            ctx=ctx,
        )


async def close_when_due(conn: Connection, job: scheduler.Job, ctx: Context) -> None:
    """The closing job, at the proposal's closing time (or at start, when that time passed
    while the service was down)."""
    await close_proposal(conn, UUID(job.key), ctx)


CLOSING = scheduler.JobKind(CLOSE_JOB, close_when_due)


# --- agreements -----------------------------------------------------------------------------------


async def open_approval(
    conn: Connection, territory_id: UUID, agreement_id: str, *, awaited: bool, ctx: Context
) -> UUID | None:
    """Open the approval of an agreement on a public asset when the territory's rule asks for
    it, or when agreements already waits for one (once per agreement, however often the event
    comes). Opened by the platform, by majority, for two weeks."""
    settings = await store.territory(conn, territory_id)
    if not (awaited or settings["rules"]["public_asset_agreements_need_approval"]):
        return None
    draft = Draft(
        kind=ProposalKind.APPROVE_PUBLIC_ASSET_AGREEMENT,
        title="Approuver la convention d'usage d'un bien public",
        description=f"Convention {agreement_id} : l'usage d'un bien public est soumis au vote.",
        method=Method.MAJORITY,
        secret=False,
        parameters=ApprovePublicAssetAgreement(agreement_id=agreement_id).model_dump(),
        opens_at=None,
        closes_at=clock.now() + APPROVAL_PERIOD,
    )
    return await open_proposal(conn, territory_id, draft, None, ctx)
