"""Votes: the territory's proposals, each said in plain French (what it changes if adopted),
the ballot and my receipt, the results per college once closed, the audit chain verified in one
click; and for facilitators, a form per kind of proposal.

Governance decides everything (who sees, who votes, what a proposal may hold); these pages only
put its answers into words. A secret ballot shows what governance shows: the counts, never who
chose what.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import Response

from contracts.governance import College, Method, ProposalKind
from services.portal.forms import listed, text
from services.portal.i18n import PARIS
from services.portal.proposal_forms import closes_at, filled, parameters_of, proposal_errors
from services.portal.proposal_words import (
    CHOICES_OF,
    POLICY_PARTS,
    RULES,
    YES_NO_RULES,
    ProposalWords,
    change_lines,
    choice_name,
)
from services.portal.upstream import ApiError
from services.portal.web import SignInNeeded, Visit, VisitDep

router = APIRouter()


def render(visit: Visit, template: str, status_code: int = 200, **context: Any) -> Response:
    """A page of votes: the proposals' words beside the page's own."""
    return visit.render(
        template, status_code=status_code, say=ProposalWords(visit.words), **context
    )


def _proposal_id(value: str) -> str:
    """A proposal id of the address, checked before it goes into an API path."""
    try:
        return str(UUID(value))
    except ValueError:
        raise ApiError(404) from None


def _member(visit: Visit) -> None:
    if not visit.session.signed_in:
        raise SignInNeeded


# --- opening a proposal (facilitators) -----------------------------------------------------------


@router.get("/votes/nouvelle")
async def new_proposal(visit: VisitDep) -> Response:
    visit.ensure_facilitator()
    return render(visit, "proposal_kinds.html", kinds=[str(kind) for kind in ProposalKind])


async def _form_context(visit: Visit, kind: str) -> dict[str, Any]:
    """What the form of this kind shows beside its fields: today's values and the lists to
    choose from."""
    if kind == "admit_actor":
        pending = await visit.api("actors", "GET", "/v1/actors", params={"status": "pending"})
        return {"pending": pending["items"]}
    if kind == "allocate_common_asset":
        offers, needs = await asyncio.gather(
            visit.api("offers", "GET", "/v1/offers", params={"status": "published", "limit": 100}),
            visit.api("offers", "GET", "/v1/needs", params={"limit": 100}),
        )
        return {"offers": offers["items"], "needs": needs["items"]}
    if kind in ("change_colleges", "change_territory_rules"):
        me = await visit.api("actors", "GET", "/v1/actors/me")
        territory = f"/v1/territories/{me['territory_id']}"
        if kind == "change_colleges":
            return {"colleges_now": await visit.api("governance", "GET", f"{territory}/colleges")}
        return {"rules": await visit.api("governance", "GET", f"{territory}/rules")}
    if kind == "change_matching_policy":
        return {"policy": await visit.api("matching", "GET", "/v1/policy")}
    if kind == "free_motion":  # the drafts of the territory's vision it may adopt
        return {"visions": await visit.api("projects", "GET", "/v1/visions/drafts")}
    return {}


def _defaults(kind: str, context: dict[str, Any]) -> dict[str, str]:
    """The form's first values: today's weights, so a change starts from what holds."""
    if kind == "change_colleges":
        weights = context["colleges_now"]["weights"]
        return {f"p_weights_{c}": str(weights.get(c, 0)) for c in College}
    if kind == "change_matching_policy":
        policy = context["policy"]
        return {f"p_weights_{part}": f"{float(w):g}" for part, w in policy["weights"].items()}
    return {}


async def _proposal_form(
    visit: Visit,
    kind: str,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context = await _form_context(visit, kind)
    return render(
        visit,
        "proposal_form.html",
        status_code=status,
        kind=kind,
        values={**_defaults(kind, context), **values} if not errors else values,
        errors=errors or {},
        parts=POLICY_PARTS,
        colleges=[str(c) for c in College],
        rules_order=RULES,
        yes_no_rules=YES_NO_RULES,
        **context,
    )


def _kind(kind: str) -> str:
    if kind not in {str(k) for k in ProposalKind}:
        raise ApiError(404)
    return kind


@router.get("/votes/nouvelle/{kind}")
async def proposal_form(visit: VisitDep, kind: str, vision: str = "") -> Response:
    visit.ensure_facilitator()
    in_a_week = (datetime.now(PARIS) + timedelta(days=7)).replace(hour=18, minute=0)
    values = {"method": "majority", "closes_at": in_a_week.strftime("%Y-%m-%dT%H:%M")}
    if kind == "free_motion" and vision:  # from the vision's page: "submit it to the vote"
        values["p_vision_id"] = vision
    return await _proposal_form(visit, _kind(kind), values)


@router.post("/votes/nouvelle/{kind}")
async def open_proposal(visit: VisitDep, kind: str) -> Response:
    _ = visit.words.gettext
    visit.ensure_facilitator()
    _kind(kind)
    form = await visit.form()
    parameters = parameters_of(kind, form)
    body = filled(
        {
            "kind": kind,
            "title": text(form, "title"),
            "description": text(form, "description"),
            "method": text(form, "method") or Method.MAJORITY,
            "secret": form.get("secret") == "on",
            "parameters": parameters,
            "closes_at": closes_at(form),
        }
    )
    try:
        opened = await visit.api("governance", "POST", "/v1/proposals", json=body)
    except ApiError as error:
        if error.status not in (400, 422):
            raise
        values = {key: value for key, value in form.items() if isinstance(value, str)}
        values["p_selected_ids"] = ", ".join(listed(form, "p_selected_ids"))
        errors = proposal_errors(visit.words, kind, error, parameters)
        return await _proposal_form(visit, kind, values, errors, status=422)
    return visit.redirect(
        f"/votes/{opened['id']}", _("Proposition ouverte : les membres peuvent voter.")
    )


# --- the pages -----------------------------------------------------------------------------------


@router.get("/votes")
async def votes(visit: VisitDep) -> Response:
    """The open proposals I vote on (in my college, with its weight) first; those opened before
    I joined apart, to follow only; then the closed ones."""
    _member(visit)
    proposals = "/v1/proposals"
    me, opened, mine, closed = await asyncio.gather(
        _quietly(visit, "governance", "/v1/members/me"),
        visit.api("governance", "GET", proposals, params={"status": "open", "limit": 50}),
        visit.api(
            "governance", "GET", proposals, params={"status": "open", "voter": "me", "limit": 50}
        ),
        visit.api("governance", "GET", proposals, params={"status": "closed", "limit": 20}),
    )
    votable = {p["id"] for p in mine["items"]}
    return render(
        visit,
        "votes.html",
        me=me,
        mine=mine["items"],
        others=[p for p in opened["items"] if p["id"] not in votable],
        closed=closed["items"],
    )


@dataclass
class ProposalView:
    """A proposal with what the page says about it."""

    proposal: dict[str, Any]
    changes: list[str]
    mine: dict[str, Any]  # my current vote and my earlier ones
    choices: list[str]
    audit: dict[str, Any] | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.proposal["id"])

    @property
    def is_open(self) -> bool:
        return bool(self.proposal["status"] == "open")

    @property
    def current(self) -> dict[str, Any] | None:
        current: dict[str, Any] | None = self.mine.get("current")
        return current


async def _quietly(visit: Visit, service: Any, path: str) -> dict[str, Any] | None:
    """An object read only to put a name on an id; None when it is not visible to the person."""
    try:
        found: dict[str, Any] = await visit.api(service, "GET", path)
        return found
    except ApiError as error:
        if error.status in (403, 404, 422):
            return None
        raise


async def _context(visit: Visit, proposal: dict[str, Any]) -> dict[str, Any]:
    """What the words of this proposal need beyond the proposal itself."""
    kind, p = proposal["kind"], proposal.get("parameters") or {}
    names: dict[str, str] = {}
    context: dict[str, Any] = {"names": names}
    if kind == "admit_actor":
        actor = await _quietly(visit, "actors", f"/v1/actors/{p['actor_id']}")
        if actor:
            names[str(actor["id"])] = str(actor["name"])
    elif kind == "allocate_common_asset":
        offer, need = await asyncio.gather(
            _quietly(visit, "offers", f"/v1/offers/{p['offer_id']}"),
            _quietly(visit, "offers", f"/v1/needs/{p['need_id']}"),
        )
        for item in (offer, need):
            if item:
                names[str(item["id"])] = str(item["title"])
    elif kind == "free_motion" and p.get("vision_id"):
        # A draft until adopted, then the current vision: either names it.
        try:
            drafts: list[dict[str, Any]] = await visit.api("projects", "GET", "/v1/visions/drafts")
        except ApiError as error:
            if error.status not in (403, 404):
                raise
            drafts = []
        current = await _quietly(visit, "projects", "/v1/visions/current")
        for vision in [*drafts, *([current] if current else [])]:
            names[str(vision["id"])] = str(vision["title"])
    elif kind == "change_territory_rules" and proposal["status"] == "open":
        territory = proposal["territory_id"]
        context["rules"] = await _quietly(visit, "governance", f"/v1/territories/{territory}/rules")
    elif kind == "change_matching_policy" and proposal["status"] == "open":
        context["policy"] = await _quietly(visit, "matching", "/v1/policy")
    return context


async def proposal_view(visit: Visit, proposal_id: str) -> ProposalView:
    proposal, mine = await asyncio.gather(
        visit.api("governance", "GET", f"/v1/proposals/{proposal_id}"),
        visit.api("governance", "GET", f"/v1/proposals/{proposal_id}/votes/me"),
    )
    changes = change_lines(visit.words, proposal, await _context(visit, proposal))
    return ProposalView(proposal, changes, mine, list(CHOICES_OF.get(proposal["method"], ())))


@router.get("/votes/{proposal_id}")
async def proposal_page(visit: VisitDep, proposal_id: str) -> Response:
    _member(visit)
    view = await proposal_view(visit, _proposal_id(proposal_id))
    return render(visit, "proposal.html", view=view)


@router.post("/votes/{proposal_id}/voter")
async def cast(visit: VisitDep, proposal_id: str) -> Response:
    _ = visit.words.gettext
    _member(visit)
    proposal_id = _proposal_id(proposal_id)
    form = await visit.form()
    changed = text(form, "changing") == "1"
    try:
        vote = await visit.api(
            "governance", "POST", f"/v1/proposals/{proposal_id}/votes",
            json={"choice": text(form, "choice")},
        )  # fmt: skip
    except ApiError as error:
        refusals = {
            403: _(
                "Vous ne votez pas sur cette proposition : vous ne faisiez pas partie des "
                "membres appelés à voter quand elle a été ouverte."
            ),
            409: _("Le vote est clos : votre choix n'a pas été enregistré."),
            422: _("Choisissez une des réponses proposées."),
        }
        if error.status not in refusals:
            raise
        view = await proposal_view(visit, proposal_id)
        view.errors = {"choice": refusals[error.status]}
        return render(visit, "proposal.html", status_code=error.status, view=view)
    done = (
        _("Votre vote a été changé : {choice}.")
        if changed
        else _("Votre vote est enregistré : {choice}.")
    )
    return visit.redirect(
        f"/votes/{proposal_id}", done.format(choice=choice_name(visit.words, vote["choice"]))
    )


@router.post("/votes/{proposal_id}/cloture")
async def close_now(visit: VisitDep, proposal_id: str) -> Response:
    _ = visit.words.gettext
    visit.ensure_facilitator()
    proposal_id = _proposal_id(proposal_id)
    await visit.form()
    await visit.api("governance", "POST", f"/v1/proposals/{proposal_id}/close")
    return visit.redirect(f"/votes/{proposal_id}", _("Le vote est clos : voici ses résultats."))


async def audit_of(visit: Visit, view: ProposalView) -> dict[str, Any]:
    """The territory's chain verified, and the entry my receipt names in it."""
    territory = view.proposal["territory_id"]
    base = f"/v1/territories/{territory}/audit"
    current = view.current
    verified = await visit.api("governance", "GET", f"{base}/verify")
    entry = None
    if current:
        entry = await _quietly(visit, "governance", f"{base}/entries/{current['receipt']}")
    content = (entry or {}).get("content") or {}
    return {
        **verified,
        "entry": entry,
        "sealed": "commitment" in content,  # a secret ballot's entry: the choice stays hidden
        "matches": content.get("choice") == (current or {}).get("choice"),
    }


@router.get("/votes/{proposal_id}/verification")
async def verification(visit: VisitDep, proposal_id: str) -> Response:
    _member(visit)
    view = await proposal_view(visit, _proposal_id(proposal_id))
    view.audit = await audit_of(visit, view)
    if visit.htmx:
        return render(visit, "proposal_audit.html", view=view)
    return render(visit, "proposal.html", view=view)
