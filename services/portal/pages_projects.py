"""Projets du territoire: the shared vision first, the ideas to support, the projects by stage
with what each still needs, and pledging a contribution to one."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.portal.forms import field_errors, number, text
from services.portal.upstream import ApiError
from services.portal.web import Visit, VisitDep

router = APIRouter()

STAGES = ("idea", "prepared", "trial", "evaluated", "harvested")
OPEN_STAGES = frozenset({"idea", "prepared", "trial", "evaluated"})
THEMES = ("tourism", "agriculture_wood", "shops_services", "environment", "entrepreneurship",
          "other")  # fmt: skip
KINDS = ("time", "skill", "money", "asset")


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


async def _vision(visit: Visit) -> dict[str, Any] | None:
    try:
        vision: dict[str, Any] = await visit.api("projects", "GET", "/v1/visions/current")
    except ApiError as error:
        if error.status != 404:
            raise
        return None
    return vision


async def _page(
    visit: Visit, status: int = 200, errors: dict[str, str] | None = None, values: Any = None
) -> Response:
    vision, ideas, projects = await asyncio.gather(
        _vision(visit),
        visit.api("projects", "GET", "/v1/ideas", params={"limit": 100}),
        visit.api("projects", "GET", "/v1/projects", params={"limit": 100}),
    )
    current = [p for p in projects["items"] if p["stage"] in OPEN_STAGES]
    details = await asyncio.gather(
        *(visit.api("projects", "GET", f"/v1/projects/{p['id']}") for p in current)
    )
    by_stage: dict[str, list[dict[str, Any]]] = {stage: [] for stage in STAGES}
    for project in [*details, *(p for p in projects["items"] if p["stage"] == "harvested")]:
        by_stage[project["stage"]].append(project)
    return visit.render(
        "projects.html",
        status_code=status,
        vision=vision,
        ideas=sorted(ideas["items"], key=lambda i: -i["supports"]),
        by_stage=by_stage,
        stages=stage_labels(visit),
        themes=theme_labels(visit),
        errors=errors or {},
        values=values or {},
    )


@router.get("/projets")
async def projects_page(visit: VisitDep) -> Response:
    return await _page(visit)


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


async def _project_page(
    visit: Visit,
    project_id: str,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: Any = None,
) -> Response:
    project = await visit.api("projects", "GET", f"/v1/projects/{project_id}")
    return visit.render(
        "projects_detail.html",
        status_code=status,
        project=project,
        stages=stage_labels(visit),
        themes=theme_labels(visit),
        kinds=kind_labels(visit),
        errors=errors or {},
        values=values or {},
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
