"""The events matching acts on: offers, needs, actors, governance decisions and the agreements'
ends and amendments, in one group.

One consumer group, hence one subscriber handling one record at a time: the indexes change
only in that order, and a rebuild replays every topic in the same way (a new group name reads
them all from the beginning). Asset events ride on mcvt.offers too; offers carry their asset,
so asset events are not handled.
"""

from __future__ import annotations

from contracts import actors, needs
from contracts.actors import ActorState
from contracts.agreements import AgreementAmendedV1, AgreementState
from contracts.envelope import CloudEvent
from contracts.governance import DecisionMadeV1
from contracts.needs import NeedState
from contracts.offers import OFFER_EVENTS, OfferState
from services.matching import handlers
from services.matching.agreements import ENDINGS, apply_agreement
from services.matching.readmodel import ReadModel
from services.runtime.consumer import EventConsumer
from services.runtime.context import Context
from services.runtime.db import Connection


def event_consumer(group: str, model: ReadModel) -> EventConsumer:
    """The consumer group that keeps `model` and proposes from it."""
    consumer = EventConsumer(
        group,
        batch=EventConsumer.READ_MODEL_BATCH,
        description="Keeps the read model of offers, needs and actors and the territories' "
        "matching policies; proposes matches as they change; ends the bookings of agreements "
        "that ended.",
    )

    @consumer.on(*OFFER_EVENTS)
    async def on_offer(conn: Connection, event: CloudEvent[OfferState], ctx: Context) -> None:
        await handlers.apply_offer(conn, model, event.data, ctx)

    @consumer.on(*needs.EVENTS)
    async def on_need(conn: Connection, event: CloudEvent[NeedState], ctx: Context) -> None:
        await handlers.apply_need(conn, model, event.data, ctx)

    @consumer.on(*actors.EVENTS)
    async def on_actor(conn: Connection, event: CloudEvent[ActorState], ctx: Context) -> None:
        await handlers.apply_actor(conn, model, event.data, ctx)

    @consumer.on(DecisionMadeV1)
    async def on_decision(
        conn: Connection, event: CloudEvent[DecisionMadeV1], ctx: Context
    ) -> None:
        await handlers.apply_decision(conn, model, event.data, ctx)

    @consumer.on(*ENDINGS, AgreementAmendedV1)
    async def on_agreement(
        conn: Connection, event: CloudEvent[AgreementState], ctx: Context
    ) -> None:
        await apply_agreement(conn, model, event.data, ctx)

    return consumer
