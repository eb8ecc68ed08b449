"""Notifications' own events, version 1 (topic `mcvt.notifications`, key: subscription id).

The notifications service delivers other services' events to partners; it publishes only what
happens to the subscriptions themselves, so that the owner's other systems (and the portal) can
react: an endpoint that failed for days, or answered 410 Gone, is disabled.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from contracts.envelope import EventPayload
from contracts.topics import Topic


class DisabledReason(StrEnum):
    GONE = "gone"  # the endpoint answered 410 Gone
    FAILING = "failing"  # every delivery failed for longer than the service tolerates


class SubscriptionDisabledV1(EventPayload):
    """A webhook subscription was disabled: nothing is delivered to it until its owner enables
    it again. Carries no URL (it may hold a token of the partner's)."""

    event_type = "mcvt.notification.subscription_disabled.v1"
    topic = Topic.NOTIFICATIONS

    subscription_id: str
    actor_id: str = Field(description="The subscription's owner.")
    territory_id: str
    reason: DisabledReason
    failing_since: datetime | None = Field(
        default=None, description="When its deliveries started failing (reason `failing`)."
    )


EVENTS: tuple[type[EventPayload], ...] = (SubscriptionDisabledV1,)

__all__ = ["EVENTS", "DisabledReason", "SubscriptionDisabledV1"]
