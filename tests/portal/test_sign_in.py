"""Signing in at the portal with a link mailed by actors, the session kept fresh, signing out,
and inviting a colleague."""

from __future__ import annotations

import re

from services.portal.session import COOKIE, SessionCodec
from tests.portal.conftest import (
    SESSION_KEY,
    Portal,
    csrf_in,
    new_person,
    new_place,
    replace_session_cookie,
    signed_in,
)
from tests.support import eventually


async def test_the_link_in_the_mail_opens_a_session_and_returns_to_the_page_asked_for(
    portal: Portal,
) -> None:
    stack = portal.stack
    person = await new_person(stack, (await new_place(stack)).territory, name="Épicerie")
    async with portal.client() as browser:
        asked = await browser.get("/mises-en-relation")
        page = await browser.get(asked.headers["location"])
        assert 'name="retour" value="/mises-en-relation"' in page.text
        seen = len(portal.mailbox.to(person.email))
        sent = await browser.post(
            "/connexion",
            data={
                "email": person.email,
                "retour": "/mises-en-relation",
                "csrf": csrf_in(page.text),
            },
        )
        assert "Regardez vos e-mails" in sent.text
        token = await portal.mailbox.link_to(person.email, seen=seen)
        confirm = await browser.get(f"/connexion/{token}")
        assert "Ouvrir ma session" in confirm.text  # a button: opening the mail spends nothing
        opened = await browser.post(f"/connexion/{token}", data={"csrf": csrf_in(confirm.text)})
        assert opened.status_code == 303
        assert opened.headers["location"] == "/mises-en-relation"
        matches = await browser.get("/mises-en-relation")
        assert matches.status_code == 200 and "Épicerie" in matches.text
        # The link is spent: a second use is refused in French, without a session.
        again = await browser.post(f"/connexion/{token}", data={"csrf": csrf_in(confirm.text)})
    assert again.status_code == 400
    assert "Ce lien n&#39;est plus valable" in again.text


async def test_an_unknown_address_gets_the_same_answer_and_no_mail(portal: Portal) -> None:
    async with portal.client() as browser:
        page = await browser.get("/connexion")
        before = portal.mailbox.count
        sent = await browser.post(
            "/connexion", data={"email": "personne@exemple.org", "csrf": csrf_in(page.text)}
        )
        bad = await browser.post(
            "/connexion", data={"email": "pas une adresse", "csrf": csrf_in(page.text)}
        )
    assert sent.status_code == 200 and "Regardez vos e-mails" in sent.text
    assert portal.mailbox.count == before
    assert bad.status_code == 422 and 'id="email-error"' in bad.text


async def test_an_expiring_access_token_is_refreshed_without_the_person_noticing(
    portal: Portal,
) -> None:
    stack = portal.stack
    person = await new_person(stack, (await new_place(stack)).territory, name="Épicerie")
    codec = SessionCodec(SESSION_KEY, 3600)
    async with signed_in(portal, person) as browser:
        session = codec.load(browser.cookies.get(COOKIE))
        old_access, old_refresh = session.access_token, session.refresh_token
        session.expires_at = 0  # as if the 15 minutes had passed
        replace_session_cookie(browser, codec.dump(session))
        page = await browser.get("/mises-en-relation")
        assert page.status_code == 200
        fresh = codec.load(browser.cookies.get(COOKIE))
    assert fresh.access_token != old_access and fresh.refresh_token != old_refresh
    assert fresh.expires_at > 0


async def test_signing_out_ends_the_session_even_for_a_copy_of_the_cookie(portal: Portal) -> None:
    stack = portal.stack
    person = await new_person(stack, (await new_place(stack)).territory, name="Épicerie")
    async with signed_in(portal, person) as browser:
        copied = browser.cookies.get(COOKIE)
        page = await browser.get("/")
        out = await browser.post("/deconnexion", data={"csrf": csrf_in(page.text)})
        assert out.status_code == 303
        after = await browser.get("/mises-en-relation")
        assert after.status_code == 303 and after.headers["location"].startswith("/connexion")
    async with portal.client() as thief:
        thief.cookies.set(COOKIE, str(copied))  # a fresh browser: no cookie to replace

        async def refused() -> bool:
            response = await thief.get("/mises-en-relation")
            return response.status_code == 303

        await eventually(refused, timeout=20)  # once the end of the session reached matching


async def test_an_admin_invites_a_colleague_who_signs_in_for_the_same_actor(
    portal: Portal,
) -> None:
    stack = portal.stack
    admin = await new_person(stack, (await new_place(stack)).territory, name="Garage solidaire")
    colleague = f"collegue-{admin.id[:8]}@exemple.org"
    async with signed_in(portal, admin) as browser:
        page = await browser.get("/equipe")
        assert "Inviter une ou un collègue" in page.text and admin.email in page.text
        seen = len(portal.mailbox.to(colleague))
        invited = await browser.post(
            "/equipe",
            data={
                "name": "Lou Martin",
                "email": colleague,
                "role": "member",
                "csrf": csrf_in(page.text),
            },
        )
        assert invited.status_code == 303
        team = await browser.get("/equipe")
    assert "Lou Martin" in team.text and colleague in team.text
    token = await portal.mailbox.link_to(colleague, seen=seen)
    async with portal.client() as other:
        confirm = await other.get(f"/connexion/{token}")
        opened = await other.post(f"/connexion/{token}", data={"csrf": csrf_in(confirm.text)})
        assert opened.status_code == 303
        their_team = await other.get("/equipe")
    assert "Garage solidaire" in their_team.text
    assert "Seules les personnes administratrices" in their_team.text  # a member invites no one
    assert re.search(r"Lou Martin", their_team.text)
