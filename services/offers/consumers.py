"""Events the offers service acts on: actor events, for eligibility, locations and suspensions;
match events, for the confirmed bookings that changes must keep and the needs' status;
agreement events, for fulfilled needs and the idle share measured from confirmed usage; project
events, for the projects a need may serve and whether they still take needs."""

from __future__ import annotations

from contracts import actors, matches
from contracts.actors import ActorState, ActorSuspendedV1
from contracts.agreements import AgreementActivatedV1, AgreementRef, UsageConfirmedV1
from contracts.envelope import CloudEvent
from contracts.matches import MatchState
from contracts.projects import ProjectCreatedV1, ProjectStageChangedV1
from services.offers import domain, handlers
from services.runtime.consumer import EventConsumer
from services.runtime.context import Context
from services.runtime.db import Connection

actor_events = EventConsumer(
    "offers.actors",
    batch=EventConsumer.READ_MODEL_BATCH,
    description="Keeps the actors read model; a suspension pauses offers and withdraws needs.",
)


@actor_events.on(*actors.EVENTS)
async def on_actor_event(conn: Connection, event: CloudEvent[ActorState], ctx: Context) -> None:
    state = event.data
    reason = state.reason if isinstance(state, ActorSuspendedV1) else ""
    await handlers.apply_actor(conn, domain.actor_record(state), reason, ctx)


match_events = EventConsumer(
    "offers.matches",
    batch=EventConsumer.WORK_BATCH,
    description="Keeps the confirmed bookings; a confirmed match marks its need matched, and "
    "its cancellation (or the end of its agreement) opens the need again.",
)


@match_events.on(matches.MatchConfirmedV1, matches.MatchCancelledV1, matches.MatchEndedV1)
async def on_match_event(conn: Connection, event: CloudEvent[MatchState], ctx: Context) -> None:
    await handlers.apply_match(conn, event.data, ctx)


agreement_events = EventConsumer(
    "offers.agreements",
    batch=EventConsumer.WORK_BATCH,
    description="An agreement that starts fulfils its need; confirmed usage measures its asset's "
    "idle share.",
)


@agreement_events.on(AgreementActivatedV1, UsageConfirmedV1)
async def on_agreement_event(
    conn: Connection, event: CloudEvent[AgreementRef], ctx: Context
) -> None:
    await handlers.apply_agreement(conn, event.data, ctx)


project_events = EventConsumer(
    "offers.projects",
    batch=EventConsumer.READ_MODEL_BATCH,
    description="Keeps the projects (territory, carriers, stage) a need may name.",
)


@project_events.on(ProjectCreatedV1)
async def on_project_created(
    conn: Connection, event: CloudEvent[ProjectCreatedV1], ctx: Context
) -> None:
    await handlers.apply_project(conn, domain.project_record(event.data))


@project_events.on(ProjectStageChangedV1)
async def on_project_stage_changed(
    conn: Connection, event: CloudEvent[ProjectStageChangedV1], ctx: Context
) -> None:
    await handlers.apply_project_stage(conn, event.data)
