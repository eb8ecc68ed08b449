"""Projets du territoire: the shared vision first, the ideas to support, the projects by stage
with what each still needs, and pledging a contribution to one."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import Response

from contracts.projects import FINAL_STAGES
from services.portal.forms import Form, field_errors, listed, number, text
from services.portal.proposal_forms import filled
from services.portal.upstream import ApiError
from services.portal.web import Visit, VisitDep

router = APIRouter()

STAGES = ("idea", "prepared", "trial", "evaluated", "harvested")
OPEN_STAGES = frozenset({"idea", "prepared", "trial", "evaluated"})
THEMES = ("tourism", "agriculture_wood", "shops_services", "environment", "entrepreneurship",
          "other")  # fmt: skip
KINDS = ("time", "skill", "money", "asset")
# The moves a project's carriers make by hand (the projects API's rules, repeated only to offer
# them): the trial is decided by a vote, `evaluated` comes with the evaluation.
BY_HAND: dict[str, tuple[str, ...]] = {
    "idea": ("prepared", "dropped"),
    "prepared": ("idea", "dropped"),
    "trial": ("dropped",),
    "evaluated": ("harvested", "dropped"),
}
DETAILS_AT_ONCE = 8
INDICATOR_ROWS = 3  # rows of indicators on the evaluation form (no JavaScript to add one)


def theme_labels(visit: Visit) -> dict[str, str]:
    _ = visit.words.gettext
    return {
        "tourism": _("Tourisme"),
        "agriculture_wood": _("Agriculture et bois"),
        "shops_services": _("Commerces et services"),
        "environment": _("Environnement"),
        "entrepreneurship": _("Entrepreneuriat"),
        "other": _("Autre"),
    }


def stage_labels(visit: Visit) -> dict[str, str]:
    _ = visit.words.gettext
    return {
        "idea": _("Idées à préparer"),
        "prepared": _("Prêts pour l'essai"),
        "trial": _("À l'essai"),
        "evaluated": _("Évalués"),
        "harvested": _("Récoltés"),
        "dropped": _("Abandonnés"),
    }


def kind_labels(visit: Visit) -> dict[str, str]:
    _ = visit.words.gettext
    return {
        "time": _("Du temps (heures)"),
        "skill": _("Une compétence (heures)"),
        "money": _("De l'argent (euros)"),
        "asset": _("L'usage d'un bien"),
    }


def move_labels(visit: Visit) -> dict[str, str]:
    _ = visit.words.gettext
    return {
        "idea": _("Revenir à l'étape d'idée"),
        "prepared": _("Prêt pour l'essai"),
        "harvested": _("Récolté"),
        "dropped": _("Abandonné"),
    }


def may_act(visit: Visit, project: dict[str, Any]) -> bool:
    """Its carriers and the territory's facilitators act on a project (the API decides; the
    page only hides what would be refused)."""
    session = visit.session
    return session.is_facilitator or session.actor_id in [str(c) for c in project["carrier_ids"]]


def moves_of(project: dict[str, Any]) -> list[str]:
    """The stages a project may be moved to by hand: the API's rules, for display only. The
    trial is decided by a vote, the evaluation made by its form; no harvest without it."""
    moves = list(BY_HAND.get(project["stage"], ()))
    if project.get("evaluation") is None and "harvested" in moves:
        moves.remove("harvested")
    return moves


async def _vision(visit: Visit) -> dict[str, Any] | None:
    try:
        vision: dict[str, Any] = await visit.api("projects", "GET", "/v1/visions/current")
    except ApiError as error:
        if error.status != 404:
            raise
        return None
    return vision


async def _page(
    visit: Visit,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: Any = None,
    *,
    ideas_from: str = "",
    projects_from: str = "",
) -> Response:
    vision, ideas, projects = await asyncio.gather(
        _vision(visit),
        visit.api("projects", "GET", "/v1/ideas", params={"limit": 100, "cursor": ideas_from}),
        visit.api(
            "projects", "GET", "/v1/projects", params={"limit": 100, "cursor": projects_from}
        ),
    )
    current = [p for p in projects["items"] if p["stage"] in OPEN_STAGES]
    # Up to a hundred projects' details: a few at a time, not a hundred requests queueing at
    # once for the projects service's connections (and timing out there).
    gate = asyncio.Semaphore(DETAILS_AT_ONCE)

    async def detail(project_id: str) -> Any:
        async with gate:
            return await visit.api("projects", "GET", f"/v1/projects/{project_id}")

    details = await asyncio.gather(*(detail(p["id"]) for p in current))
    by_stage: dict[str, list[dict[str, Any]]] = {stage: [] for stage in STAGES}
    dropped: list[dict[str, Any]] = []
    for project in [*details, *(p for p in projects["items"] if p["stage"] not in OPEN_STAGES)]:
        by_stage.get(project["stage"], dropped).append(project)
    # The next page of one listing keeps the other where it is.
    following = {
        "ideas": ideas["next_cursor"] and {"idees": ideas["next_cursor"], "projets": projects_from},
        "projects": projects["next_cursor"]
        and {"idees": ideas_from, "projets": projects["next_cursor"]},
    }
    return visit.render(
        "projects.html",
        status_code=status,
        vision=vision,
        ideas=sorted(ideas["items"], key=lambda i: -i["supports"]),
        by_stage=by_stage,
        dropped=dropped,
        following={k: "/projets?" + urlencode(filled(v)) for k, v in following.items() if v},
        stages=stage_labels(visit),
        themes=theme_labels(visit),
        errors=errors or {},
        values=values or {},
    )


@router.get("/projets")
async def projects_page(visit: VisitDep, idees: str = "", projets: str = "") -> Response:
    return await _page(visit, ideas_from=idees, projects_from=projets)


@router.post("/projets/idees")
async def submit_idea(visit: VisitDep) -> Response:
    _ = visit.words.gettext
    form = await visit.form()
    values = {name: text(form, name) for name in ("title", "description", "theme", "session")}
    try:
        await visit.api("projects", "POST", "/v1/ideas", json=values)
    except ApiError as error:
        if error.status != 422:
            raise
        return await _page(visit, 422, field_errors(visit.words, error), values)
    return visit.redirect("/projets", _("Merci : votre idée est proposée au territoire."))


@router.post("/projets/idees/{idea_id}/soutien")
async def support_idea(idea_id: str, visit: VisitDep) -> Response:
    _ = visit.words.gettext
    await visit.form()
    try:
        await visit.api("projects", "POST", f"/v1/ideas/{idea_id}/supports")
    except ApiError as error:
        if error.status != 409:
            raise
        return visit.redirect("/projets", _("Vous soutenez déjà cette idée."))
    return visit.redirect("/projets", _("Merci pour votre soutien."))


# --- starting a project ---------------------------------------------------------------------


async def _start_page(
    visit: Visit, status: int = 200, errors: dict[str, str] | None = None, values: Any = None
) -> Response:
    ideas = await visit.api("projects", "GET", "/v1/ideas", params={"limit": 100})
    return visit.render(
        "projects_start.html",
        status_code=status,
        ideas=[i for i in ideas["items"] if i["grouped_into"] is None],
        themes=theme_labels(visit),
        errors=errors or {},
        values=values or {},
    )


@router.get("/projets/nouveau")
async def start_form(visit: VisitDep, idee: str = "") -> Response:
    return await _start_page(visit, values={"idea_ids": [idee] if idee else []})


@router.post("/projets/nouveau")
async def start_project(visit: VisitDep) -> Response:
    _ = visit.words.gettext
    form = await visit.form()
    values: dict[str, Any] = {name: text(form, name) for name in ("title", "description", "theme")}
    values["idea_ids"] = listed(form, "idea_ids")
    try:
        made = await visit.api("projects", "POST", "/v1/projects", json=values)
    except ApiError as error:
        if error.status not in (403, 409, 422):
            raise
        errors = field_errors(visit.words, error) or {"_": error.detail}
        return await _start_page(visit, 422, errors, values)
    return visit.redirect(f"/projets/{made['id']}", _("Projet lancé : vous en êtes le porteur."))


# --- the vision (facilitators) ----------------------------------------------------------------


async def _vision_page(
    visit: Visit, status: int = 200, errors: dict[str, str] | None = None, values: Any = None
) -> Response:
    drafts = await visit.api("projects", "GET", "/v1/visions/drafts")
    return visit.render(
        "projects_vision.html",
        status_code=status,
        drafts=drafts,
        themes=theme_labels(visit),
        errors=errors or {},
        values=values or {},
    )


@router.get("/projets/vision")
async def vision_form(visit: VisitDep) -> Response:
    visit.ensure_facilitator()
    return await _vision_page(visit)


@router.post("/projets/vision")
async def draft_vision(visit: VisitDep) -> Response:
    _ = visit.words.gettext
    form = await visit.form()
    values: dict[str, Any] = {name: text(form, name) for name in ("title", "text", "aims")}
    values["themes"] = listed(form, "themes")
    body = {
        "title": values["title"],
        "text": values["text"],
        "themes": values["themes"],
        # One aim a line.
        "aims": [line.strip() for line in values["aims"].splitlines() if line.strip()],
    }
    try:
        await visit.api("projects", "POST", "/v1/visions", json=body)
    except ApiError as error:
        if error.status not in (403, 422):
            raise
        errors = field_errors(visit.words, error) or {"_": error.detail}
        return await _vision_page(visit, 403 if error.status == 403 else 422, errors, values)
    return visit.redirect(
        "/projets/vision",
        _("Vision rédigée : une motion libre qui la nomme la soumet au vote du territoire."),
    )


# --- a project ------------------------------------------------------------------------------


async def _project_page(
    visit: Visit,
    project_id: str,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: Any = None,
    *,
    failed: str = "pledge",
) -> Response:
    """The project, and the forms its viewer may use; `failed` names the form whose `errors`
    and `values` are shown again."""
    project = await visit.api("projects", "GET", f"/v1/projects/{project_id}")
    acts = may_act(visit, project)
    pledges: list[dict[str, Any]] = []
    if acts:
        listed_pledges = await visit.api(
            "projects", "GET", f"/v1/projects/{project_id}/pledges", params={"limit": 100}
        )
        pledges = [p for p in listed_pledges["items"] if p["status"] == "pledged"]
    shown = {"errors": errors or {}, "values": values or {}}
    empty: dict[str, Any] = {"errors": {}, "values": {}}
    moves = moves_of(project) if acts else []
    # A refusal of a form the page no longer shows (not a carrier, a pledge confirmed already)
    # is shown at the top, so that the API's reason is never lost.
    listed_ids = {str(p["id"]) for p in pledges}
    hidden = (failed == "stage" and not moves) or (
        failed == "confirm" and not listed_ids.intersection(errors or {})
    )
    return visit.render(
        "projects_detail.html",
        status_code=status,
        project=project,
        acts=acts,
        carries=visit.session.actor_id in [str(c) for c in project["carrier_ids"]],
        closed=project["stage"] in FINAL_STAGES,
        moves=moves,
        refused=(errors or {}) if hidden else {},
        move_labels=move_labels(visit),
        pledges=pledges,
        stages=stage_labels(visit),
        themes=theme_labels(visit),
        kinds=kind_labels(visit),
        pledge_form=shown if failed == "pledge" else empty,
        stage_form=shown if failed == "stage" else empty,
        confirm_form=shown if failed == "confirm" else empty,
    )


@router.get("/projets/{project_id}")
async def project_page(project_id: str, visit: VisitDep) -> Response:
    return await _project_page(visit, project_id)


@router.post("/projets/{project_id}/contributions")
async def pledge(project_id: str, visit: VisitDep) -> Response:
    _ = visit.words.gettext
    form = await visit.form()
    values = {name: text(form, name) for name in ("kind", "amount", "unit", "need_id", "note")}
    amount = number(form, "amount")
    if values["kind"] == "money" and isinstance(amount, float):
        amount = round(amount * 100)  # typed in euros, pledged in cents
    body = {
        "kind": values["kind"],
        "amount": amount,
        "unit": values["unit"] or None,
        "need_id": values["need_id"] or None,
        "note": values["note"],
    }
    try:
        await visit.api("projects", "POST", f"/v1/projects/{project_id}/pledges", json=body)
    except ApiError as error:
        if error.status not in (409, 422):
            raise
        errors = field_errors(visit.words, error) or {"_": error.detail}
        return await _project_page(visit, project_id, 422, errors, values)
    return visit.redirect(
        f"/projets/{project_id}", _("Merci : votre contribution est promise au projet.")
    )


@router.post("/projets/{project_id}/etape")
async def move_stage(project_id: str, visit: VisitDep) -> Response:
    _ = visit.words.gettext
    form = await visit.form()
    values = {name: text(form, name) for name in ("stage", "reason")}
    if not values["reason"]:  # the history says why: the API means to ask it, but takes ""
        errors = {"reason": _("Ce champ est obligatoire.")}
        return await _project_page(visit, project_id, 422, errors, values, failed="stage")
    try:
        await visit.api("projects", "POST", f"/v1/projects/{project_id}/stage", json=values)
    except ApiError as error:
        if error.status not in (403, 409, 422):
            raise
        errors = field_errors(visit.words, error) or {"stage": error.detail}
        if error.status in (403, 409):  # the rule broken, in the API's words, by the field
            errors = {"stage": error.detail}
        return await _project_page(visit, project_id, error.status, errors, values, failed="stage")
    return visit.redirect(f"/projets/{project_id}", _("L'étape du projet a changé."))


@router.post("/projets/{project_id}/contributions/{pledge_id}/confirmer")
async def confirm_pledge(project_id: str, pledge_id: str, visit: VisitDep) -> Response:
    _ = visit.words.gettext
    await visit.form()
    try:
        await visit.api(
            "projects", "POST", f"/v1/projects/{project_id}/pledges/{pledge_id}/confirm"
        )
    except ApiError as error:
        if error.status not in (403, 409):
            raise
        errors = {pledge_id: error.detail}
        return await _project_page(visit, project_id, error.status, errors, failed="confirm")
    return visit.redirect(f"/projets/{project_id}", _("Contribution confirmée : merci à elle."))


# --- evaluating a trial -------------------------------------------------------------------------


def evaluation_body(form: Form) -> dict[str, Any]:
    """The evaluation typed: blank indicator rows left out, the value created in cents."""
    indicators = []
    for row in range(INDICATOR_ROWS):
        name = text(form, f"ind_name_{row}")
        if name:
            indicators.append(
                {
                    "name": name,
                    "unit": text(form, f"ind_unit_{row}"),
                    "target": number(form, f"ind_target_{row}"),
                    "measured": number(form, f"ind_measured_{row}"),
                }
            )
    value = number(form, "value_created")
    body = {
        "summary": text(form, "summary"),
        "indicators": indicators,
        "jobs_created": number(form, "jobs_created"),
        "jobs_consolidated": number(form, "jobs_consolidated"),
        "people_served": number(form, "people_served"),
        "value_created_cents": round(value * 100) if isinstance(value, float) else value,
    }
    people = body["people_served"]
    if isinstance(people, float) and people.is_integer():
        body["people_served"] = int(people)
    return {key: value for key, value in body.items() if value is not None}


def evaluation_field(api_field: str, indicators: list[int]) -> str:
    """The form field of an evaluation's API field: `indicators.0.target` -> `ind_target_<row>`
    (the row typed, blank rows being left out of the body)."""
    parts = api_field.split(".")
    if parts[0] == "indicators" and len(parts) > 2 and parts[1].isdigit():
        at = int(parts[1])
        row = indicators[at] if at < len(indicators) else at
        return f"ind_{parts[2]}_{row}"
    if parts[0] == "value_created_cents":
        return "value_created"
    return parts[0]


async def _evaluation_page(
    visit: Visit,
    project_id: str,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: Any = None,
) -> Response:
    project = await visit.api("projects", "GET", f"/v1/projects/{project_id}")
    if not may_act(visit, project):  # the form is for its carriers; the API refuses others too
        raise ApiError(403)
    return visit.render(
        "projects_evaluation.html",
        status_code=status,
        project=project,
        rows=range(INDICATOR_ROWS),
        errors=errors or {},
        values=values or {},
    )


@router.get("/projets/{project_id}/evaluation")
async def evaluation_form(project_id: str, visit: VisitDep) -> Response:
    return await _evaluation_page(visit, project_id)


@router.post("/projets/{project_id}/evaluation")
async def evaluate(project_id: str, visit: VisitDep) -> Response:
    _ = visit.words.gettext
    form = await visit.form()
    values = {key: value for key, value in form.items() if key != "csrf"}
    body = evaluation_body(form)
    rows = [r for r in range(INDICATOR_ROWS) if text(form, f"ind_name_{r}")]
    if not body["summary"]:  # it is the reason in the history: the API means to ask it too
        errors = {"summary": _("Ce champ est obligatoire.")}
        return await _evaluation_page(visit, project_id, 422, errors, values)
    try:
        await visit.api("projects", "POST", f"/v1/projects/{project_id}/evaluation", json=body)
    except ApiError as error:
        if error.status not in (403, 409, 422):
            raise
        renamed = ApiError(
            error.status,
            error.detail,
            {evaluation_field(k, rows): v for k, v in error.errors.items()},
            {evaluation_field(k, rows): v for k, v in error.codes.items()},
        )
        errors = field_errors(visit.words, renamed) or {"_": error.detail}
        if error.status in (403, 409):
            errors = {"_": error.detail}
        return await _evaluation_page(visit, project_id, error.status, errors, values)
    return visit.redirect(
        f"/projets/{project_id}",
        _("Essai évalué : ses chiffres rejoignent le bilan d'impact du territoire."),
    )
