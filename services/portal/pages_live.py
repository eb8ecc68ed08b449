"""Live updates: the signed-in person's notifications stream, relayed at /flux.

The browser cannot send the bearer token the notifications stream asks for, and the CSP lets
it connect to the portal only: the portal opens `GET /v1/stream` with the session's access
token (refreshed as for any page) and passes the Server-Sent Events through byte for byte, as
they come. `Last-Event-ID` (sent by EventSource when it reconnects by itself) or `depuis` (a
page that starts where the previous one stopped) is passed on, so nothing is missed between
two connections. Closing the browser's side closes the upstream one.

`install` gives static/live.js, through base.html, what it says of each event, in French.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, TypedDict

import anyio
import httpx
from fastapi import APIRouter, Header, Query
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from sse_starlette import EventSourceResponse

from services.portal.i18n import Words
from services.portal.web import SignInNeeded, Visit, VisitDep, save_session
from services.runtime import clock

router = APIRouter()
log = logging.getLogger(__name__)

# The notifications stream pings every 15 s by default: this long without a byte, it is gone
# (the browser then reconnects with its last id).
SILENCE_S = 60.0
Position = Annotated[str | None, Header(alias="last-event-id", max_length=20)]
Since = Annotated[str | None, Query(alias="depuis", max_length=20)]


class LiveMessage(TypedDict):
    text: str
    link: str
    label: str


def live_messages(words: Words) -> dict[str, LiveMessage]:
    """Event type -> the sentence shown when it arrives, and the page where to see it."""
    _ = words.gettext
    matches = ("/mises-en-relation", _("Voir mes mises en relation"))
    agreements = ("/conventions", _("Voir mes conventions"))
    votes = ("/votes", _("Voir les votes"))
    said = {
        "mcvt.match.proposed.v1": (_("Nouvelle mise en relation proposée."), matches),
        "mcvt.match.accepted.v1": (_("Une mise en relation a été acceptée."), matches),
        "mcvt.match.declined.v1": (_("Une mise en relation a été refusée."), matches),
        "mcvt.match.confirmed.v1": (
            _("Une mise en relation est confirmée par les deux parties."),
            matches,
        ),
        "mcvt.match.expired.v1": (_("Une proposition de mise en relation a expiré."), matches),
        "mcvt.match.cancelled.v1": (_("Une mise en relation a été annulée."), matches),
        "mcvt.agreement.created.v1": (_("Une convention d'usage est prête à signer."), agreements),
        "mcvt.agreement.signed.v1": (_("Une convention d'usage a été signée."), agreements),
        "mcvt.agreement.activated.v1": (_("Une convention d'usage commence."), agreements),
        "mcvt.agreement.usage_recorded.v1": (_("Un usage a été déclaré."), agreements),
        "mcvt.agreement.usage_confirmed.v1": (_("Un usage a été confirmé."), agreements),
        "mcvt.agreement.usage_disputed.v1": (_("Un usage est contesté."), agreements),
        "mcvt.agreement.statement_issued.v1": (_("Un relevé a été émis."), agreements),
        "mcvt.agreement.completed.v1": (
            _("Une convention d'usage est arrivée à son terme."),
            agreements,
        ),
        "mcvt.agreement.terminated.v1": (_("Une convention d'usage a été résiliée."), agreements),
        "mcvt.governance.proposal_opened.v1": (_("Une proposition est ouverte au vote."), votes),
        "mcvt.governance.proposal_closed.v1": (
            _("Un vote est clos : son résultat est publié."),
            votes,
        ),
        "mcvt.governance.decision_made.v1": (
            _("Une décision a été prise par le territoire."),
            votes,
        ),
    }
    return {
        kind: {"text": text, "link": link, "label": label}
        for kind, (text, (link, label)) in said.items()
    }


def install(templates: Jinja2Templates, words: Words) -> None:
    """What base.html gives live.js: the sentences, and when the page was made (what happened
    before is already on it; milliseconds, the precision every browser's Date.parse reads)."""
    templates.env.globals.update(
        live_messages=live_messages(words),
        live_now=lambda: clock.now().isoformat(timespec="milliseconds"),
    )


def _refused(visit: Visit, status: int, retry_after: str | None = None) -> Response:
    """An answer EventSource does not retry by itself (live.js tries again later)."""
    headers = {"Retry-After": retry_after} if retry_after else {}
    return save_session(visit.request, Response(status_code=status, headers=headers))


async def _relay(upstream: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.HTTPError as error:  # the upstream went away: the browser reconnects
        log.info("notifications stream ended: %s", type(error).__name__)
    finally:
        # Shielded: the browser's disconnect cancels this task, and the close must still run.
        with anyio.CancelScope(shield=True):
            await upstream.aclose()


@router.get("/flux", include_in_schema=False)
async def live(visit: VisitDep, last_event_id: Position = None, since: Since = None) -> Response:
    position = last_event_id or since
    if position is not None and not position.isdigit():
        return _refused(visit, 400)
    try:
        token = await visit.token()
    except SignInNeeded:
        return _refused(visit, 401)
    portal = visit.portal
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    if position:
        headers["Last-Event-ID"] = position
    request = portal.upstream.client.build_request(
        "GET",
        portal.upstream.urls["notifications"] + "/v1/stream",
        headers=headers,
        timeout=httpx.Timeout(portal.settings.upstream_timeout_s, read=SILENCE_S),
    )
    try:
        upstream = await portal.upstream.client.send(request, stream=True)
    except httpx.HTTPError as error:
        log.warning("notifications stream out of reach: %s", type(error).__name__)
        return _refused(visit, 503, "30")
    if upstream.status_code != 200:
        await upstream.aclose()
        if upstream.status_code == 401 and "retry-after" not in upstream.headers:
            visit.session.sign_out()  # the session ended at actors
            return _refused(visit, 401)
        if upstream.status_code == 429:  # too many tabs open on this actor's stream
            return _refused(visit, 429, upstream.headers.get("retry-after", "30"))
        if upstream.status_code in (400, 403):
            return _refused(visit, upstream.status_code)
        log.warning("notifications stream answered %s", upstream.status_code)
        return _refused(visit, 503, "30")
    response = EventSourceResponse(
        _relay(upstream),
        # No pings of the portal's own: one could fall between two chunks of an event. The
        # upstream's pass through.
        ping=0,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
    return save_session(visit.request, response)
