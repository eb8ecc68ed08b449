"""My matches: each pair with its score explained in words and bars; accept or decline."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.portal.forms import text
from services.portal.upstream import ApiError
from services.portal.web import SignInNeeded, Visit, VisitDep
from services.portal.wording import Reason, score_reasons

router = APIRouter()

OPEN = ("proposed", "accepted")


@dataclass
class MatchView:
    match: dict[str, Any]
    offer: dict[str, Any] | None
    need: dict[str, Any] | None
    reasons: list[Reason]

    @property
    def id(self) -> str:
        return str(self.match["id"])

    @property
    def status(self) -> str:
        return str(self.match["status"])

    @property
    def mine_accepted(self) -> bool:
        return self.match.get("my_party") in self.match.get("accepted_by", [])

    @property
    def may_answer(self) -> bool:
        return self.status in OPEN and self.match.get("my_party") is not None and \
            not self.mine_accepted  # fmt: skip

    @property
    def total_percent(self) -> int:
        return round(float(self.match["score"]["total"]) * 100)


async def _quietly(visit: Visit, path: str) -> dict[str, Any] | None:
    """An offer or need for the words of a match; None when it is no longer visible."""
    try:
        found: dict[str, Any] = await visit.api("offers", "GET", path)
        return found
    except ApiError as error:
        if error.status in (403, 404):
            return None
        raise


async def match_view(visit: Visit, match: dict[str, Any]) -> MatchView:
    offer, need = await asyncio.gather(
        _quietly(visit, f"/v1/offers/{match['offer_id']}"),
        _quietly(visit, f"/v1/needs/{match['need_id']}"),
    )
    return MatchView(match, offer, need, score_reasons(visit.words, match["score"], offer, need))


@router.get("/mises-en-relation")
async def my_matches(visit: VisitDep) -> Response:
    if not visit.session.signed_in:
        raise SignInNeeded
    found = await visit.api("matching", "GET", "/v1/matches", params={"limit": 50})
    views = [await match_view(visit, match) for match in found["items"]]
    return visit.render(
        "matches.html",
        open_matches=[v for v in views if v.status in OPEN],
        confirmed=[v for v in views if v.status == "confirmed"],
        closed=[v for v in views if v.status not in (*OPEN, "confirmed")],
    )


async def _answer(visit: Visit, match_id: str, action: str, body: Any) -> Response:
    _ = visit.words.gettext
    messages = {
        "accept": _("Vous avez accepté cette mise en relation."),
        "decline": _("Vous avez refusé cette mise en relation."),
    }
    error_message = ""
    try:
        match = await visit.api("matching", "POST", f"/v1/matches/{match_id}/{action}", json=body)
    except ApiError as error:
        if error.status not in (400, 403, 404, 409, 422):
            raise
        error_message = _("Cette mise en relation n'attend plus de réponse de votre part.")
        match = await visit.api("matching", "GET", f"/v1/matches/{match_id}")
    if not visit.htmx:
        return visit.redirect("/mises-en-relation", error_message or messages[action])
    return visit.render(
        "match_card.html",
        view=await match_view(visit, match),
        notice=error_message or messages[action],
    )


@router.post("/mises-en-relation/{match_id}/accepter")
async def accept(visit: VisitDep, match_id: str) -> Response:
    await visit.form()
    return await _answer(visit, match_id, "accept", None)


@router.post("/mises-en-relation/{match_id}/refuser")
async def decline(visit: VisitDep, match_id: str) -> Response:
    form = await visit.form()
    return await _answer(visit, match_id, "decline", {"reason": text(form, "reason")})
