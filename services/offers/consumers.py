"""Events the offers service acts on: actor events, for eligibility, locations and suspensions;
match events, for the confirmed bookings that changes must keep and the needs' status."""

from __future__ import annotations

from contracts import actors, matches
from contracts.actors import ActorState, ActorSuspendedV1
from contracts.envelope import CloudEvent
from contracts.matches import MatchState
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


match_events = EventConsumer(
    "offers.matches",
    description="Keeps the confirmed bookings; a confirmed match marks its need matched, and "
    "its cancellation opens the need again.",
)


@match_events.on(matches.MatchConfirmedV1, matches.MatchCancelledV1)
async def on_match_event(conn: Connection, event: CloudEvent[MatchState], ctx: Context) -> None:
    await handlers.apply_match(conn, event.data, ctx)
