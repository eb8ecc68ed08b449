"""SQL of the notifications service: subscriptions, the notification log, the delivery queue and
its attempts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.notifications.domain.subscriptions import (
    Notification,
    Scope,
    Subscriber,
    reaches,
    scope_now,
)
from services.runtime import clock
from services.runtime.db import Connection
from services.runtime.pages import Cursor, keyset
from services.runtime.rows import Table

DELIVERIES_CHANNEL = "deliveries"
NOTIFICATIONS_CHANNEL = "notifications"
# Taken by every writer of the notification log until it commits: rows commit in `seq` order, so
# a reader that resumes after a `seq` never skips one committed later with a smaller number.
_LOG_LOCK = 0x6E6F74696679  # "notify"

SUBSCRIPTIONS = Table(
    "subscriptions",
    ("id", "actor_id", "territory_id", "url", "event_types", "scope", "description", "secret"),
)

_SUBSCRIPTION_COLUMNS = """
id, actor_id, territory_id, url, event_types, scope, description, status, disabled_reason,
failing_since, previous_secret_until, created_at, updated_at
"""


async def insert_subscription(conn: Connection, row: dict[str, Any]) -> None:
    await conn.execute(SUBSCRIPTIONS.insert_sql(), *SUBSCRIPTIONS.values(row))


async def subscription(
    conn: Connection, sub_id: uuid.UUID, owner: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = $1 AND actor_id = $2{lock}",
        sub_id,
        owner,
    )


async def subscriptions_of(
    conn: Connection, owner: uuid.UUID, after: Cursor | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE actor_id = $1
        AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
        ORDER BY created_at DESC, id DESC LIMIT $4""",
        owner,
        *keyset(after),
        limit + 1,
    )


async def change_subscription(
    conn: Connection, sub_id: uuid.UUID, url: str, event_types: Sequence[str], description: str
) -> None:
    await conn.execute(
        """UPDATE subscriptions SET url = $2, event_types = $3, description = $4,
        updated_at = now() WHERE id = $1""",
        sub_id,
        url,
        list(event_types),
        description,
    )


async def enable(conn: Connection, sub_id: uuid.UUID) -> None:
    await conn.execute(
        """UPDATE subscriptions SET status = 'active', disabled_reason = NULL,
        failing_since = NULL, updated_at = now() WHERE id = $1""",
        sub_id,
    )


async def delete_subscription(conn: Connection, sub_id: uuid.UUID, owner: uuid.UUID) -> bool:
    done = await conn.execute(
        "DELETE FROM subscriptions WHERE id = $1 AND actor_id = $2", sub_id, owner
    )
    return done != "DELETE 0"


async def rotate_secret(
    conn: Connection, sub_id: uuid.UUID, secret: str, grace_until: datetime
) -> None:
    await conn.execute(
        """UPDATE subscriptions SET previous_secret = secret, previous_secret_until = $3,
        secret = $2, updated_at = now() WHERE id = $1""",
        sub_id,
        secret,
        grace_until,
    )


# --- the notification log and its fan-out into deliveries --------------------------------------


@dataclass(frozen=True)
class Logged:
    """A notification to write to the log, with its event's id, JSON and time."""

    event_id: str
    notification: Notification
    body: str
    event_time: datetime


# The rows in the order given (`ord`): `seq` follows it. `parties` travel as comma-joined ids, as
# arrays of unequal lengths cannot be unnested.
_APPEND = """
INSERT INTO notifications (event_id, type, territory_id, parties, audience, body, event_time)
SELECT e.event_id, e.type, e.territory_id, string_to_array(e.parties, ',')::uuid[], e.audience,
       e.body, e.event_time
FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[],
            $7::timestamptz[])
     WITH ORDINALITY AS e(event_id, type, territory_id, parties, audience, body, event_time, ord)
ORDER BY e.ord
ON CONFLICT (event_id) DO NOTHING
RETURNING seq, event_id
"""


async def append(
    conn: Connection,
    event_id: str,
    notification: Notification,
    body: str,
) -> int | None:
    """Write a notification to the log (None if this event id is there already)."""
    written = await append_many(conn, [Logged(event_id, notification, body, clock.now())])
    return written.get(event_id)


async def append_many(conn: Connection, logged: Sequence[Logged]) -> dict[str, int]:
    """Write notifications to the log in the order given, with one statement; the `seq` of each
    event id written now (those already there are left out)."""
    if not logged:
        return {}
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOG_LOCK)
    rows = await conn.fetch(
        _APPEND,
        [n.event_id for n in logged],
        [n.notification.type for n in logged],
        [uuid.UUID(n.notification.territory_id) for n in logged],
        [",".join(sorted(n.notification.parties)) for n in logged],
        [n.notification.audience for n in logged],
        [n.body for n in logged],
        [n.event_time for n in logged],
    )
    if rows:
        last = max(row["seq"] for row in rows)
        await conn.execute("SELECT pg_notify($1, $2)", NOTIFICATIONS_CHANNEL, str(last))
    return {row["event_id"]: row["seq"] for row in rows}


def _subscriber(row: asyncpg.Record) -> Subscriber:
    """A subscription as its owner's roles of today (`roles`, when the row has them) allow."""
    return Subscriber(
        str(row["actor_id"]),
        str(row["territory_id"]),
        scope_now(Scope(row["scope"]), row.get("roles")),
        tuple(row["event_types"]),
    )


async def fan_out(conn: Connection, logged: Sequence[Logged]) -> int:
    """Queue one delivery of each event per active subscription it reaches (whose owner is still
    admitted), with one read of the territories' subscriptions and one insert; return how many
    were queued."""
    if not logged:
        return 0
    territories = sorted({uuid.UUID(n.notification.territory_id) for n in logged})
    rows = await conn.fetch(
        """SELECT s.id, s.actor_id, s.territory_id, s.scope, s.event_types, a.roles
        FROM subscriptions s JOIN access_actors a ON a.actor_id = s.actor_id
        WHERE s.territory_id = ANY($1::uuid[]) AND s.status = 'active' AND a.status = 'active'""",
        territories,
    )
    subscribers = [(row["id"], _subscriber(row)) for row in rows]
    chosen = [
        (sub_id, n)
        for n in logged
        for sub_id, subscriber in subscribers
        if reaches(subscriber, n.notification)
    ]
    if not chosen:
        return 0
    await _queue(conn, chosen)
    await conn.execute("SELECT pg_notify($1, '')", DELIVERIES_CHANNEL)
    return len(chosen)


async def _queue(conn: Connection, chosen: Sequence[tuple[uuid.UUID, Logged]]) -> None:
    """Queue each (subscription, event) not queued yet: one row per pair, so an event never goes
    twice to a subscription under two ids."""
    await conn.execute(
        """INSERT INTO deliveries (id, subscription_id, event_id, event_type, body, event_time)
        SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[],
                             $6::timestamptz[])
        ON CONFLICT (subscription_id, event_id) DO NOTHING""",
        [uuid.uuid4() for _ in chosen],
        [sub_id for sub_id, _ in chosen],
        [n.event_id for _, n in chosen],
        [n.notification.type for _, n in chosen],
        [n.body for _, n in chosen],
        [n.event_time for _, n in chosen],
    )


async def queue_one(
    conn: Connection,
    sub_id: uuid.UUID,
    event_id: str,
    event_type: str,
    body: str,
    event_time: datetime,
) -> uuid.UUID:
    """Queue one delivery to one subscription (a test ping)."""
    delivery_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO deliveries (id, subscription_id, event_id, event_type, body, event_time)
        VALUES ($1, $2, $3, $4, $5, $6)""",
        delivery_id,
        sub_id,
        event_id,
        event_type,
        body,
        event_time,
    )
    await conn.execute("SELECT pg_notify($1, '')", DELIVERIES_CHANNEL)
    return delivery_id


async def stream_after(
    conn: Connection,
    actor_id: uuid.UUID,
    territory_id: uuid.UUID,
    after_seq: int,
    retention_s: float,
    limit: int,
) -> list[asyncpg.Record]:
    """The actor's notifications after `after_seq`, oldest first, within the retention window."""
    return await conn.fetch(
        """SELECT seq, type, body FROM notifications
        WHERE territory_id = $2 AND seq > $3
          AND created_at > now() - make_interval(secs => $4)
          AND (audience = 'territory' OR $1 = ANY(parties))
        ORDER BY seq LIMIT $5""",
        actor_id,
        territory_id,
        after_seq,
        retention_s,
        limit,
    )


async def last_seq(conn: Connection) -> int:
    found: int | None = await conn.fetchval("SELECT max(seq) FROM notifications")
    return found or 0


async def forget_old_notifications(conn: Connection, retention_s: float) -> int:
    done = await conn.execute(
        "DELETE FROM notifications WHERE created_at < now() - make_interval(secs => $1)",
        retention_s,
    )
    return int(done.split()[-1])


# --- the delivery queue -------------------------------------------------------------------------

# Due deliveries of active subscriptions, at most `$2` in flight per subscription (the leases
# already running count), oldest first; claimed under a lease, committed at once. Each active
# subscription contributes only its `$2` oldest due rows, read from an index: a claim costs the
# number of subscriptions, not the backlog, and a long backlog of one endpoint hides no other.
_CLAIM = """
WITH busy AS (
    SELECT subscription_id, count(*) AS n FROM deliveries
    WHERE leased_until IS NOT NULL AND leased_until > now() AND status = 'pending'
    GROUP BY subscription_id),
ranked AS (
    SELECT c.id, c.next_attempt_at, s.id AS subscription_id,
           row_number() OVER (PARTITION BY s.id ORDER BY c.next_attempt_at, c.created_at)
               AS rank
    FROM subscriptions s
    CROSS JOIN LATERAL (
        SELECT d.id, d.next_attempt_at, d.created_at FROM deliveries d
        WHERE d.subscription_id = s.id AND d.status = 'pending' AND d.next_attempt_at <= now()
          AND (d.leased_until IS NULL OR d.leased_until <= now())
        ORDER BY d.next_attempt_at LIMIT $2) c
    WHERE s.status = 'active'),
eligible AS (
    SELECT r.id, r.next_attempt_at FROM ranked r
    LEFT JOIN busy b ON b.subscription_id = r.subscription_id
    WHERE r.rank + coalesce(b.n, 0) <= $2),
chosen AS (
    SELECT d.id FROM deliveries d JOIN eligible e ON e.id = d.id
    WHERE d.status = 'pending' AND (d.leased_until IS NULL OR d.leased_until <= now())
    ORDER BY e.next_attempt_at LIMIT $1
    FOR UPDATE OF d SKIP LOCKED)
UPDATE deliveries d SET attempts = d.attempts + 1, lease_id = gen_random_uuid(),
    leased_until = now() + make_interval(secs => $3), updated_at = now()
FROM chosen, subscriptions s
WHERE d.id = chosen.id AND s.id = d.subscription_id
RETURNING d.id, d.subscription_id, d.event_id, d.body, d.attempts, d.lease_id, s.url, s.secret,
    CASE WHEN s.previous_secret_until > now() THEN s.previous_secret END AS previous_secret
"""


async def claim(
    conn: Connection, limit: int, per_endpoint: int, lease_s: float
) -> list[asyncpg.Record]:
    return await conn.fetch(_CLAIM, limit, per_endpoint, lease_s)


@dataclass(frozen=True)
class Attempt:
    """One attempt of a delivery, as its log shows it."""

    number: int  # within the delivery's current schedule
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    response: str


async def record_attempt(
    conn: Connection, delivery_id: uuid.UUID, lease_id: uuid.UUID, attempt: Attempt
) -> bool:
    """Log an attempt of a delivery this worker still holds (False if its lease was lost)."""
    held = await conn.fetchval(
        "SELECT true FROM deliveries WHERE id = $1 AND lease_id = $2 FOR UPDATE",
        delivery_id,
        lease_id,
    )
    if not held:
        return False
    await conn.execute(
        """INSERT INTO delivery_attempts
        (delivery_id, attempt, started_at, duration_ms, status_code, error, response)
        VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        delivery_id,
        attempt.number,
        attempt.started_at,
        attempt.duration_ms,
        attempt.status_code,
        attempt.error,
        attempt.response,
    )
    return True


# The common case in one statement (atomic without a transaction of its own): a delivery this
# worker still holds succeeded; its attempt is logged, its subscription no longer failing.
_SUCCEEDED = """
WITH d AS (
    UPDATE deliveries SET status = 'succeeded', lease_id = NULL, leased_until = NULL,
        last_status = $3, last_error = NULL, updated_at = now()
    WHERE id = $1 AND lease_id = $2 RETURNING id, subscription_id),
logged AS (
    INSERT INTO delivery_attempts
        (delivery_id, attempt, started_at, duration_ms, status_code, error, response)
    SELECT d.id, $4, $5, $6, $3, NULL, $7 FROM d RETURNING 1),
healed AS (
    UPDATE subscriptions s SET failing_since = NULL FROM d
    WHERE s.id = d.subscription_id AND s.failing_since IS NOT NULL RETURNING 1)
SELECT count(*) FROM d
"""


async def succeeded(
    conn: Connection, delivery_id: uuid.UUID, lease_id: uuid.UUID, attempt: Attempt
) -> bool:
    """Record a successful attempt (False if the lease was lost meanwhile)."""
    held: int = await conn.fetchval(
        _SUCCEEDED,
        delivery_id,
        lease_id,
        attempt.status_code,
        attempt.number,
        attempt.started_at,
        attempt.duration_ms,
        attempt.response,
    )
    return held == 1


async def failed(
    conn: Connection,
    delivery_id: uuid.UUID,
    *,
    status_code: int | None,
    error: str | None,
    retry_in_s: float | None,
) -> datetime:
    """Record a failed attempt: retried in `retry_in_s`, or failed for good when None. Return
    since when the subscription has been failing."""
    since: datetime = await conn.fetchval(
        """WITH d AS (
            UPDATE deliveries SET lease_id = NULL, leased_until = NULL, last_status = $2,
                last_error = $3, updated_at = now(),
                status = CASE WHEN $4::float8 IS NULL THEN 'failed' ELSE 'pending' END,
                next_attempt_at = CASE WHEN $4::float8 IS NULL THEN next_attempt_at
                                       ELSE now() + make_interval(secs => $4) END
            WHERE id = $1 RETURNING subscription_id)
        UPDATE subscriptions s SET failing_since = coalesce(s.failing_since, now())
        FROM d WHERE s.id = d.subscription_id RETURNING s.failing_since""",
        delivery_id,
        status_code,
        error,
        retry_in_s,
    )
    return since


async def release(conn: Connection, delivery_id: uuid.UUID, lease_id: uuid.UUID) -> None:
    """Give a claim back untried (the worker is stopping): claimable again at once."""
    await conn.execute(
        """UPDATE deliveries SET lease_id = NULL, leased_until = NULL, attempts = attempts - 1
        WHERE id = $1 AND lease_id = $2""",
        delivery_id,
        lease_id,
    )


async def disable(conn: Connection, sub_id: uuid.UUID, reason: str) -> asyncpg.Record | None:
    """Disable an active subscription; its owner, territory and failing_since (None if it was
    not active)."""
    return await conn.fetchrow(
        """UPDATE subscriptions SET status = 'disabled', disabled_reason = $2, updated_at = now()
        WHERE id = $1 AND status = 'active'
        RETURNING id, actor_id, territory_id, failing_since""",
        sub_id,
        reason,
    )


async def subscription_of_delivery(conn: Connection, delivery_id: uuid.UUID) -> uuid.UUID:
    found: uuid.UUID = await conn.fetchval(
        "SELECT subscription_id FROM deliveries WHERE id = $1", delivery_id
    )
    return found


# --- the delivery log ---------------------------------------------------------------------------

_DELIVERY_COLUMNS = """
id, event_id, event_type, status, attempts, next_attempt_at, last_status, last_error,
event_time, created_at, updated_at
"""


async def deliveries_of(
    conn: Connection, sub_id: uuid.UUID, after: Cursor | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE subscription_id = $1
        AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
        ORDER BY created_at DESC, id DESC LIMIT $4""",
        sub_id,
        *keyset(after),
        limit + 1,
    )


async def attempts_of(
    conn: Connection, delivery_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[asyncpg.Record]]:
    rows = await conn.fetch(
        """SELECT delivery_id, attempt, started_at, duration_ms, status_code, error, response
        FROM delivery_attempts WHERE delivery_id = ANY($1::uuid[])
        ORDER BY delivery_id, started_at""",
        list(delivery_ids),
    )
    found: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for row in rows:
        found.setdefault(row["delivery_id"], []).append(row)
    return found


async def delivery(
    conn: Connection, sub_id: uuid.UUID, delivery_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE id = $1 AND subscription_id = $2",
        delivery_id,
        sub_id,
    )


async def redeliver(conn: Connection, delivery_id: uuid.UUID) -> None:
    """Make a delivery due now with a fresh schedule (a running attempt finishes first)."""
    await conn.execute(
        """UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(),
        updated_at = now() WHERE id = $1""",
        delivery_id,
    )
    await conn.execute("SELECT pg_notify($1, '')", DELIVERIES_CHANNEL)


# The log of one territory over a time range, a page at a time (keyset on the event's time).
_LOGGED_IN_RANGE = """
SELECT seq, event_id, type, territory_id, parties, audience, body, event_time FROM notifications
WHERE territory_id = $1 AND event_time >= $2 AND event_time < $3
  AND (event_time, seq) > ($4, $5)
ORDER BY event_time, seq LIMIT $6
"""
_REPLAY_PAGE = 500


async def replay(
    conn: Connection, subscription: asyncpg.Record, since: datetime, until: datetime
) -> int:
    """Deliver again every event of the subscription published in [since, until); return how
    many deliveries are due now.

    The log's events of that range that reach the subscription (`reaches`, the rule fan_out
    applies, so nothing its owner may not see) are queued where they were not, as while it was
    disabled; then every delivery of the range is due now with a fresh schedule. There is one
    delivery per (subscription, event), whose webhook id is the event's: replaying twice sends
    the same message again, never a second one."""
    sub_id: uuid.UUID = subscription["id"]
    subscriber = _subscriber(subscription)
    position: tuple[datetime, int] = (since, 0)
    while True:
        rows = await conn.fetch(
            _LOGGED_IN_RANGE,
            subscription["territory_id"],
            since,
            until,
            *position,
            _REPLAY_PAGE,
        )
        chosen = [
            (sub_id, entry)
            for entry in map(_logged_of, rows)
            if reaches(subscriber, entry.notification)
        ]
        if chosen:
            await _queue(conn, chosen)
        if len(rows) < _REPLAY_PAGE:
            break
        position = (rows[-1]["event_time"], rows[-1]["seq"])
    done = await conn.execute(
        """UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(),
        updated_at = now()
        WHERE subscription_id = $1 AND event_time >= $2 AND event_time < $3""",
        sub_id,
        since,
        until,
    )
    await conn.execute("SELECT pg_notify($1, '')", DELIVERIES_CHANNEL)
    return int(done.split()[-1])


def _logged_of(row: asyncpg.Record) -> Logged:
    notification = Notification(
        row["type"],
        str(row["territory_id"]),
        frozenset(str(party) for party in row["parties"]),
        row["audience"],
    )
    return Logged(row["event_id"], notification, row["body"], row["event_time"])
