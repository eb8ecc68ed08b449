"""My notification preferences: the address that receives them by e-mail (confirmed by a link
first), which kinds, immediately or in a daily digest, and no more e-mail at all.

The notifications service keeps them (`/v1/me/mail`, per person and actor); the confirmation
and unsubscribe links of its mails work without the portal.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.portal.forms import listed, text
from services.portal.upstream import ApiError
from services.portal.web import SignInNeeded, Visit, VisitDep

router = APIRouter()

# The families a person chooses among (the API also takes single event types).
KINDS = ("mcvt.match.*", "mcvt.agreement.*", "mcvt.governance.*", "mcvt.offer.*", "mcvt.need.*")
FREQUENCIES = ("immediate", "daily")


def _kind_labels(visit: Visit) -> list[tuple[str, str]]:
    _ = visit.words.gettext
    return [
        ("mcvt.match.*", _("Mes mises en relation : proposées, acceptées, confirmées, refusées")),
        ("mcvt.agreement.*", _("Mes conventions d'usage : à signer, signées, usages, relevés")),
        ("mcvt.governance.*", _("Les votes et les décisions du territoire")),
        ("mcvt.offer.*", _("Mes offres : publiées, en pause, bientôt échues")),
        ("mcvt.need.*", _("Mes besoins : publiés, satisfaits, bientôt échus")),
    ]


def _chosen(kinds: list[str]) -> list[str]:
    """The families ticked for what the API holds (a single type ticks its family)."""
    return [family for family in KINDS if any(kind.startswith(family[:-1]) for kind in kinds)]


async def _current(visit: Visit) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = await visit.api("notifications", "GET", "/v1/me/mail")
        return found
    except ApiError as error:
        if error.status == 404:
            return None
        raise


async def _page(
    visit: Visit,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    if not visit.session.signed_in:
        raise SignInNeeded
    current = await _current(visit)
    if values is None:
        values = {
            "email": current["email"] if current else visit.session.person_email,
            "kinds": _chosen(current["kinds"]) if current and current["kinds"] else list(KINDS[:3]),
            "frequency": current["frequency"] if current else "immediate",
        }
    return visit.render(
        "notifications.html",
        status_code=status,
        current=current,
        kinds=_kind_labels(visit),
        errors=errors or {},
        values=values,
    )


@router.get("/notifications")
async def preferences(visit: VisitDep) -> Response:
    return await _page(visit)


def _errors(visit: Visit, error: ApiError) -> dict[str, str]:
    """The API's refusal by form field, in French."""
    _ = visit.words.gettext
    said = {
        "email": _("Saisissez une adresse e-mail complète, par exemple nom@exemple.fr."),
        "kinds": _("Cochez au moins un type de notification."),
        "frequency": _("Choisissez « dès que possible » ou « un résumé par jour »."),
    }
    shown = {
        name: message
        for name, message in said.items()
        if any(field == name or field.startswith(name + ".") for field in error.errors)
    }
    return shown or {"_": _("Ces préférences n'ont pas pu être enregistrées.")}


@router.post("/notifications")
async def save(visit: VisitDep) -> Response:
    _ = visit.words.gettext
    form = await visit.form()
    values = {
        "email": text(form, "email"),
        "kinds": [kind for kind in listed(form, "kinds") if kind in KINDS],
        "frequency": text(form, "frequency"),
    }
    if not values["email"]:
        errors = {"email": _("Ce champ est obligatoire.")}
        return await _page(visit, 422, errors, values)
    before = await _current(visit)
    try:
        saved = await visit.api("notifications", "PUT", "/v1/me/mail", json=values)
    except ApiError as error:
        if error.status not in (400, 422):
            raise
        return await _page(visit, 422, _errors(visit, error), values)
    if saved["confirmed"]:
        message = _("Vos préférences de notification sont enregistrées.")
    elif before is None or before["email"].lower() != saved["email"].lower():
        message = _(
            "Préférences enregistrées. Un lien de confirmation a été envoyé à {email} : "
            "les notifications partiront une fois l'adresse confirmée."
        ).format(email=saved["email"])
    else:
        message = _(
            "Préférences enregistrées. L'adresse {email} attend toujours sa confirmation."
        ).format(email=saved["email"])
    return visit.redirect("/notifications", message)


@router.post("/notifications/desabonnement")
async def unsubscribe(visit: VisitDep) -> Response:
    _ = visit.words.gettext
    await visit.form()
    try:
        await visit.api("notifications", "DELETE", "/v1/me/mail")
    except ApiError as error:
        if error.status != 404:
            raise
    return visit.redirect("/notifications", _("Vous ne recevrez plus de notifications par e-mail."))
