"""A run of events of several territories, as one fetch hands them to the event consumer: logged
in their order, and each territory's events queued only for that territory's webhooks and
addresses. Read inside the consumer's transaction, then rolled back: the dispatcher and the
scheduler never see these rows."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pytest

from contracts.envelope import CloudEvent, EventPayload, new_event
from services.notifications import mailing
from services.notifications.consumers import take
from services.runtime.db import Connection
from tests.harness import Stack
from tests.service.notifications.steps import proposal_opened, proposed


class RolledBack(Exception):
    """Raised to end the test's transaction, so nothing it wrote stays."""


def event(payload: EventPayload, territory: str) -> CloudEvent[Any]:
    return new_event(payload, subject=str(uuid.uuid4()), territory=territory, source="/t")


async def actor_with_hook_and_address(conn: Connection, territory: str) -> tuple[str, str]:
    """An admitted actor with a webhook on its whole territory and a confirmed contact address;
    (its subscription's id, its address's id)."""
    actor, sub, recipient = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await conn.execute(
        "INSERT INTO access_actors (actor_id, territory_id, status, version) "
        "VALUES ($1, $2, 'active', 1)",
        actor,
        uuid.UUID(territory),
    )
    await conn.execute(
        """INSERT INTO subscriptions (id, actor_id, territory_id, url, event_types, scope, secret)
        VALUES ($1, $2, $3, 'https://hooks.example/in', $4, 'territory', 's')""",
        sub,
        actor,
        uuid.UUID(territory),
        ["mcvt.match.*", "mcvt.governance.*"],
    )
    await conn.execute(
        """INSERT INTO mail_recipients (id, actor_id, territory_id, person, email, kinds,
        frequency, token, confirmed_at, origin)
        VALUES ($1, $2, $3, '', $4, $5, 'immediate', $6, now(), 'actors')""",
        recipient,
        actor,
        uuid.UUID(territory),
        f"{actor}@example.org",
        mailing.CONTACT_KINDS,
        secrets.token_urlsafe(16),
    )
    return str(sub), str(recipient)


async def test_a_run_of_two_territories_reaches_each_its_own(stack: Stack) -> None:
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    with pytest.raises(RolledBack):
        async with stack.pool("notifications").acquire() as conn, conn.transaction():
            hook_one, mail_one = await actor_with_hook_and_address(conn, one)
            hook_two, mail_two = await actor_with_hook_and_address(conn, two)
            provider_one = await conn.fetchval(
                "SELECT actor_id::text FROM subscriptions WHERE id = $1", uuid.UUID(hook_one)
            )
            events = [
                event(proposed(one, provider_one, str(uuid.uuid4())), one),
                event(proposal_opened(two), two),  # the whole territory's business
                event(proposed(two, str(uuid.uuid4()), str(uuid.uuid4())), two),
            ]
            await take(conn, events, 30.0)
            await take(conn, events, 30.0)  # a second time: nothing more

            logged = await conn.fetch(
                "SELECT seq, event_id FROM notifications WHERE event_id = ANY($1) ORDER BY seq",
                [e.id for e in events],
            )
            assert [row["event_id"] for row in logged] == [e.id for e in events]
            seq = {row["event_id"]: row["seq"] for row in logged}

            deliveries = await conn.fetch(
                "SELECT subscription_id::text AS hook, event_id FROM deliveries "
                "WHERE event_id = ANY($1)",
                [e.id for e in events],
            )
            assert sorted((row["hook"], row["event_id"]) for row in deliveries) == sorted(
                [(hook_one, events[0].id), (hook_two, events[1].id), (hook_two, events[2].id)]
            )

            mails = await conn.fetch(
                "SELECT recipient_id::text AS recipient, seq FROM mail_digest_items "
                "WHERE recipient_id = ANY($1::uuid[])",
                [mail_one, mail_two],
            )
            # The other territory's address hears neither its proposal nor its motion; an
            # address hears of a match only when its actor is a party.
            assert sorted((row["recipient"], row["seq"]) for row in mails) == sorted(
                [(mail_one, seq[events[0].id]), (mail_two, seq[events[1].id])]
            )
            jobs = await conn.fetch(
                "SELECT key FROM scheduled_jobs WHERE kind = $1 AND key = ANY($2)",
                mailing.DIGEST,
                [mail_one, mail_two],
            )
            assert sorted(row["key"] for row in jobs) == sorted([mail_one, mail_two])
            raise RolledBack
