"""Idempotent inbox: remember each consumed event id in the transaction of its effects."""

from __future__ import annotations

from collections.abc import Sequence

from services.runtime.db import Connection

_RECORD = """
INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, $3)
ON CONFLICT (consumer, event_id) DO NOTHING RETURNING true
"""
# The rows go in the batch's order; an id twice in the batch is inserted, and returned, once.
_RECORD_MANY = """
INSERT INTO inbox (consumer, event_id, event_type)
SELECT $1, event_id, event_type FROM unnest($2::text[], $3::text[]) AS e(event_id, event_type)
ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id
"""


async def first_delivery(conn: Connection, consumer: str, event_id: str, event_type: str) -> bool:
    """Record the event for this consumer; False when it was already recorded (a redelivery).

    Must run inside the transaction of the handler's effects: the primary key makes a concurrent
    duplicate wait for the first transaction and then do nothing.
    """
    return bool(await conn.fetchval(_RECORD, consumer, event_id, event_type))


async def first_deliveries(
    conn: Connection, consumer: str, events: Sequence[tuple[str, str]]
) -> set[str]:
    """Record a batch of (event id, event type) in one statement; the ids recorded now, that is
    without those already recorded (redeliveries). Same transaction rule as `first_delivery`."""
    rows = await conn.fetch(
        _RECORD_MANY, consumer, [event_id for event_id, _ in events], [t for _, t in events]
    )
    return {row["event_id"] for row in rows}
