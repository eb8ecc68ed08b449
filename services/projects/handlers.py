"""Use cases of the projects service, each on one connection inside one transaction: the state
change and its events (outbox) commit together."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import asyncpg

from contracts.agreements import AgreementActivatedV1
from contracts.governance import DecisionMadeV1
from contracts.needs import NeedState
from contracts.projects import (
    ContributionFulfilledV1,
    ContributionKind,
    ContributionPledgedV1,
    IdeasGroupedV1,
    IdeaSubmittedV1,
    IdeaSupportedV1,
    ProjectCreatedV1,
    ProjectEvaluatedV1,
    ProjectStageChangedV1,
    Stage,
    Theme,
    TrialIndicator,
    VisionAdoptedV1,
)
from services.projects import store
from services.projects.domain import contributions, stages
from services.projects.requests import (
    EvaluationIn,
    IdeaIn,
    PledgeIn,
    ProjectIn,
    VisionIn,
)
from services.runtime import clock
from services.runtime.context import Context
from services.runtime.db import Connection
from services.runtime.errors import Conflict, Forbidden, InvalidInput, NotFound, NotYet
from services.runtime.outbox import emit
from services.runtime.principal import Principal

TRIAL_REASON = "retenu pour l'essai par le vote du territoire"


def _uuid(value: str | None) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None


def territory_of(principal: Principal) -> UUID:
    return UUID(principal.territory_id)


def _facilitator(principal: Principal, what: str) -> None:
    if not principal.facilitates(principal.territory_id):
        raise Forbidden(f"seule l'équipe d'animation du territoire {what}")


async def _linked_vision(conn: Connection, vision_id: UUID | None, territory: UUID) -> UUID | None:
    """The vision an idea or a project links to: one the territory adopted (the current one or
    a past one), never a draft; none named: the current one, if the territory adopted any."""
    if vision_id is None:
        current = await store.current_vision(conn, territory)
        return current["id"] if current is not None else None
    vision = await store.get_vision(conn, vision_id)
    if vision is None or vision["territory_id"] != territory:
        raise InvalidInput(
            "aucune vision de ce territoire ne porte cet identifiant", field="vision_id"
        )
    if vision["adopted_at"] is None:
        raise InvalidInput(
            "cette vision n'est qu'un projet : seule une vision adoptée par le territoire "
            "peut être liée",
            field="vision_id",
        )
    return vision_id


# --- the vision ---------------------------------------------------------------------------------


async def draft_vision(conn: Connection, body: VisionIn, principal: Principal) -> UUID:
    """A facilitator drafts the vision that a `free_motion` naming it adopts."""
    _facilitator(principal, "rédige la vision du territoire")
    vision_id = uuid.uuid4()
    await store.insert_vision(
        conn,
        {
            "id": vision_id,
            "territory_id": territory_of(principal),
            "title": body.title,
            "text": body.text,
            "themes": [str(theme) for theme in body.themes],
            "aims": list(body.aims),
            "drafted_by": UUID(principal.actor_id),
            "created_at": clock.now(),
        },
    )
    return vision_id


async def adopt_vision(conn: Connection, decision: DecisionMadeV1, ctx: Context) -> None:
    """An adopted `free_motion` naming a draft of its territory makes it the shared vision."""
    vision_id = _uuid(decision.parameters.get("vision_id"))
    vision = await store.get_vision(conn, vision_id) if vision_id else None
    if vision is None or str(vision["territory_id"]) != decision.territory_id:
        return
    if vision["adopted_at"] is not None:
        return
    await store.adopt_vision(conn, vision["id"], UUID(decision.decision_id), decision.decided_at)
    await emit(
        conn,
        VisionAdoptedV1(
            vision_id=str(vision["id"]),
            territory_id=decision.territory_id,
            title=vision["title"],
            themes=[Theme(theme) for theme in vision["themes"]],
            aims=list(vision["aims"]),
            decision_id=decision.decision_id,
            adopted_at=decision.decided_at,
        ),
        subject=vision["id"],
        territory=decision.territory_id,
        ctx=ctx,
    )


# --- ideas --------------------------------------------------------------------------------------


async def submit_idea(conn: Connection, body: IdeaIn, principal: Principal, ctx: Context) -> UUID:
    territory = territory_of(principal)
    vision_id = await _linked_vision(conn, body.vision_id, territory)
    idea_id = uuid.uuid4()
    await store.insert_idea(
        conn,
        {
            "id": idea_id,
            "territory_id": territory,
            "title": body.title,
            "description": body.description,
            "theme": str(body.theme),
            "session": body.session,
            "vision_id": vision_id,
            "submitted_by": UUID(principal.actor_id),
            "created_at": clock.now(),
        },
    )
    await emit(
        conn,
        IdeaSubmittedV1(
            idea_id=str(idea_id),
            territory_id=str(territory),
            title=body.title,
            theme=body.theme,
            session=body.session,
            vision_id=str(vision_id) if vision_id else None,
            submitted_by=principal.actor_id,
        ),
        subject=idea_id,
        territory=territory,
        ctx=ctx,
    )
    return idea_id


async def visible_idea(conn: Connection, idea_id: UUID, principal: Principal) -> asyncpg.Record:
    idea = await store.get_idea(conn, idea_id)
    if idea is None or not principal.sees(idea["territory_id"]):
        raise NotFound("aucune idée de votre territoire ne porte cet identifiant")
    return idea


async def support_idea(conn: Connection, idea_id: UUID, principal: Principal, ctx: Context) -> None:
    """One support per actor and idea; a grouped duplicate is supported through the idea kept."""
    idea = await visible_idea(conn, idea_id, principal)
    if idea["grouped_into"] is not None:
        raise Conflict(
            f"cette idée est regroupée dans l'idée {idea['grouped_into']} : soutenez celle-ci",
            field="idea_id",
        )
    if not await store.add_support(conn, idea_id, UUID(principal.actor_id), clock.now()):
        raise Conflict("vous soutenez déjà cette idée", field="idea_id")
    await emit(
        conn,
        IdeaSupportedV1(
            idea_id=str(idea_id),
            territory_id=str(idea["territory_id"]),
            supporter_id=principal.actor_id,
            supports=await store.support_count(conn, idea_id),
        ),
        subject=idea_id,
        territory=idea["territory_id"],
        ctx=ctx,
    )


async def group_ideas(
    conn: Connection, idea_id: UUID, duplicates: list[UUID], principal: Principal, ctx: Context
) -> None:
    """A facilitator groups duplicates into one idea."""
    _facilitator(principal, "regroupe les idées en doublon")
    if idea_id in duplicates:
        raise InvalidInput("une idée n'est pas son propre doublon", field="duplicate_ids")
    territory = territory_of(principal)
    ideas = {row["id"]: row for row in await store.lock_ideas(conn, [idea_id, *duplicates])}
    for wanted, field in [(idea_id, "idea_id"), *((d, "duplicate_ids") for d in duplicates)]:
        found = ideas.get(wanted)
        if found is None or found["territory_id"] != territory:
            raise NotFound(f"aucune idée de votre territoire ne porte l'identifiant {wanted}")
        if found["grouped_into"] is not None:
            raise Conflict(f"l'idée {wanted} est déjà regroupée", field=field)
    await store.group_ideas(conn, idea_id, duplicates)
    await emit(
        conn,
        IdeasGroupedV1(
            idea_id=str(idea_id),
            territory_id=str(territory),
            duplicate_ids=[str(d) for d in duplicates],
            grouped_by=principal.actor_id,
            supports=await store.support_count(conn, idea_id),
        ),
        subject=idea_id,
        territory=territory,
        ctx=ctx,
    )


# --- projects -----------------------------------------------------------------------------------


async def create_project(
    conn: Connection, body: ProjectIn, principal: Principal, ctx: Context
) -> UUID:
    """A member starts a project (carried by itself and the members it names) from ideas."""
    territory = territory_of(principal)
    me = UUID(principal.actor_id)
    carriers = sorted({me, *body.carrier_ids})
    known = await store.active_members(conn, territory, carriers)
    missing = [str(c) for c in carriers if c not in known]
    if missing:
        raise InvalidInput(
            "un porteur doit être membre admis du territoire : " + ", ".join(missing),
            field="carrier_ids",
        )
    ideas = sorted(set(body.idea_ids))
    rows = {row["id"]: row for row in await store.lock_ideas(conn, ideas)} if ideas else {}
    for idea in ideas:
        if idea not in rows or rows[idea]["territory_id"] != territory:
            raise InvalidInput(
                f"aucune idée de votre territoire n'a l'identifiant {idea}", field="idea_ids"
            )
        if rows[idea]["grouped_into"] is not None:
            raise Conflict(
                f"l'idée {idea} a été regroupée dans l'idée {rows[idea]['grouped_into']} : "
                "liez plutôt celle-ci",
                field="idea_ids",
            )
    vision_id = await _linked_vision(conn, body.vision_id, territory)
    project_id = uuid.uuid4()
    now = clock.now()
    await store.insert_project(
        conn,
        {
            "id": project_id,
            "territory_id": territory,
            "title": body.title,
            "description": body.description,
            "theme": str(body.theme),
            "vision_id": vision_id,
            "stage": str(Stage.IDEA),
            "created_by": me,
            "created_at": now,
            "updated_at": now,
        },
        carriers,
        ideas,
    )
    await emit(
        conn,
        ProjectCreatedV1(
            project_id=str(project_id),
            territory_id=str(territory),
            title=body.title,
            theme=body.theme,
            carrier_ids=[str(c) for c in carriers],
            idea_ids=[str(i) for i in ideas],
            vision_id=str(vision_id) if vision_id else None,
            stage=Stage.IDEA,
            created_by=principal.actor_id,
        ),
        subject=project_id,
        territory=territory,
        ctx=ctx,
    )
    return project_id


async def visible_project(
    conn: Connection, project_id: UUID, principal: Principal, *, lock: bool = False
) -> asyncpg.Record:
    project = await store.get_project(conn, project_id, lock=lock)
    if project is None or not principal.sees(project["territory_id"]):
        raise NotFound("aucun projet de votre territoire ne porte cet identifiant")
    return project


async def may_move(conn: Connection, project: asyncpg.Record, principal: Principal) -> bool:
    """The project's carriers and the territory's facilitators act on it."""
    if principal.facilitates(str(project["territory_id"])):
        return True
    return UUID(principal.actor_id) in await store.carriers_of(conn, project["id"])


async def _move(
    conn: Connection,
    project: asyncpg.Record,
    target: Stage,
    ctx: Context,
    *,
    reason: str,
    by: str | None,
    decision_id: str | None = None,
) -> None:
    now = clock.now()
    await store.move(
        conn,
        project["id"],
        {
            "from_stage": project["stage"],
            "to_stage": str(target),
            "changed_by": _uuid(by),
            "decision_id": _uuid(decision_id),
            "reason": reason,
            "changed_at": now,
        },
    )
    await emit(
        conn,
        ProjectStageChangedV1(
            project_id=str(project["id"]),
            territory_id=str(project["territory_id"]),
            from_stage=Stage(project["stage"]),
            to_stage=target,
            changed_by=by,
            decision_id=decision_id,
            reason=reason,
            changed_at=now,
        ),
        subject=project["id"],
        territory=project["territory_id"],
        ctx=ctx,
    )


async def move_stage(
    conn: Connection,
    project_id: UUID,
    target: Stage,
    reason: str,
    principal: Principal,
    ctx: Context,
) -> None:
    project = await visible_project(conn, project_id, principal, lock=True)
    stages.check_move(
        Stage(project["stage"]),
        target,
        may_move=await may_move(conn, project, principal),
        evaluated=await store.evaluation_of(conn, project_id) is not None,
    )
    await _move(conn, project, target, ctx, reason=reason, by=principal.actor_id)


async def select_for_trial(conn: Connection, decision: DecisionMadeV1, ctx: Context) -> None:
    """An adopted `select_for_trial` moves its prepared projects of the territory to trial;
    the others (another territory, another stage, unknown here) stay as they are."""
    for selected in decision.parameters.get("selected_ids", []):
        project_id = _uuid(selected)
        project = await store.get_project(conn, project_id, lock=True) if project_id else None
        if project is None or str(project["territory_id"]) != decision.territory_id:
            continue
        if Stage(project["stage"]) not in stages.TO_TRIAL_FROM:
            continue
        await _move(
            conn,
            project,
            Stage.TRIAL,
            ctx,
            reason=TRIAL_REASON,
            by=None,
            decision_id=decision.decision_id,
        )


# --- needs --------------------------------------------------------------------------------------


async def apply_need(conn: Connection, need: NeedState) -> None:
    """Keep a need opened for a project by one of its carriers; others name it in vain."""
    project_id = _uuid(need.project_id)
    if project_id is None:
        return
    project = await store.get_project(conn, project_id)
    if project is None or str(project["territory_id"]) != need.territory_id:
        return
    if _uuid(need.requester_id) not in await store.carriers_of(conn, project_id):
        return
    await store.upsert_need(
        conn,
        {
            "need_id": UUID(need.need_id),
            "project_id": project_id,
            "title": need.title,
            "category": need.category,
            "quantity": need.quantity,
            "unit": str(need.unit),
            "status": str(need.status),
            "version": need.version,
        },
    )


async def agreement_activated(
    conn: Connection, agreement: AgreementActivatedV1, ctx: Context
) -> None:
    """The agreement of a project's need activated: the provider's pledges on it are fulfilled.

    The activation may overtake the need's own event (another topic): when the agreement says it
    serves a project, wait for the need; an agreement of no project concerns no pledge."""
    need = await store.get_need(conn, UUID(agreement.need_id))
    if need is None:
        if agreement.project_id is not None:
            raise NotYet(f"need {agreement.need_id} of project {agreement.project_id}")
        return
    agreement_id = UUID(agreement.agreement_id)
    await store.serve_need(conn, need["need_id"], agreement_id)
    provider = UUID(agreement.provider_id)
    for pledge in await store.pledges_on_need(conn, need["need_id"], provider):
        await _fulfil(conn, pledge, agreement.territory_id, ctx, agreement_id=agreement_id)


# --- pledges ------------------------------------------------------------------------------------


async def pledge(
    conn: Connection, project_id: UUID, body: PledgeIn, principal: Principal, ctx: Context
) -> UUID:
    """A member of the territory pledges a contribution, optionally to one of the project's
    needs."""
    project = await visible_project(conn, project_id, principal)
    stages.check_open(Stage(project["stage"]), "contributions")
    unit = contributions.unit_of(body.kind, body.amount, body.unit)
    if body.need_id is not None:
        need = await store.get_need(conn, body.need_id)
        if need is None or need["project_id"] != project_id:
            raise InvalidInput("ce besoin n'est pas un besoin du projet", field="need_id")
    pledge_id = uuid.uuid4()
    await store.insert_pledge(
        conn,
        {
            "id": pledge_id,
            "project_id": project_id,
            "contributor_id": UUID(principal.actor_id),
            "kind": str(body.kind),
            "amount": body.amount,
            "unit": unit,
            "need_id": body.need_id,
            "note": body.note,
            "status": "pledged",
            "created_at": clock.now(),
        },
    )
    await emit(
        conn,
        ContributionPledgedV1(
            pledge_id=str(pledge_id),
            project_id=str(project_id),
            territory_id=str(project["territory_id"]),
            contributor_id=principal.actor_id,
            kind=body.kind,
            amount=body.amount,
            unit=unit,
            need_id=str(body.need_id) if body.need_id else None,
        ),
        subject=project_id,
        territory=project["territory_id"],
        ctx=ctx,
    )
    return pledge_id


async def _fulfil(
    conn: Connection,
    pledge: asyncpg.Record,
    territory_id: Any,
    ctx: Context,
    *,
    agreement_id: UUID | None = None,
    confirmed_by: str | None = None,
) -> None:
    await store.fulfil(
        conn,
        pledge["id"],
        clock.now(),
        agreement_id=agreement_id,
        confirmed_by=_uuid(confirmed_by),
    )
    await emit(
        conn,
        ContributionFulfilledV1(
            pledge_id=str(pledge["id"]),
            project_id=str(pledge["project_id"]),
            territory_id=str(territory_id),
            contributor_id=str(pledge["contributor_id"]),
            kind=ContributionKind(pledge["kind"]),
            amount=pledge["amount"],
            unit=pledge["unit"],
            agreement_id=str(agreement_id) if agreement_id else None,
            confirmed_by=confirmed_by,
        ),
        subject=pledge["project_id"],
        territory=territory_id,
        ctx=ctx,
    )


async def confirm_pledge(
    conn: Connection, project_id: UUID, pledge_id: UUID, principal: Principal, ctx: Context
) -> None:
    """A carrier (or a facilitator) confirms a contribution was made."""
    project = await visible_project(conn, project_id, principal)
    found = await store.get_pledge(conn, pledge_id)
    if found is None or found["project_id"] != project_id:
        raise NotFound("aucune promesse de ce projet ne porte cet identifiant")
    if not await may_move(conn, project, principal):
        raise Forbidden("seuls les porteurs du projet confirment une contribution")
    if found["status"] != "pledged":
        raise Conflict("cette contribution est déjà confirmée", field="status")
    await _fulfil(conn, found, project["territory_id"], ctx, confirmed_by=principal.actor_id)


# --- evaluation ---------------------------------------------------------------------------------


async def evaluate(
    conn: Connection, project_id: UUID, body: EvaluationIn, principal: Principal, ctx: Context
) -> None:
    """The carriers (or a facilitator) evaluate the trial: the project becomes `evaluated`, its
    figures go to the territory's impact ledger, tagged with it."""
    project = await visible_project(conn, project_id, principal, lock=True)
    if not await may_move(conn, project, principal):
        raise Forbidden("seuls les porteurs du projet ou l'équipe d'animation évaluent l'essai")
    stages.check_evaluable(Stage(project["stage"]))
    now = clock.now()
    evaluation_id = uuid.uuid4()
    await store.insert_evaluation(
        conn,
        {
            "id": evaluation_id,
            "project_id": project_id,
            "indicators": [i.model_dump(mode="json") for i in body.indicators],
            "jobs_created": body.jobs_created,
            "jobs_consolidated": body.jobs_consolidated,
            "people_served": body.people_served,
            "value_created_cents": body.value_created_cents,
            "evaluated_by": UUID(principal.actor_id),
            "evaluated_at": now,
        },
    )
    await _move(conn, project, Stage.EVALUATED, ctx, reason=body.summary, by=principal.actor_id)
    await emit(
        conn,
        ProjectEvaluatedV1(
            evaluation_id=str(evaluation_id),
            project_id=str(project_id),
            territory_id=str(project["territory_id"]),
            theme=Theme(project["theme"]),
            indicators=[TrialIndicator.model_validate(i.model_dump()) for i in body.indicators],
            jobs_created=body.jobs_created,
            jobs_consolidated=body.jobs_consolidated,
            people_served=body.people_served,
            value_created_cents=body.value_created_cents,
            agreement_ids=[str(a) for a in await store.agreements_of(conn, project_id)],
            evaluated_by=principal.actor_id,
            evaluated_at=now,
        ),
        subject=project_id,
        territory=project["territory_id"],
        ctx=ctx,
    )
