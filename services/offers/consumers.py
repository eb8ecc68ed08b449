"""Events the offers service acts on: actor events, for eligibility, locations and suspensions."""

from __future__ import annotations

from contracts import actors
from contracts.actors import ActorState, ActorSuspendedV1
from contracts.envelope import CloudEvent
from services.offers import domain, handlers
from services.runtime.consumer import EventConsumer
from services.runtime.context import Context
from services.runtime.db import Connection

actor_events = EventConsumer(
    "offers.actors",
    description="Keeps the actors read model; a suspension pauses offers and withdraws needs.",
)


@actor_events.on(*actors.EVENTS)
async def on_actor_event(conn: Connection, event: CloudEvent[ActorState], ctx: Context) -> None:
    state = event.data
    reason = state.reason if isinstance(state, ActorSuspendedV1) else ""
    await handlers.apply_actor(conn, domain.actor_record(state), reason, ctx)
