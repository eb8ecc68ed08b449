"""E-mail to people against a real SMTP server on loopback (aiosmtpd): an address confirmed by a
link, French text and HTML, only what concerns the person's actor, a refused mail retried by the
scheduler, the daily digest, and an unsubscribe link that works without signing in."""

from __future__ import annotations

import asyncio
import re
import uuid
from email.message import EmailMessage

import httpx

from tests.harness import Stack
from tests.mailbox import text_of
from tests.scenario import Member, Territory, new_member
from tests.service.notifications.conftest import FlakyMailbox
from tests.service.notifications.steps import logged, notifications, proposed, publish

_LINK = re.compile(r"http://notifications\.test(/mail/[a-z]+\?token=[A-Za-z0-9_-]+)")


def address() -> str:
    return f"benevole-{uuid.uuid4().hex[:8]}@jardins.example"


def link_in(mail: EmailMessage) -> str:
    found = _LINK.search(text_of(mail))
    assert found, text_of(mail)
    return found[1]


def html_of(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


async def confirmed(
    stack: Stack, mailbox: FlakyMailbox, member: Member, email: str, frequency: str
) -> None:
    client = notifications(stack)
    response = await client.put(
        "/v1/me/mail",
        json={"email": email, "kinds": ["mcvt.match.*"], "frequency": frequency},
        headers=member.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["confirmed"] is False
    mail = await mailbox.next_to(email)
    assert "confirmez votre adresse" in str(mail["Subject"])
    opened = await client.get(link_in(mail))  # no sign-in
    assert opened.status_code == 200 and "Adresse confirmée" in opened.text
    mine = await client.get("/v1/me/mail", headers=member.headers)
    assert mine.json()["confirmed"] is True


async def test_a_person_reads_its_notifications_by_mail_then_unsubscribes(
    stack: Stack, territory: Territory, mailbox: FlakyMailbox
) -> None:
    member = await new_member(stack, territory, kind="association", name="Les Jardins")
    email = address()
    await confirmed(stack, mailbox, member, email, "immediate")

    mailbox.refuse_once.add(email)  # the server refuses the first try: the scheduler retries
    mine = await publish(
        stack, proposed(territory.id, str(uuid.uuid4()), member.id), "m", territory.id
    )
    others = await publish(
        stack, proposed(territory.id, str(uuid.uuid4()), str(uuid.uuid4())), "m", territory.id
    )
    mail = await mailbox.next_to(email, seen=1)
    assert mailbox.refused == [email]
    assert mail["Subject"] == "MCVT · Une mise en relation vous est proposée"
    assert "Bonjour" in text_of(mail) and "Une mise en relation vous est proposée" in html_of(mail)
    await logged(stack, others.id)
    await asyncio.sleep(1)
    assert len(mailbox.to(email)) == 2  # the confirmation and the one that concerns it
    assert mine.id

    client = notifications(stack)
    unsubscribe = link_in(mail)
    page = await client.get(unsubscribe)
    assert page.status_code == 200 and "Confirmer le désabonnement" in page.text
    assert len(mailbox.to(email)) == 2  # opening the link alone changes nothing
    done = await client.post(unsubscribe)
    assert done.status_code == 200 and "Désabonnement confirmé" in done.text
    gone = await client.get("/v1/me/mail", headers=member.headers)
    assert gone.json()["kinds"] == []  # kept, receiving nothing
    later = await publish(
        stack, proposed(territory.id, str(uuid.uuid4()), member.id), "m", territory.id
    )
    await logged(stack, later.id)
    await asyncio.sleep(1)
    assert len(mailbox.to(email)) == 2


async def test_the_daily_digest_gathers_the_day(
    stack: Stack, territory: Territory, mailbox: FlakyMailbox
) -> None:
    member = await new_member(stack, territory)
    email = address()
    await confirmed(stack, mailbox, member, email, "daily")
    for _ in range(2):
        event = await publish(
            stack, proposed(territory.id, member.id, str(uuid.uuid4())), "m", territory.id
        )
        await logged(stack, event.id)
    await asyncio.sleep(0.5)
    assert len(mailbox.to(email)) == 1  # only the confirmation: the rest waits for 07:00
    # 07:00 comes (the job's due time, moved to now).
    pool = stack.pool("notifications")
    due = await pool.fetchval(
        "UPDATE scheduled_jobs SET due_at = now() WHERE kind = 'mail-digest' AND key = ("
        "SELECT id::text FROM mail_recipients WHERE email = $1) RETURNING due_at",
        email,
    )
    assert due is not None
    await pool.execute("SELECT pg_notify('scheduled_jobs', '0')")
    digest = await mailbox.next_to(email, seen=1)
    assert digest["Subject"] == "MCVT · votre récapitulatif (2 notifications)"
    assert text_of(digest).count("Une mise en relation vous est proposée") == 2


async def test_bad_preferences_are_refused_naming_the_field(
    stack: Stack, territory: Territory
) -> None:
    member = await new_member(stack, territory)
    client: httpx.AsyncClient = notifications(stack)
    for body, field in [
        ({"email": "pas-une-adresse", "kinds": ["mcvt.match.*"]}, "email"),
        ({"email": address(), "kinds": ["mcvt.rien.*"]}, "kinds"),
        ({"email": address(), "kinds": ["mcvt.match.*"], "frequency": "hourly"}, "frequency"),
    ]:
        response = await client.put("/v1/me/mail", json=body, headers=member.headers)
        assert response.status_code == 422, response.text
        assert field in [e["field"] for e in response.json()["errors"]], response.text
    unknown = await client.post("/mail/unsubscribe?token=" + "x" * 40)
    assert unknown.status_code == 404
