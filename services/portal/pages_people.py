"""The people of my actor: who can act for it, and (its admins) inviting a colleague."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.portal.forms import field_errors, text
from services.portal.upstream import ApiError
from services.portal.web import SignInNeeded, Visit, VisitDep

router = APIRouter()


def _is_admin(visit: Visit) -> bool:
    session = visit.session
    return any(m.actor_id == session.actor_id and m.role == "admin" for m in session.memberships)


async def _page(
    visit: Visit, status: int = 200, errors: dict[str, str] | None = None, values: Any = None
) -> Response:
    if not visit.session.signed_in or not visit.session.actor_id:
        raise SignInNeeded
    people = await visit.api("actors", "GET", f"/v1/actors/{visit.session.actor_id}/people")
    return visit.render(
        "people.html",
        status_code=status,
        people=people,
        admin=_is_admin(visit),
        errors=errors or {},
        values=values or {},
    )


@router.get("/equipe")
async def team(visit: VisitDep) -> Response:
    return await _page(visit)


@router.post("/equipe")
async def invite(visit: VisitDep) -> Response:
    _ = visit.words.gettext
    form = await visit.form()
    values = {name: text(form, name) for name in ("email", "name", "role")}
    try:
        await visit.api(
            "actors", "POST", f"/v1/actors/{visit.session.actor_id}/people", json=values
        )
    except ApiError as error:
        if error.status not in (400, 409, 422):
            raise
        errors = field_errors(visit.words, error)
        if error.status == 409:
            errors = {"email": _("Cette personne fait déjà partie de votre structure.")}
        return await _page(visit, 422, errors or {"email": error.detail}, values)
    return visit.redirect(
        "/equipe",
        _("Invitation envoyée à {email} : un lien de connexion lui a été envoyé.").format(
            email=values["email"]
        ),
    )
