"""Live updates and notification preferences over HTTP.

The relay at /flux is tested over a real uvicorn socket in front of the notifications service
on its own socket, as a browser reaches it: events stream as they come, a reconnection resumes
from `Last-Event-ID`, a visitor without a session is refused, nobody hears another actor's
events, and closing the browser's side closes the portal's stream to notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.portal.session import COOKIE
from tests.governance_steps import propose
from tests.portal.conftest import Person, Portal, csrf_in, new_person, new_place, signed_in
from tests.portal.test_agreements_pages import agreed
from tests.portal.test_pages import text_of
from tests.portal.test_votes_pages import town
from tests.scenario import Member
from tests.service.notifications.sse import Listener
from tests.service.notifications.steps import logged, proposed, publish
from tests.support import eventually, http_server


@pytest.fixture(scope="module")
async def portal_url(portal: Portal) -> AsyncIterator[str]:
    """The portal on a real socket: the relay must stream, not buffer."""
    async with http_server(portal.app, lifespan=False) as base:
        yield base


def cookie_of(browser: httpx.AsyncClient) -> str:
    return str(next(cookie.value for cookie in browser.cookies.jar if cookie.name == COOKIE))


async def session_cookie(portal: Portal, person: Person) -> str:
    """The session cookie of a browser in which `person` signed in."""
    async with signed_in(portal, person) as browser:
        return cookie_of(browser)


@contextlib.asynccontextmanager
async def relayed(
    base: str, cookie: str, *, last_event_id: str = "", since: str = ""
) -> AsyncIterator[Listener]:
    headers = {"Cookie": f"{COOKIE}={cookie}", "Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    params = {"depuis": since} if since else {}
    async with (
        httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(30, read=None)) as client,
        client.stream("GET", "/flux", headers=headers, params=params) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        listener = Listener(response)
        task = asyncio.create_task(listener.read())
        try:
            yield listener
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def ids_of(listener: Listener) -> list[str]:
    return [json.loads(event.data)["id"] for event in listener.events]


async def match_for(portal: Portal, provider: Member, requester: Member) -> str:
    """A match proposed between the two, put on the broker as matching would; its event id."""
    stack = portal.stack
    event = await publish(
        stack, proposed(requester.territory_id, provider.id, requester.id),
        str(uuid.uuid4()), requester.territory_id,
    )  # fmt: skip
    return event.id


async def test_the_relay_streams_each_event_as_it_comes_and_resumes_after_a_reconnect(
    portal: Portal, portal_url: str
) -> None:
    place = await new_place(portal.stack)
    association = await new_person(portal.stack, place.territory, kind="association")
    business = await new_person(portal.stack, place.territory, kind="business", name="Garage")
    cookie = await session_cookie(portal, association)

    async with relayed(portal_url, cookie) as stream:
        first = await match_for(portal, business.member, association.member)
        await eventually(lambda: ids_of(stream) == [first])
        second = await match_for(portal, business.member, association.member)
        # The first came before the second was even published: nothing waits for the end.
        await eventually(lambda: ids_of(stream) == [first, second])
        assert {event.event for event in stream.events} == {"mcvt.match.proposed.v1"}
        last_id = stream.events[-1].id
        assert last_id is not None and last_id.isdigit()

    # Each logged before the next is published: on two partitions they could be logged in
    # either order, and the stream follows the log.
    missed = []
    for _ in range(2):
        missed.append(await match_for(portal, business.member, association.member))
        await logged(portal.stack, missed[-1])
    async with relayed(portal_url, cookie, last_event_id=last_id) as resumed:
        live = await match_for(portal, business.member, association.member)
        await eventually(lambda: len(resumed.events) >= 3)
        await asyncio.sleep(0.3)
        assert ids_of(resumed) == [*missed, live]
    # A page opened later starts where the previous one stopped (`depuis`), without the header.
    async with relayed(portal_url, cookie, since=last_id) as page:
        await eventually(lambda: len(page.events) >= 3)
        assert ids_of(page) == [*missed, live]


async def test_nobody_hears_another_actors_events(portal: Portal, portal_url: str) -> None:
    place = await new_place(portal.stack)
    territory = place.territory
    association = await new_person(portal.stack, territory, kind="association")
    business = await new_person(portal.stack, territory, kind="business", name="Garage")
    neighbour = await new_person(portal.stack, territory, kind="association", name="Voisins")
    theirs = await match_for(portal, business.member, association.member)
    await logged(portal.stack, theirs)
    cookie = await session_cookie(portal, neighbour)
    async with relayed(portal_url, cookie) as stream:
        also_theirs = await match_for(portal, business.member, association.member)
        await logged(portal.stack, also_theirs)
        mine = await match_for(portal, business.member, neighbour.member)
        await eventually(lambda: len(stream.events) >= 1)
        await asyncio.sleep(0.3)
        assert ids_of(stream) == [mine]


async def test_the_pages_of_an_admitted_actor_carry_the_live_region(portal: Portal) -> None:
    place = await new_place(portal.stack)
    association = await new_person(portal.stack, place.territory, kind="association")
    async with signed_in(portal, association) as browser:
        page = await browser.get("/equipe")
    found = re.search(
        r'<script type="application/json" id="mots-du-direct">(.*?)</script>', page.text
    )
    assert found, page.text
    said = json.loads(found.group(1))
    assert said["mcvt.match.proposed.v1"] == {
        "text": "Nouvelle mise en relation proposée.",
        "link": "/mises-en-relation",
        "label": "Voir mes mises en relation",
    }
    assert re.search(
        r'<div id="direct" class="live" aria-live="polite" '
        r'data-depuis="\d{4}-\d\d-\d\dT[\d:.]+\+00:00"',
        page.text,
    )
    assert '<script defer src="/static/portal/live.js"></script>' in page.text
    async with portal.client() as visitor:
        welcome = await visitor.get("/")
    assert "live.js" not in welcome.text and 'id="direct"' not in welcome.text


def refreshed_parts(page: str) -> dict[str, str]:
    """The parts of a page live.js fetches again, by id: the event type prefix of each."""
    return dict(re.findall(r'<div id="([^"]+)" data-live-refresh="([^"]+)">', page))


def heard_types(page: str) -> set[str]:
    """The event types live.js listens to on the page (it refreshes on those only)."""
    found = re.search(r'id="mots-du-direct">(.*?)</script>', page)
    assert found, page
    return set(json.loads(found.group(1)))


async def test_agreements_and_votes_refresh_live_on_their_own_events(portal: Portal) -> None:
    deal = await agreed(portal.stack)
    here = await town(portal)
    proposal = await propose(portal.stack, here.facilitator.member)
    async with signed_in(portal, deal.provider) as browser:
        agreements = {path: await browser.get(path) for path in ("/conventions", deal.page)}
    async with signed_in(portal, here.citizen) as browser:
        votes = {path: await browser.get(path) for path in ("/votes", f"/votes/{proposal['id']}")}
    wanted = {
        "mcvt.agreement.": {"mcvt.agreement.signed.v1", "mcvt.agreement.statement_issued.v1"},
        "mcvt.governance.": {
            "mcvt.governance.proposal_opened.v1", "mcvt.governance.proposal_closed.v1"
        },
    }  # fmt: skip
    for pages, family in ((agreements, "mcvt.agreement."), (votes, "mcvt.governance.")):
        for path, page in pages.items():
            assert page.status_code == 200, (path, page.text)
            parts = refreshed_parts(page.text)
            assert list(parts.values()) == [family], (path, parts)
            assert wanted[family] <= heard_types(page.text), path
    # The part refreshed holds what changes: the signature awaited, the ballot (not the audit
    # check, whose answer a refresh would wipe).
    agreement = agreements[deal.page].text
    assert "Je signe la convention" in agreement[agreement.index('<div id="ma-convention"') :]
    ballot = votes[f"/votes/{proposal['id']}"].text
    part = ballot[ballot.index('<div id="ce-vote"') : ballot.index('id="audit-title"')]
    assert 'name="choice"' in part and 'id="audit-result"' not in part


async def test_the_relay_refuses_a_visitor_without_a_session(portal_url: str) -> None:
    async with httpx.AsyncClient(base_url=portal_url) as client:
        anonymous = await client.get("/flux")
        forged = await client.get("/flux", headers={"Cookie": f"{COOKIE}=forged"})
    for response in (anonymous, forged):
        assert response.status_code == 401
        assert "event-stream" not in response.headers.get("content-type", "")


async def test_a_position_that_is_not_an_event_id_is_refused(
    portal: Portal, portal_url: str
) -> None:
    place = await new_place(portal.stack)
    association = await new_person(portal.stack, place.territory, kind="association")
    cookie = await session_cookie(portal, association)
    async with httpx.AsyncClient(base_url=portal_url) as client:
        for headers, params in (({"Last-Event-ID": "abc"}, {}), ({}, {"depuis": "-1"})):
            response = await client.get(
                "/flux", headers={"Cookie": f"{COOKIE}={cookie}", **headers}, params=params
            )
            assert response.status_code == 400


async def test_closing_the_browser_closes_the_stream_to_notifications(
    portal: Portal, portal_url: str
) -> None:
    place = await new_place(portal.stack)
    association = await new_person(portal.stack, place.territory, kind="association")
    cookie = await session_cookie(portal, association)
    hub = portal.stack["notifications"].app.state.stream_hub
    async with relayed(portal_url, cookie):
        await eventually(lambda: hub.open.get(association.id) == 1)
    await eventually(lambda: association.id not in hub.open, timeout=10)


async def test_the_relay_ends_with_the_session(portal: Portal, portal_url: str) -> None:
    place = await new_place(portal.stack)
    association = await new_person(portal.stack, place.territory, kind="association")
    async with signed_in(portal, association) as browser:
        cookie = cookie_of(browser)
        page = await browser.get("/")
        await browser.post("/deconnexion", data={"csrf": csrf_in(page.text)})

    async def refused() -> bool:
        async with httpx.AsyncClient(base_url=portal_url) as client:
            response = await client.get("/flux", headers={"Cookie": f"{COOKIE}={cookie}"})
        return response.status_code == 401

    await eventually(refused)


# --- My notification preferences ----------------------------------------------------------------


async def preferences_page(browser: httpx.AsyncClient) -> httpx.Response:
    page = await browser.get("/notifications")
    assert page.status_code == 200, page.text
    return page


async def by_default(browser: httpx.AsyncClient, email: str) -> httpx.Response | None:
    """The page once it shows the person's own address, confirmed, at once."""
    page = await preferences_page(browser)
    mailed = f"Vos notifications partent à {email}, adresse confirmée." in text_of(page.text)
    return page if mailed and "dès qu'elles arrivent" in text_of(page.text) else None


def form(**values: Any) -> dict[str, Any]:
    return {
        "email": "alertes@exemple.org",
        "kinds": ["mcvt.match.*", "mcvt.governance.*"],
        "frequency": "daily",
        **values,
    }


async def test_preferences_are_saved_then_confirmed_by_mail_and_unsubscribed(
    portal: Portal,
) -> None:
    place = await new_place(portal.stack)
    association = await new_person(portal.stack, place.territory, kind="association")
    async with signed_in(portal, association) as browser:
        # By default, the address the person signed in with (actors told notifications).
        page = await eventually(lambda: by_default(browser, association.email))
        assert f'value="{association.email}"' in page.text
        saved = await browser.post("/notifications", data={**form(), "csrf": csrf_in(page.text)})
        assert saved.status_code == 303 and saved.headers["location"] == "/notifications"
        page = await preferences_page(browser)
        words = text_of(page.text)
        assert "Un lien de confirmation a été envoyé à alertes@exemple.org" in words
        assert "L'adresse alertes@exemple.org attend sa confirmation" in words
        assert re.search(r'value="mcvt\.match\.\*"[^>]*checked', page.text)
        assert re.search(r'value="mcvt\.governance\.\*"[^>]*checked', page.text)
        assert not re.search(r'value="mcvt\.agreement\.\*"[^>]*checked', page.text)
        assert re.search(r'value="daily" checked', page.text)

        # The confirmation link of the mail (its token, read where the service keeps it).
        token = await portal.stack.pool("notifications").fetchval(
            "SELECT token FROM mail_recipients WHERE email = $1", "alertes@exemple.org"
        )
        notifications = portal.stack.urls["notifications"]
        async with httpx.AsyncClient(base_url=notifications) as mail_reader:
            opened = await mail_reader.get("/mail/confirm", params={"token": token})
        assert opened.status_code == 200
        page = await preferences_page(browser)
        assert "Vos notifications partent à alertes@exemple.org, adresse confirmée." in (
            text_of(page.text)
        )
        assert "un résumé par jour" in text_of(page.text)

        stopped = await browser.post(
            "/notifications/desabonnement", data={"csrf": csrf_in(page.text)}
        )
        assert stopped.status_code == 303
        page = await preferences_page(browser)
        words = text_of(page.text)
        assert "Vous ne recevrez plus de notifications par e-mail." in words
        assert "Vous ne recevez aucune notification par e-mail." in words


async def test_preferences_without_the_session_token_change_nothing(portal: Portal) -> None:
    place = await new_place(portal.stack)
    association = await new_person(portal.stack, place.territory, kind="association")
    async with signed_in(portal, association) as browser:
        page = await preferences_page(browser)
        refused = await browser.post("/notifications", data=form())
        forged = await browser.post("/notifications", data={**form(), "csrf": "forged"})
        for response in (refused, forged):
            assert response.status_code == 403
            assert "Ce formulaire a expiré" in response.text
        saved = await browser.post("/notifications", data={**form(), "csrf": csrf_in(page.text)})
        assert saved.status_code == 303
        page = await preferences_page(browser)
        unsubscribe = await browser.post("/notifications/desabonnement", data={})
        assert unsubscribe.status_code == 403
        page = await preferences_page(browser)
        assert "attend sa confirmation" in text_of(page.text)


async def test_preferences_show_each_field_error_in_french(portal: Portal) -> None:
    place = await new_place(portal.stack)
    association = await new_person(portal.stack, place.territory, kind="association")
    async with signed_in(portal, association) as browser:
        page = await preferences_page(browser)
        sent = {"email": "pas-une-adresse", "frequency": "weekly", "csrf": csrf_in(page.text)}
        response = await browser.post("/notifications", data=sent)
        assert response.status_code == 422
        html = response.text
        assert re.search(r'id="email"[^>]*aria-invalid="true"', html)
        assert 'id="email-error">Saisissez une adresse e-mail complète' in html
        assert 'value="pas-une-adresse"' in html  # what was typed is kept
        assert "Le formulaire contient" in html and 'href="#email"' in html

        no_kind = {**form(), "kinds": [], "csrf": csrf_in(page.text)}
        response = await browser.post("/notifications", data=no_kind)
        assert response.status_code == 422
        assert 'id="kinds-error">Cochez au moins un type de notification.<' in response.text
        assert 'href="#kinds"' in response.text and 'id="kinds"' in response.text

        empty = {**form(), "email": "", "csrf": csrf_in(page.text)}
        response = await browser.post("/notifications", data=empty)
        assert response.status_code == 422
        assert 'id="email-error">Ce champ est obligatoire.<' in response.text
        page = await preferences_page(browser)
        assert "alertes@exemple.org" not in page.text  # nothing was saved


async def test_preferences_need_a_session(portal: Portal) -> None:
    async with portal.client() as browser:
        response = await browser.get("/notifications")
    assert response.status_code == 303
    assert response.headers["location"] == "/connexion?retour=%2Fnotifications"
