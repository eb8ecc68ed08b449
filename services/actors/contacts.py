"""The addresses at which an actor's people are reached, told to notifications alone on the
private topic `mcvt.contacts` (see contracts/contacts.py), in the transaction that changes them.

Each address is keyed `<actor id>/<person id or "actor">`: the topic is compacted, so once a
person leaves (or the actor is erased) the broker keeps only the removal, without the address.
"""

from __future__ import annotations

from uuid import UUID

from contracts.contacts import ContactRemovedV1, ContactSetV1
from services.actors.domain import Actor
from services.runtime.context import Context
from services.runtime.db import Connection
from services.runtime.outbox import emit, forget_published


async def set_contact(
    conn: Connection, actor: Actor, person_id: str, email: str, ctx: Context
) -> None:
    """`person_id` empty: the actor's own contact address."""
    payload = ContactSetV1(
        actor_id=str(actor.id),
        territory_id=str(actor.territory_id),
        person_id=person_id,
        email=email,
    )
    subject = key_of(actor.id, person_id)
    await emit(conn, payload, subject=subject, territory=actor.territory_id, ctx=ctx)


async def remove_contact(
    conn: Connection, actor_id: UUID, territory_id: UUID, person_id: UUID | str, ctx: Context
) -> None:
    """A person left the actor (`person_id` empty: the actor itself is erased); the published
    records of their address leave the outbox."""
    payload = ContactRemovedV1(
        actor_id=str(actor_id), territory_id=str(territory_id), person_id=str(person_id)
    )
    subject = key_of(actor_id, str(person_id))
    await forget_published(conn, subject)
    await emit(conn, payload, subject=subject, territory=territory_id, ctx=ctx)


def key_of(actor_id: UUID, person_id: str) -> str:
    return f"{actor_id}/{person_id or 'actor'}"
