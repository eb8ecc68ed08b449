"""Where people agreed to be reached, version 1 (topic `mcvt.contacts`, compacted; key:
`<actor id>/<person id>`, or `<actor id>/actor` for the actor's own address).

A private topic: actors publishes it for notifications alone, which mails people what concerns
their actor (its contact address, and each person of the actor once they have an account).
Partners never read it (its ACL names notifications only), because it carries e-mail addresses;
the public `mcvt.actors` events never do.
"""

from __future__ import annotations

from pydantic import Field

from contracts.envelope import EventPayload
from contracts.fields import Email
from contracts.topics import Topic


class ContactSetV1(EventPayload):
    """An address at which to reach an actor: its own contact address (`person_id` empty), given
    at registration or changed since, or one of its people's, from when they joined it."""

    event_type = "mcvt.contact.set.v1"
    topic = Topic.CONTACTS

    actor_id: str
    territory_id: str
    person_id: str = Field(description="The person, or '' for the actor's own contact address.")
    email: Email


class ContactRemovedV1(EventPayload):
    """A person left the actor, or the actor was erased (`person_id` empty, then one for each
    of its people): nothing about it goes to that address any more."""

    event_type = "mcvt.contact.removed.v1"
    topic = Topic.CONTACTS

    actor_id: str
    territory_id: str
    person_id: str


EVENTS: tuple[type[EventPayload], ...] = (ContactSetV1, ContactRemovedV1)
