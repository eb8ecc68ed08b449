"""The events governance acts on: actors' states, which make the colleges' members, and new
agreements on public assets, whose approval it puts to the vote when the territory's rule asks."""

from __future__ import annotations

from uuid import UUID

from contracts import actors
from contracts.actors import ActorState
from contracts.agreements import AgreementCreatedV1
from contracts.envelope import CloudEvent
from services.governance import handlers
from services.runtime.consumer import EventConsumer
from services.runtime.context import Context
from services.runtime.db import Connection


def member_events(group: str) -> EventConsumer:
    """The consumer group that keeps the colleges' members from actor events."""
    consumer = EventConsumer(
        group,
        description="Keeps the colleges' members: admitted, suspended, their kind.",
        batch=EventConsumer.READ_MODEL_BATCH,
    )

    @consumer.on(*actors.EVENTS)
    async def on_actor(conn: Connection, event: CloudEvent[ActorState], ctx: Context) -> None:
        await handlers.apply_actor(conn, event.data)

    return consumer


def agreement_events(group: str) -> EventConsumer:
    """The consumer group that opens the approval of agreements on public assets."""
    consumer = EventConsumer(
        group,
        description="Opens the approval of a new agreement on a public asset when the "
        "territory's rule asks for one.",
    )

    @consumer.on(AgreementCreatedV1)
    async def on_created(
        conn: Connection, event: CloudEvent[AgreementCreatedV1], ctx: Context
    ) -> None:
        agreement = event.data
        if agreement.public_asset or agreement.awaits_approval:
            await handlers.open_approval(
                conn,
                UUID(agreement.territory_id),
                agreement.agreement_id,
                awaited=agreement.awaits_approval,
                ctx=ctx,
            )

    return consumer
