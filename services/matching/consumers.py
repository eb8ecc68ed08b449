"""The events matching acts on: offers, needs, actors and governance decisions, in one group.

One consumer group, hence one subscriber handling one record at a time: the indexes change
only in that order, and a rebuild replays every topic in the same way (a new group name reads
them all from the beginning).
"""

from __future__ import annotations

from typing import Any

from contracts import actors, needs, offers
from contracts.envelope import CloudEvent
from contracts.governance import DecisionMadeV1
from contracts.offers import OfferState
from contracts.topics import Topic
from services.matching import handlers
from services.matching.readmodel import ReadModel
from services.runtime.consumer import EventConsumer, Handler
from services.runtime.db import Connection
from services.runtime.outbox import Context

TOPICS = (Topic.OFFERS, Topic.NEEDS, Topic.ACTORS, Topic.GOVERNANCE)


def event_consumer(group: str, model: ReadModel) -> EventConsumer:
    """The consumer group that keeps `model` and proposes from it."""

    async def on_offer(conn: Connection, event: CloudEvent[Any]) -> None:
        await handlers.apply_offer(conn, model, event.data, Context.caused_by(event))

    async def on_need(conn: Connection, event: CloudEvent[Any]) -> None:
        await handlers.apply_need(conn, model, event.data, Context.caused_by(event))

    async def on_actor(conn: Connection, event: CloudEvent[Any]) -> None:
        await handlers.apply_actor(conn, model, event.data, Context.caused_by(event))

    async def on_decision(conn: Connection, event: CloudEvent[Any]) -> None:
        await handlers.apply_decision(conn, model, event.data, Context.caused_by(event))

    # Asset events ride on mcvt.offers too; offers carry their asset, so they are skipped.
    routes: dict[str, Handler] = {
        model_.event_type: on_offer for model_ in offers.EVENTS if issubclass(model_, OfferState)
    }
    routes.update({model_.event_type: on_need for model_ in needs.EVENTS})
    routes.update({model_.event_type: on_actor for model_ in actors.EVENTS})
    routes[DecisionMadeV1.event_type] = on_decision
    return EventConsumer(
        group=group,
        topics=tuple(str(topic) for topic in TOPICS),
        handlers=routes,
        description="Keeps the read model of offers, needs and actors and the territories' "
        "matching policies; proposes matches as they change.",
    )
