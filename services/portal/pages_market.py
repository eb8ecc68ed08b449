"""The territory's marketplace: the map and list of offers and needs, and the forms that
publish an asset, an offer and a need."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.datastructures import FormData

from contracts.projects import FINAL_STAGES
from services.portal.forms import (
    PRICE_MODELS,
    asset_body,
    field_errors,
    need_body,
    offer_body,
    place,
    text,
)
from services.portal.places import commune_names
from services.portal.upstream import ApiError
from services.portal.web import SignInNeeded, Visit, VisitDep
from services.portal.wording import indicator_words, price_words, quantity_words, slot_words

router = APIRouter()

KINDS = ("association", "business", "local_authority", "citizen", "research_training")
COMPARATORS = ("gte", "lte", "eq", "gt", "lt")
URGENCIES = ("low", "normal", "high")
DISTANCES = (5, 10, 25, 50)


@dataclass
class Item:
    """An offer or a need as the list and the map show it (the same items for both)."""

    kind: str  # "offer" or "need"
    id: str
    title: str
    category: str
    description: str
    status: str
    commune: str
    lat: float | None
    lon: float | None
    weekdays: set[int]
    lines: list[str] = field(default_factory=list)
    mine: bool = False


async def categories(visit: Visit) -> list[dict[str, Any]]:
    """The taxonomy (French labels, units), read once from offers."""
    cache = visit.portal.cache
    if "categories" not in cache:
        found = await visit.api("offers", "GET", "/v1/categories", anonymous=True)
        cache["categories"] = found["categories"]
    listed: list[dict[str, Any]] = cache["categories"]
    return listed


def _label(cats: list[dict[str, Any]]) -> Callable[[str], str]:
    """French label of a category code (the code itself if unknown)."""
    labels = {c["code"]: c["label"] for c in cats}
    return lambda code: labels.get(code, code)


def offer_item(visit: Visit, offer: dict[str, Any], label: Callable[[str], str]) -> Item:
    _ = visit.words.gettext
    asset = offer.get("asset") or {}
    where = asset.get("location") or {}
    weekly = (asset.get("availability") or {}).get("weekly", [])
    lines = [_("Prix : {price}").format(price=price_words(visit.words, offer.get("price", {})))]
    lines += [
        _("Engagement : {promise}").format(promise=indicator_words(visit.words, indicator))
        for indicator in offer.get("performance", [])
    ]
    if weekly:
        lines.append(
            _("Libre {slots}").format(slots=", ".join(slot_words(visit.words, s) for s in weekly))
        )
    return _item(visit, "offer", offer, label(str(asset.get("category", ""))), where, weekly, lines)


def need_item(visit: Visit, need: dict[str, Any], label: Callable[[str], str]) -> Item:
    _ = visit.words.gettext
    where = need.get("location") or {}
    weekly = need.get("weekly_windows", [])
    budget = need.get("budget") or {}
    lines = [
        _("Quantité : {quantity}").format(
            quantity=quantity_words(
                visit.words, float(need.get("quantity", 0)), str(need.get("unit", ""))
            )
        )
    ]
    if budget.get("max_unit_price") is not None:
        lines.append(
            _("Budget : jusqu'à {money} par utilisation").format(
                money=visit.words.money(float(budget["max_unit_price"]))
            )
        )
    if weekly:
        lines.append(
            _("Souhaité {slots}").format(
                slots=", ".join(slot_words(visit.words, s) for s in weekly)
            )
        )
    return _item(visit, "need", need, label(str(need.get("category", ""))), where, weekly, lines)


def _item(
    visit: Visit,
    kind: str,
    thing: dict[str, Any],
    category: str,
    where: dict[str, Any],
    weekly: list[dict[str, Any]],
    lines: list[str],
) -> Item:
    return Item(
        kind=kind,
        id=str(thing["id"]),
        title=str(thing["title"]),
        category=category,
        description=str(thing.get("description", "")),
        status=str(thing.get("status", "")),
        commune=str(where.get("commune") or ""),
        lat=where.get("lat"),
        lon=where.get("lon"),
        weekdays={int(s["weekday"]) for s in weekly},
        lines=lines,
        mine=str(thing.get("owner_id")) == visit.session.actor_id,
    )


@router.get("/")
async def home(
    visit: VisitDep,
    categorie: str = "",
    quoi: str = "tout",
    distance: str = "",
    jour: str = "",
) -> Response:
    session = visit.session
    if not session.signed_in:
        return visit.render("welcome.html")
    me = await visit.api("actors", "GET", "/v1/actors/me")
    session.actor_status = str(me["status"])
    session.actor_name = str(me["name"])
    session.roles = [str(role) for role in me.get("roles", [])]
    if me["status"] != "active":
        return visit.render("waiting.html", me=me)
    cats = await categories(visit)
    label = _label(cats)
    params: dict[str, Any] = {"category": categorie or None, "limit": 100}
    place = me.get("location")
    if distance.isdigit() and place:
        params.update(lat=place["lat"], lon=place["lon"], radius_km=int(distance))
    items: list[Item] = []
    if quoi in ("tout", "offres"):
        offers = await visit.api("offers", "GET", "/v1/offers", params=params)
        items += [offer_item(visit, offer, label) for offer in offers["items"]]
    if quoi in ("tout", "besoins"):
        needs = await visit.api("offers", "GET", "/v1/needs", params=params)
        items += [need_item(visit, need, label) for need in needs["items"]]
    if jour.isdigit():
        items = [item for item in items if int(jour) in item.weekdays]
    filters = {"categorie": categorie, "quoi": quoi, "distance": distance, "jour": jour}
    return visit.render(
        "market.html",
        items=items,
        categories=cats,
        filters=filters,
        distances=DISTANCES,
        has_place=bool(place),
    )


# --- forms ------------------------------------------------------------------------------------


async def _my_assets(visit: Visit) -> list[dict[str, Any]]:
    found = await visit.api("offers", "GET", "/v1/assets", params={"limit": 100})
    assets: list[dict[str, Any]] = found["items"]
    return assets


async def _form_page(visit: Visit, template: str, status: int = 200, **context: Any) -> Response:
    if not visit.session.signed_in:
        raise SignInNeeded
    return visit.render(
        template,
        status_code=status,
        categories=await categories(visit),
        communes=commune_names(),
        price_models=PRICE_MODELS,
        kinds=KINDS,
        comparators=COMPARATORS,
        urgencies=URGENCIES,
        **{"errors": {}, "values": {}, **context},
    )


async def _submit(
    visit: Visit,
    template: str,
    path: str,
    build: Callable[[FormData], dict[str, Any]],
    done: str,
    *,
    placed: bool = True,
    then: str = "/",
    **context: Any,
) -> Response:
    form = await visit.form()
    body = build(form)
    errors: dict[str, str] = {}
    if placed and (location := place(visit.words, form, errors)) is not None:
        body["location"] = location
    values = {key: form.getlist(key) if key in ("days", "kinds", "price_models") else value
              for key, value in form.items()}  # fmt: skip
    if not errors:
        try:
            await visit.api("offers", "POST", path, json=body)
            return visit.redirect(then, done)
        except ApiError as error:
            if error.status not in (400, 403, 409, 422):
                raise
            errors = field_errors(visit.words, error) or {"_": error.detail}
    return await _form_page(visit, template, status=422, errors=errors, values=values, **context)


@router.get("/actifs/nouveau")
async def asset_form(visit: VisitDep) -> Response:
    return await _form_page(visit, "asset_form.html")


@router.post("/actifs/nouveau")
async def declare_asset(visit: VisitDep) -> Response:
    _ = visit.words.gettext
    return await _submit(
        visit, "asset_form.html", "/v1/assets", asset_body,
        _("Actif déclaré. Vous pouvez maintenant en proposer l'usage."),
    )  # fmt: skip


@router.get("/offres/nouvelle")
async def offer_form(visit: VisitDep) -> Response:
    return await _form_page(visit, "offer_form.html", assets=await _my_assets(visit))


@router.post("/offres/nouvelle")
async def publish_offer(visit: VisitDep) -> Response:
    _ = visit.words.gettext
    return await _submit(
        visit, "offer_form.html", "/v1/offers", offer_body, _("Offre publiée."),
        placed=False, assets=await _my_assets(visit),
    )  # fmt: skip


async def _project(visit: Visit, project_id: str) -> dict[str, Any] | None:
    """The territorial project a need is opened for (`?projet=`), to name it on the form."""
    if not project_id:
        return None
    project: dict[str, Any] = await visit.api("projects", "GET", f"/v1/projects/{project_id}")
    return project


def _closed(visit: Visit, project: dict[str, Any]) -> dict[str, str]:
    """The form's error when the project takes no more needs, none otherwise."""
    if project["stage"] not in FINAL_STAGES:
        return {}
    _ = visit.words.gettext
    return {
        "project_id": _("Ce projet est clos (récolté ou abandonné) : il ne reçoit plus de besoins.")
    }


@router.get("/besoins/nouveau")
async def need_form(visit: VisitDep, projet: str = "") -> Response:
    project = await _project(visit, projet)
    if project is None:
        return await _form_page(visit, "need_form.html")
    closed = _closed(visit, project)
    return await _form_page(
        visit, "need_form.html", status=409 if closed else 200, errors=closed,
        project=project, values={"project_id": str(project["id"])},
    )  # fmt: skip


@router.post("/besoins/nouveau")
async def publish_need(visit: VisitDep) -> Response:
    _ = visit.words.gettext
    form = await visit.form()
    project = await _project(visit, text(form, "project_id"))
    if project is None:
        return await _submit(
            visit, "need_form.html", "/v1/needs", need_body,
            _("Besoin publié. Les propositions arrivent dans « Mes mises en relation »."),
        )  # fmt: skip
    if closed := _closed(visit, project):
        return await _form_page(
            visit, "need_form.html", status=409, errors=closed, project=project,
            values=dict(form.items()),
        )  # fmt: skip
    return await _submit(
        visit, "need_form.html", "/v1/needs",
        lambda typed: {**need_body(typed), "project_id": str(project["id"])},
        _("Besoin ouvert pour le projet : il figure parmi ce qu'il lui manque encore."),
        then=f"/projets/{project['id']}", project=project,
    )  # fmt: skip
