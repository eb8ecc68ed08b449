"""Topic names: one per aggregate, keyed by the aggregate id; a dead-letter topic per consumer."""

from __future__ import annotations

from enum import StrEnum


class Topic(StrEnum):
    ACTORS = "mcvt.actors"
    OFFERS = "mcvt.offers"
    NEEDS = "mcvt.needs"
    MATCHES = "mcvt.matches"
    AGREEMENTS = "mcvt.agreements"
    GOVERNANCE = "mcvt.governance"
    NOTIFICATIONS = "mcvt.notifications"
    # Private: e-mail addresses, from actors to notifications only (see contracts/contacts.py).
    CONTACTS = "mcvt.contacts"
    PROJECTS = "mcvt.projects"


DEAD_LETTER_PREFIX = "mcvt.dlq."


def dead_letter_topic(consumer_group: str) -> str:
    """The dead-letter topic of one consumer group, e.g. `mcvt.dlq.actors.governance-decisions`."""
    return f"{DEAD_LETTER_PREFIX}{consumer_group}"
