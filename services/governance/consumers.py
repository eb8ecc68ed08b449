"""The events governance acts on: actors' states, which make the colleges' members."""

from __future__ import annotations

from contracts import actors
from contracts.actors import ActorState
from contracts.envelope import CloudEvent
from services.governance import handlers
from services.runtime.consumer import EventConsumer
from services.runtime.context import Context
from services.runtime.db import Connection


def member_events(group: str) -> EventConsumer:
    """The consumer group that keeps the colleges' members from actor events."""
    consumer = EventConsumer(
        group, description="Keeps the colleges' members: admitted, suspended, their kind."
    )

    @consumer.on(*actors.EVENTS)
    async def on_actor(conn: Connection, event: CloudEvent[ActorState], ctx: Context) -> None:
        await handlers.apply_actor(conn, event.data)

    return consumer
