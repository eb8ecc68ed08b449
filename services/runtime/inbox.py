"""Idempotent inbox: remember each consumed event id in the transaction of its effects."""

from __future__ import annotations

from services.runtime.db import Connection

_RECORD = """
INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, $3)
ON CONFLICT (consumer, event_id) DO NOTHING RETURNING true
"""


async def first_delivery(conn: Connection, consumer: str, event_id: str, event_type: str) -> bool:
    """Record the event for this consumer; False when it was already recorded (a redelivery).

    Must run inside the transaction of the handler's effects: the primary key makes a concurrent
    duplicate wait for the first transaction and then do nothing.
    """
    return bool(await conn.fetchval(_RECORD, consumer, event_id, event_type))
