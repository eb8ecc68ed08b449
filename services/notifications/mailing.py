"""E-mail to people: the same notifications, at once or in a daily digest, through the shared
mail sender (SMTP named in settings, or `.run/mail/` with `make run`).

- actors tells (private topic `mcvt.contacts`) the actor's contact address and each of its
  people's, from when they join it until they leave: those are mailed by default
  (`CONTACT_KINDS`, at once). A person may choose other kinds, a digest or another address
  (`PUT /v1/me/mail`); nothing is sent to an address of their own until they open the
  confirmation link mailed to it. One notification goes once to an address, whoever else of the
  actor shares it (a person's own choice first).
- Each notification that concerns the person's actor (as for an `actor` webhook scope) and one
  of its kinds becomes an item of the address's `mail-digest` job of the durable scheduler: due
  `mail_gather_s` after the first item waiting (at once), or at the next 07:00 (France, the
  daily digest); later items join it without putting it off. One item goes as a mail of its
  own, several as a list, so an address busy with events gets a mail every `mail_gather_s` at
  most, not one per event. A mail the server refuses or cannot take fails the job, which the
  scheduler retries with backoff (parked after its attempts).
- Every mail carries an unsubscribe link that works without signing in (its token is the
  recipient's random secret); the page asks for one click (a POST), so that a link checker that
  opens links does not unsubscribe anyone. Unsubscribing keeps the address with no kinds, so
  that a later address from actors does not subscribe it again.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from jinja2 import Environment, FileSystemLoader, select_autoescape

from contracts.contacts import ContactRemovedV1, ContactSetV1
from services.notifications.domain.mails import PARIS, Frequency, next_digest, title_of
from services.notifications.domain.subscriptions import Notification, concerns, type_matches
from services.notifications.settings import NotificationsSettings
from services.runtime import clock
from services.runtime.context import Context
from services.runtime.db import Connection
from services.runtime.mail import Mail, MailSender
from services.runtime.scheduler import Job, schedule, schedule_many

DIGEST = "mail-digest"
CONFIRM = "mail-confirm"

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

_RECIPIENT = """
SELECT id, actor_id, territory_id, person, email, kinds, frequency, token, confirmed_at
FROM mail_recipients
"""
# What the addresses actors tells of receive until their people choose otherwise.
CONTACT_KINDS = ["mcvt.match.*", "mcvt.agreement.*", "mcvt.governance.*"]


@dataclass(frozen=True)
class Links:
    public_url: str
    portal_url: str

    def unsubscribe(self, token: str) -> str:
        return f"{self.public_url}/mail/unsubscribe?token={token}"

    def confirm(self, token: str) -> str:
        return f"{self.public_url}/mail/confirm?token={token}"


def links(settings: NotificationsSettings) -> Links:
    return Links(settings.public_url.rstrip("/"), settings.portal_url.rstrip("/"))


async def route(conn: Connection, seq: int, notification: Notification, gather_s: float) -> int:
    """Queue the notification for every confirmed recipient it concerns; return how many."""
    return await route_many(conn, [(seq, notification)], gather_s)


async def route_many(
    conn: Connection, logged: Sequence[tuple[int, Notification]], gather_s: float
) -> int:
    """Queue each notification (its log `seq`) for every confirmed recipient it concerns, as an
    item of the recipient's mail job (due in `gather_s`, or at the next digest), with one read
    of the territories' recipients and two statements; return how many were queued."""
    if not logged:
        return 0
    territories = sorted({uuid.UUID(n.territory_id) for _, n in logged})
    rows = await conn.fetch(
        _RECIPIENT + " WHERE territory_id = ANY($1::uuid[]) AND confirmed_at IS NOT NULL"
        " ORDER BY person = '', id",  # a person's own choice before the actor's default
        territories,
    )
    now = clock.now()
    due = {
        Frequency.IMMEDIATE: now + timedelta(seconds=gather_s),
        Frequency.DAILY: next_digest(now),
    }
    items: list[tuple[uuid.UUID, int]] = []
    jobs: list[tuple[str, datetime, dict[str, Any]]] = []
    for seq, notification in logged:
        addressed: set[str] = set()
        for row in rows:
            if str(row["territory_id"]) != notification.territory_id:
                continue
            if not concerns(str(row["actor_id"]), notification, whole_territory=False):
                continue
            if not any(type_matches(kind, notification.type) for kind in row["kinds"]):
                continue
            if row["email"].lower() in addressed:
                continue
            addressed.add(row["email"].lower())
            items.append((row["id"], seq))
            jobs.append((str(row["id"]), due[Frequency(row["frequency"])], {}))
    if items:
        await conn.execute(
            """INSERT INTO mail_digest_items (recipient_id, seq)
            SELECT * FROM unnest($1::uuid[], $2::bigint[]) ON CONFLICT DO NOTHING""",
            [recipient for recipient, _ in items],
            [seq for _, seq in items],
        )
        await schedule_many(conn, DIGEST, jobs, sooner_only=True)
    return len(items)


async def _recipient(conn: Connection, recipient_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(_RECIPIENT + " WHERE id = $1", uuid.UUID(recipient_id))


def _item(row: asyncpg.Record) -> dict[str, str]:
    event: dict[str, Any] = json.loads(row["body"])
    when = row["created_at"].astimezone(PARIS)
    return {
        "title": title_of(row["type"]),
        "summary": f"référence {event.get('subject', '')}",
        "when": f"{when:%d/%m/%Y %H:%M}",
    }


async def send_digest(
    conn: Connection, job: Job, ctx: Context, *, settings: NotificationsSettings, sender: MailSender
) -> None:
    """The `mail-digest` job: every waiting notification of a recipient in one mail (one alone
    as a mail of its own; nothing if the recipient left or they expired)."""
    recipient = await _recipient(conn, job.key)
    if recipient is None or recipient["confirmed_at"] is None:
        return
    rows = await conn.fetch(
        """WITH taken AS (DELETE FROM mail_digest_items WHERE recipient_id = $1 RETURNING seq)
        SELECT n.seq, n.type, n.body, n.created_at FROM taken JOIN notifications n USING (seq)""",
        recipient["id"],
    )
    if not rows or not recipient["kinds"]:
        return
    items = [_item(row) for row in sorted(rows, key=lambda r: r["seq"])]
    count = len(items)
    daily = recipient["frequency"] == Frequency.DAILY
    if count == 1 and not daily:
        item = items[0]
        await _send(sender, settings, recipient, f"MCVT · {item['title']}", "notification", item)
        return
    subject = (
        f"MCVT · votre récapitulatif ({count} notification{'s' if count > 1 else ''})"
        if daily
        else f"MCVT · {count} nouvelles notifications"
    )
    await _send(sender, settings, recipient, subject, "digest", {"items": items, "daily": daily})


async def _send(
    sender: MailSender,
    settings: NotificationsSettings,
    recipient: asyncpg.Record,
    subject: str,
    template: str,
    values: dict[str, Any],
) -> None:
    """A notification mail in text and HTML, with the portal's and the unsubscribe links."""
    to = links(settings)
    values = {
        **values,
        "portal_url": to.portal_url,
        "unsubscribe_url": to.unsubscribe(recipient["token"]),
    }
    await sender.send(
        Mail(
            to=recipient["email"],
            subject=subject,
            text=TEMPLATES.get_template(f"{template}.txt").render(values),
            html=TEMPLATES.get_template(f"{template}.html").render(values),
        )
    )


async def send_confirmation(
    conn: Connection, job: Job, ctx: Context, *, settings: NotificationsSettings, sender: MailSender
) -> None:
    """The `mail-confirm` job: the link that confirms a new address."""
    recipient = await _recipient(conn, job.key)
    if recipient is None or recipient["confirmed_at"] is not None:
        return
    values = {"confirm_url": links(settings).confirm(recipient["token"])}
    await sender.send(
        Mail(
            to=recipient["email"],
            subject="MCVT · confirmez votre adresse pour recevoir les notifications",
            text=TEMPLATES.get_template("confirm.txt").render(values),
            html=TEMPLATES.get_template("confirm.html").render(values),
        )
    )


def page(title: str, message: str, *, form_token: str | None = None, action: str = "") -> str:
    """A small French page for the links opened from a mail."""
    return TEMPLATES.get_template("page.html").render(
        title=title, message=message, form_token=form_token, action=action
    )


# --- recipients ---------------------------------------------------------------------------------


async def recipient_of(conn: Connection, actor_id: str, person: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        _RECIPIENT + " WHERE actor_id = $1 AND person = $2", uuid.UUID(actor_id), person
    )


async def set_recipient(
    conn: Connection,
    actor_id: str,
    territory_id: str,
    person: str,
    email: str,
    kinds: list[str],
    frequency: Frequency,
) -> asyncpg.Record:
    """Create or change a person's preferences; a new address waits for its confirmation (a
    new token, and the confirmation mail queued)."""
    current = await recipient_of(conn, actor_id, person)
    if current is None or current["email"].lower() != email.lower():
        recipient_id = current["id"] if current else uuid.uuid4()
        await conn.execute(
            """INSERT INTO mail_recipients
            (id, actor_id, territory_id, person, email, kinds, frequency, token)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (actor_id, person) DO UPDATE SET email = EXCLUDED.email,
                kinds = EXCLUDED.kinds, frequency = EXCLUDED.frequency, token = EXCLUDED.token,
                confirmed_at = NULL, origin = 'person', updated_at = now()""",
            recipient_id,
            uuid.UUID(actor_id),
            uuid.UUID(territory_id),
            person,
            email,
            kinds,
            frequency.value,
            secrets.token_urlsafe(32),
        )
        await schedule(conn, CONFIRM, str(recipient_id), clock.now())
    else:
        await conn.execute(
            """UPDATE mail_recipients SET kinds = $2, frequency = $3, updated_at = now()
            WHERE id = $1""",
            current["id"],
            kinds,
            frequency.value,
        )
    found = await recipient_of(conn, actor_id, person)
    assert found is not None
    return found


async def stop_mail(conn: Connection, actor_id: str, person: str) -> bool:
    """No more mail about the actor to the person's address (as by the unsubscribe link);
    False when they had no address here."""
    current = await recipient_of(conn, actor_id, person)
    if current is None:
        return False
    await unsubscribe(conn, current["token"])
    return True


async def forget_recipient(conn: Connection, actor_id: str, person: str) -> bool:
    done = await conn.execute(
        "DELETE FROM mail_recipients WHERE actor_id = $1 AND person = $2",
        uuid.UUID(actor_id),
        person,
    )
    return done != "DELETE 0"


async def confirm(conn: Connection, token: str) -> bool:
    done = await conn.execute(
        """UPDATE mail_recipients SET confirmed_at = coalesce(confirmed_at, now()),
        updated_at = now() WHERE token = $1""",
        token,
    )
    return done != "UPDATE 0"


async def unsubscribe(conn: Connection, token: str) -> bool:
    """No more mail about the actor to the token's address (whichever of the actor's rows holds
    it); False when it receives none already, or the token is unknown."""
    done = await conn.execute(
        """WITH target AS (
            SELECT actor_id, lower(email) AS email FROM mail_recipients
            WHERE token = $1 AND kinds <> '{}'
        )
        UPDATE mail_recipients r SET kinds = '{}', updated_at = now() FROM target t
        WHERE r.actor_id = t.actor_id AND lower(r.email) = t.email""",
        token,
    )
    return done != "UPDATE 0"


async def contact_set(conn: Connection, contact: ContactSetV1) -> None:
    """An address from actors: mailed at once what concerns the actor, unless the person chose
    an address of their own (kept) or unsubscribed (stays so)."""
    await conn.execute(
        """INSERT INTO mail_recipients
        (id, actor_id, territory_id, person, email, kinds, frequency, token, confirmed_at, origin)
        VALUES ($1, $2, $3, $4, $5, $6, 'immediate', $7, now(), 'actors')
        ON CONFLICT (actor_id, person) DO UPDATE SET email = EXCLUDED.email, updated_at = now()
        WHERE mail_recipients.origin = 'actors'""",
        uuid.uuid4(),
        uuid.UUID(contact.actor_id),
        uuid.UUID(contact.territory_id),
        contact.person_id,
        str(contact.email),
        CONTACT_KINDS,
        secrets.token_urlsafe(32),
    )


async def contact_removed(conn: Connection, contact: ContactRemovedV1) -> None:
    await forget_recipient(conn, contact.actor_id, contact.person_id)


async def forget_actor(conn: Connection, actor_id: str) -> None:
    """An erased actor: its people's addresses and its subscriptions go."""
    await conn.execute("DELETE FROM mail_recipients WHERE actor_id = $1", uuid.UUID(actor_id))
    await conn.execute("DELETE FROM subscriptions WHERE actor_id = $1", uuid.UUID(actor_id))


async def personal_data(conn: Connection, actor_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    """What `GET /v1/me/export` returns of this service: the actor's mail recipients and its
    subscriptions (without their secrets)."""
    recipients = await conn.fetch(
        """SELECT person, email, kinds, frequency, confirmed_at, created_at
        FROM mail_recipients WHERE actor_id = $1""",
        actor_id,
    )
    subscriptions = await conn.fetch(
        """SELECT id, url, event_types, scope, description, status, created_at
        FROM subscriptions WHERE actor_id = $1""",
        actor_id,
    )
    return {
        "mail_recipients": [dict(row) for row in recipients],
        "subscriptions": [dict(row) for row in subscriptions],
    }
