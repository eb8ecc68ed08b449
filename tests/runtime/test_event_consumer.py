"""Registering handlers on a consumer group and routing a record to its typed handler."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.actors import ActorRegisteredV1, ActorSuspendedV1
from contracts.envelope import CloudEvent
from contracts.governance import DecisionMadeV1
from services.runtime.consumer import EventConsumer
from services.runtime.context import Context
from services.runtime.db import Connection
from tests.runtime.conftest import actor_event, new_subject


async def on_actor(conn: Connection, event: CloudEvent[Any], ctx: Context) -> None:
    """A handler that is only registered, never run."""


def test_one_type_cannot_have_two_handlers() -> None:
    group = EventConsumer("test.registration")
    group.on(ActorRegisteredV1)(on_actor)
    with pytest.raises(ValueError, match=re.escape("handles mcvt.actor.registered.v1 twice")):
        group.on(ActorSuspendedV1, ActorRegisteredV1)(on_actor)


def test_models_and_topics_follow_the_registrations() -> None:
    group = EventConsumer("test.registration")
    group.on(ActorRegisteredV1, ActorSuspendedV1)(on_actor)
    group.on(DecisionMadeV1)(on_actor)
    assert dict(group.models) == {
        "mcvt.actor.registered.v1": ActorRegisteredV1,
        "mcvt.actor.suspended.v1": ActorSuspendedV1,
        "mcvt.governance.decision_made.v1": DecisionMadeV1,
    }
    assert group.topics == ("mcvt.actors", "mcvt.governance")
    assert group.dead_letter_topic == "mcvt.dlq.test.registration"


def test_parse_gives_the_typed_event_and_its_handler() -> None:
    group = EventConsumer("test.registration")
    group.on(ActorRegisteredV1)(on_actor)
    event = actor_event(new_subject(), "typed")
    parsed = group.parse(event.model_dump_json().encode())
    assert parsed is not None
    typed, route = parsed
    assert route.handler is on_actor and not route.batched
    assert isinstance(typed, CloudEvent[ActorRegisteredV1])  # type: ignore[misc]
    assert isinstance(typed.data, ActorRegisteredV1)
    assert typed.model_dump() == event.model_dump()


def test_parse_skips_other_types_and_refuses_a_broken_payload() -> None:
    group = EventConsumer("test.registration")
    group.on(ActorSuspendedV1)(on_actor)
    registered = actor_event(new_subject(), "not handled here")
    assert group.parse(registered.model_dump_json().encode()) is None
    broken = registered.model_dump(mode="json")
    broken["type"] = "mcvt.actor.suspended.v1"  # lacks suspended_by and reason
    with pytest.raises(ValidationError):
        group.parse(json.dumps(broken).encode())
