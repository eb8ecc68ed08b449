"""Mails at once, gathered: what concerns an address within `mail_gather_s` goes in one mail,
and a steady flow of events never puts that mail off. Inside a transaction, rolled back."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

import pytest

from contracts.envelope import CloudEvent, new_event
from services.notifications import mailing
from services.notifications.consumers import take
from services.notifications.settings import NotificationsSettings
from services.runtime.context import Context
from services.runtime.db import Connection
from services.runtime.mail import Mail
from services.runtime.scheduler import Job
from tests.harness import Stack
from tests.service.notifications.steps import proposed


class RolledBack(Exception):
    """Raised to end the test's transaction, so nothing it wrote stays."""


class Outbox:
    """A mail sender that keeps what it is given."""

    def __init__(self) -> None:
        self.sent: list[Mail] = []

    async def send(self, mail: Mail) -> None:
        self.sent.append(mail)


async def an_address(conn: Connection, actor: str, territory: str) -> str:
    recipient = uuid.uuid4()
    await conn.execute(
        """INSERT INTO mail_recipients (id, actor_id, territory_id, person, email, kinds,
        frequency, token, confirmed_at, origin)
        VALUES ($1, $2, $3, '', $4, $5, 'immediate', $6, now(), 'actors')""",
        recipient,
        uuid.UUID(actor),
        uuid.UUID(territory),
        f"{actor}@example.org",
        mailing.CONTACT_KINDS,
        secrets.token_urlsafe(16),
    )
    return str(recipient)


async def due_of(conn: Connection, recipient: str) -> datetime:
    due: datetime = await conn.fetchval(
        "SELECT due_at FROM scheduled_jobs WHERE kind = $1 AND key = $2", mailing.DIGEST, recipient
    )
    return due


async def test_what_comes_within_the_gathering_goes_in_one_mail(stack: Stack) -> None:
    territory, actor = str(uuid.uuid4()), str(uuid.uuid4())

    def proposal() -> CloudEvent[Any]:
        payload = proposed(territory, actor, str(uuid.uuid4()))
        return new_event(payload, subject=str(uuid.uuid4()), territory=territory, source="/t")

    settings = NotificationsSettings(public_url="http://notifications.test")
    outbox = Outbox()
    with pytest.raises(RolledBack):
        async with stack.pool("notifications").acquire() as conn, conn.transaction():
            recipient = await an_address(conn, actor, territory)
            await take(conn, [proposal(), proposal()], 60.0)
            first = await due_of(conn, recipient)
            await take(conn, [proposal()], 60.0)
            assert await due_of(conn, recipient) == first  # not put off by the third

            job = Job(mailing.DIGEST, recipient, first, {}, attempts=1)
            await mailing.send_digest(conn, job, Context("/t"), settings=settings, sender=outbox)
            [mail] = outbox.sent
            assert mail.to == f"{actor}@example.org"
            assert mail.subject == "MCVT · 3 nouvelles notifications"
            assert mail.text.count("Une mise en relation vous est proposée") == 3
            assert "Voici les dernières nouvelles de votre structure" in mail.text
            assert mail.html is not None and "/mail/unsubscribe?token=" in mail.html
            waiting = "SELECT count(*) FROM mail_digest_items WHERE recipient_id = $1"
            assert await conn.fetchval(waiting, uuid.UUID(recipient)) == 0

            # Alone, a notification is a mail of its own.
            await take(conn, [proposal()], 60.0)
            await mailing.send_digest(conn, job, Context("/t"), settings=settings, sender=outbox)
            assert [m.subject for m in outbox.sent[1:]] == [
                "MCVT · Une mise en relation vous est proposée"
            ]
            raise RolledBack
