"""The events notifications hears: every event of the public topics it notifies about.

`<prefix>.events` writes each event once to the notification log (the stream's source, in commit
order) and queues one delivery per subscription it reaches, in the inbox's transaction: a
redelivered event adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts.actors import ActorErasedV1
from contracts.contacts import ContactRemovedV1, ContactSetV1
from contracts.envelope import CloudEvent, EventPayload
from contracts.registry import EVENT_TYPES
from contracts.topics import Topic
from services.notifications import mailing, store
from services.notifications.domain.audience import audience_of, parties_of
from services.notifications.domain.subscriptions import Notification
from services.notifications.settings import NotificationsSettings
from services.runtime.consumer import EventConsumer
from services.runtime.context import Context
from services.runtime.db import Connection

# What partners may hear of. Actors' own events carry contact details and stay out.
NOTIFIED_TOPICS = (Topic.OFFERS, Topic.NEEDS, Topic.MATCHES, Topic.AGREEMENTS, Topic.GOVERNANCE)
NOTIFIED: tuple[type[EventPayload], ...] = tuple(
    model for model in EVENT_TYPES.values() if model.topic in NOTIFIED_TOPICS
)
NOTIFIED_TYPES = frozenset(model.event_type for model in NOTIFIED)


def notification_of(event: CloudEvent[Any]) -> Notification:
    return Notification(
        event.type,
        event.territory,
        parties_of(event.data.model_dump(mode="json")),
        audience_of(event.type),
    )


async def take(conn: Connection, events: Sequence[CloudEvent[Any]], gather_s: float) -> None:
    """Log the events in their order and queue their deliveries and mails (nothing twice for
    one event id), with a few statements for the whole run."""
    logged = [
        store.Logged(event.id, notification_of(event), event.model_dump_json(), event.time)
        for event in events
    ]
    written = await store.append_many(conn, logged)
    new = [entry for entry in logged if entry.event_id in written]
    await store.fan_out(conn, new)
    await mailing.route_many(conn, [(written[n.event_id], n.notification) for n in new], gather_s)


def event_consumers(settings: NotificationsSettings) -> tuple[EventConsumer, ...]:
    events = EventConsumer(
        f"{settings.consumer_group_prefix}.events",
        batch=EventConsumer.READ_MODEL_BATCH,
        description="Every event partners may hear of: logged for the streams, queued for the "
        "webhooks it concerns.",
    )

    # Each batch's run of these events is written with a few statements, not a few per event:
    # the service's loop is shared with its API, dispatcher and scheduler, and a round trip per
    # statement is what a busy loop makes slow.
    @events.on_batch(*NOTIFIED)
    async def on_events(conn: Connection, events: Sequence[CloudEvent[Any]], ctx: Context) -> None:
        await take(conn, events, settings.mail_gather_s)

    @events.on(ActorErasedV1)
    async def on_erased(conn: Connection, event: CloudEvent[ActorErasedV1], ctx: Context) -> None:
        await mailing.forget_actor(conn, event.data.actor_id)

    contacts = EventConsumer(
        f"{settings.consumer_group_prefix}.contacts",
        description="The addresses of actors and their people (private topic mcvt.contacts), "
        "mailed what concerns their actor.",
    )

    @contacts.on(ContactSetV1)
    async def on_set(conn: Connection, event: CloudEvent[ContactSetV1], ctx: Context) -> None:
        await mailing.contact_set(conn, event.data)

    @contacts.on(ContactRemovedV1)
    async def on_removed(
        conn: Connection, event: CloudEvent[ContactRemovedV1], ctx: Context
    ) -> None:
        await mailing.contact_removed(conn, event.data)

    return (events, contacts)
