"""Events the offers service acts on: actor events, for eligibility, locations and suspensions."""

from __future__ import annotations

from typing import Any

from contracts import actors
from contracts.actors import ActorState, ActorSuspendedV1
from contracts.envelope import CloudEvent
from contracts.topics import Topic
from services.offers import domain, handlers
from services.runtime.consumer import EventConsumer
from services.runtime.db import Connection
from services.runtime.outbox import Context


async def on_actor_event(conn: Connection, event: CloudEvent[Any]) -> None:
    state: ActorState = event.data
    reason = state.reason if isinstance(state, ActorSuspendedV1) else ""
    ctx = Context.caused_by(event)
    await handlers.apply_actor(conn, domain.actor_record(state), reason, ctx)


actor_events = EventConsumer(
    group="offers.actors",
    topics=(Topic.ACTORS,),
    handlers={model.event_type: on_actor_event for model in actors.EVENTS},
    description="Keeps the actors read model; a suspension pauses offers and withdraws needs.",
)
