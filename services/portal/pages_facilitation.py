"""For facilitators: actors waiting to be admitted, the territory's partners (their webhooks hear
of the whole territory), and needs without candidates with a way to propose a pairing by
hand."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import Response

from services.portal.forms import text
from services.portal.upstream import ApiError
from services.portal.web import Visit, VisitDep
from services.runtime.principal import FACILITATOR, PARTNER

router = APIRouter()

ACTORS_PAGE = 100  # actors read per request to the actors service


async def _active_actors(visit: Visit) -> list[dict[str, Any]]:
    """Every active actor of the territory: a partner who joined long ago must still be listed,
    and any member may be made one."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"status": "active", "limit": ACTORS_PAGE, "cursor": cursor}
        page = await visit.api("actors", "GET", "/v1/actors", params=params)
        found += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


async def _page(visit: Visit, status: int = 200, errors: dict[str, str] | None = None) -> Response:
    pending = await visit.api("actors", "GET", "/v1/actors", params={"status": "pending"})
    members = [a for a in await _active_actors(visit) if FACILITATOR not in a["roles"]]
    unmatched: list[dict[str, Any]] = await visit.api("matching", "GET", "/v1/needs/unmatched")
    offers = await visit.api(
        "offers", "GET", "/v1/offers", params={"status": "published", "limit": 100}
    )
    return visit.render(
        "facilitation.html",
        status_code=status,
        pending=pending["items"],
        partners=[a for a in members if PARTNER in a["roles"]],
        others=[a for a in members if PARTNER not in a["roles"]],
        unmatched=unmatched,
        offers=offers["items"],
        errors=errors or {},
    )


@router.get("/animation")
async def facilitation(visit: VisitDep) -> Response:
    visit.ensure_facilitator()
    return await _page(visit)


@router.post("/animation/acteurs/{actor_id}/admettre")
async def admit(visit: VisitDep, actor_id: str) -> Response:
    _ = visit.words.gettext
    visit.ensure_facilitator()
    await visit.form()
    actor = await visit.api("actors", "POST", f"/v1/actors/{actor_id}/admit")
    return visit.redirect("/animation", _("{name} est admis·e.").format(name=actor["name"]))


@router.post("/animation/partenaires")
async def set_partner(visit: VisitDep) -> Response:
    _ = visit.words.gettext
    visit.ensure_facilitator()
    form = await visit.form()
    actor_id, partner = text(form, "actor_id"), text(form, "partner") == "oui"
    actor = await visit.api(
        "actors", "PUT", f"/v1/actors/{quote(actor_id, safe='')}/partner", json={"partner": partner}
    )
    said = (
        _("{name} est partenaire du territoire.")
        if partner
        else _("{name} n'est plus partenaire du territoire.")
    )
    return visit.redirect("/animation", said.format(name=actor["name"]))


@router.post("/animation/propositions")
async def propose(visit: VisitDep) -> Response:
    _ = visit.words.gettext
    visit.ensure_facilitator()
    form = await visit.form()
    need_id, offer_id = text(form, "need_id"), text(form, "offer_id")
    try:
        await visit.api(
            "matching", "POST", "/v1/matches", json={"need_id": need_id, "offer_id": offer_id}
        )
    except ApiError as error:
        if error.status not in (400, 404, 409, 422):
            raise
        message = _("Cette offre ne peut pas répondre à ce besoin : {reason}").format(
            reason=error.detail
        )
        return await _page(visit, status=422, errors={need_id: message})
    return visit.redirect("/animation", _("Proposition envoyée aux deux parties."))
