"""Subscriptions: which event types, for whom, and which notifications reach them.

A subscription names event types exactly (`mcvt.match.proposed.v1`) or by family
(`mcvt.match.*`), and a scope: `actor` (what concerns its owner: the objects naming it as a party,
and the territory's own business) or `territory` (everything of the owner's territory, for
facilitators and partners). No scope ever reaches another territory.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

from services.notifications.domain.audience import Audience
from services.runtime.errors import Forbidden, InvalidInput
from services.runtime.principal import FACILITATOR, PARTNER, Principal

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec asks for 24 to 64

_FAMILY = re.compile(r"^mcvt\.[a-z_]+\.\*$")


class Scope(StrEnum):
    ACTOR = "actor"
    TERRITORY = "territory"


@dataclass(frozen=True)
class Notification:
    """What a subscription is matched against: an event's type, territory and audience."""

    type: str
    territory_id: str
    parties: frozenset[str]
    audience: Audience


@dataclass(frozen=True)
class Subscriber:
    """The parts of a subscription that decide what reaches it."""

    actor_id: str
    territory_id: str
    scope: Scope
    event_types: tuple[str, ...]


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes it: `whsec_` and base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def check_event_types(
    patterns: Iterable[str], known: Collection[str], *, field: str = "event_types"
) -> tuple[str, ...]:
    """The patterns, each a known event type or a family with known members, deduplicated in
    order; InvalidInput naming `field` otherwise."""
    chosen = tuple(dict.fromkeys(patterns))
    if not chosen:
        raise InvalidInput("name at least one event type", field=field)
    for pattern in chosen:
        if pattern in known:
            continue
        if _FAMILY.match(pattern) and any(type_matches(pattern, name) for name in known):
            continue
        raise InvalidInput(
            f"unknown event type or family: {pattern!r} (e.g. mcvt.match.proposed.v1 or "
            "mcvt.match.*)",
            field=field,
        )
    return chosen


def type_matches(pattern: str, event_type: str) -> bool:
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def may_hear_territory(roles: Collection[str]) -> bool:
    """Facilitators and partners may hear of their whole territory."""
    return FACILITATOR in roles or PARTNER in roles


def scope_now(scope: Scope, roles: Collection[str] | None) -> Scope:
    """The scope a subscription reaches with its owner's roles of today (None: not known yet,
    the scope as it was granted): an owner no longer facilitator or partner hears only what
    concerns itself."""
    if scope is Scope.TERRITORY and roles is not None and not may_hear_territory(roles):
        return Scope.ACTOR
    return scope


def ensure_may_use(principal: Principal, scope: Scope) -> None:
    """Only facilitators and partners may subscribe to their whole territory."""
    if scope is Scope.TERRITORY and not may_hear_territory(principal.roles):
        raise Forbidden(
            "only facilitators and partners may subscribe to the whole territory", field="scope"
        )


def reaches(subscriber: Subscriber, notification: Notification) -> bool:
    """Whether a notification is delivered to this subscription."""
    if subscriber.territory_id != notification.territory_id:
        return False
    if not any(type_matches(p, notification.type) for p in subscriber.event_types):
        return False
    return concerns(
        subscriber.actor_id, notification, whole_territory=subscriber.scope is Scope.TERRITORY
    )


def concerns(actor_id: str, notification: Notification, *, whole_territory: bool) -> bool:
    """Whether a notification of the actor's own territory is its business."""
    return (
        whole_territory or notification.audience == "territory" or actor_id in notification.parties
    )
