"""Signing in with a link sent by e-mail, signing out, registering an actor."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.portal.forms import field_errors, place, text
from services.portal.places import commune_names
from services.portal.upstream import ApiError
from services.portal.web import VisitDep, apply_grant, safe_return

router = APIRouter()


@router.get("/connexion")
async def sign_in_form(visit: VisitDep, retour: str = "/") -> Response:
    return visit.render("sign_in.html", retour=safe_return(retour), errors={}, values={})


@router.post("/connexion")
async def ask_link(visit: VisitDep) -> Response:
    _ = visit.words.gettext
    form = await visit.form()
    email, back = text(form, "email"), safe_return(text(form, "retour"))
    try:
        await visit.api(
            "actors",
            "POST",
            "/v1/sign-in/links",
            json={"email": email, "return_to": back},
            anonymous=True,
        )
    except ApiError as error:
        if error.status not in (400, 422):
            raise
        errors = field_errors(visit.words, error) or {"email": _("Adresse e-mail invalide.")}
        return visit.render(
            "sign_in.html", status_code=422, retour=back, errors=errors, values={"email": email}
        )
    return visit.render("link_sent.html", email=email)


@router.get("/connexion/{token}")
async def confirm_link(visit: VisitDep, token: str) -> Response:
    # A button to press, not a sign-in on GET: mail scanners open links and would spend it.
    return visit.render("sign_in_confirm.html", token=token)


@router.post("/connexion/{token}")
async def open_session(visit: VisitDep, token: str) -> Response:
    _ = visit.words.gettext
    await visit.form()
    try:
        grant = await visit.api(
            "actors",
            "POST",
            "/v1/sign-in/sessions",
            json={"token": token, "actor_id": None},
            anonymous=True,
        )
    except ApiError as error:
        if error.status not in (400, 401, 404, 410, 422):
            raise
        return visit.render(
            "sign_in.html",
            status_code=400,
            retour="/",
            errors={"email": _("Ce lien n'est plus valable. Demandez-en un nouveau.")},
            values={},
        )
    apply_grant(visit.session, grant)
    await remember_actor(visit)
    return visit.redirect(
        safe_return(grant.get("return_to")),
        _("Bonjour {name}, vous êtes connecté·e.").format(
            name=visit.session.person_name or visit.session.person_email
        ),
    )


async def remember_actor(visit: VisitDep) -> None:
    """Name, status and roles of the actor the person acts for (shown on every page)."""
    me: dict[str, Any] = await visit.api("actors", "GET", "/v1/actors/me")
    visit.session.actor_id = str(me["id"])
    visit.session.actor_name = str(me["name"])
    visit.session.actor_status = str(me["status"])
    visit.session.roles = [str(role) for role in me.get("roles", [])]


@router.post("/deconnexion")
async def sign_out(visit: VisitDep) -> Response:
    _ = visit.words.gettext
    await visit.form()
    if visit.session.refresh_token:
        try:
            await visit.api(
                "actors",
                "POST",
                "/v1/sign-out",
                json={"refresh_token": visit.session.refresh_token},
                anonymous=True,
            )
        except ApiError:
            pass  # signed out here whatever actors says; its refresh token expires anyway
    visit.session.sign_out()
    return visit.redirect("/", _("Vous êtes déconnecté·e."))


async def _territories(visit: VisitDep) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await visit.api(
        "actors", "GET", "/v1/territories", anonymous=True
    )
    return found


@router.get("/inscription")
async def registration_form(visit: VisitDep) -> Response:
    return visit.render(
        "register.html",
        territories=await _territories(visit),
        communes=commune_names(),
        errors={},
        values={},
    )


@router.post("/inscription")
async def register(visit: VisitDep) -> Response:
    _ = visit.words.gettext
    form = await visit.form()
    values = {name: text(form, name) for name in ("territory_id", "kind", "name", "email",
                                                   "commune", "description", "siret")}  # fmt: skip
    body: dict[str, Any] = {
        key: values[key] for key in ("territory_id", "kind", "name", "email", "description")
    }
    if values["siret"]:
        body["siret"] = values["siret"]
    errors: dict[str, str] = {}
    if (location := place(visit.words, form, errors)) is not None:
        body["location"] = location
    if not errors:
        try:
            await visit.api("actors", "POST", "/v1/actors", json=body, anonymous=True)
        except ApiError as error:
            if error.status not in (400, 409, 422):
                raise
            errors = field_errors(visit.words, error)
            if error.status == 409 and not errors:
                errors = {"email": _("Cette adresse est déjà inscrite sur ce territoire.")}
            if not errors:
                errors = {"name": error.detail}
    if errors:
        return visit.render(
            "register.html",
            status_code=422,
            territories=await _territories(visit),
            communes=commune_names(),
            errors=errors,
            values=values,
        )
    # The API key the registration returns is not kept: people sign in by e-mail.
    return visit.render("registered.html", email=values["email"], name=values["name"])
