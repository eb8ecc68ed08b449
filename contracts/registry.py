"""Every published event type, and parsing a raw record into its typed envelope."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from contracts import (
    actors,
    agreements,
    contacts,
    governance,
    matches,
    needs,
    notifications,
    offers,
    projects,
)
from contracts.envelope import CloudEvent, EventPayload

EVENT_TYPES: dict[str, type[EventPayload]] = {}


def register(*models: type[EventPayload]) -> None:
    """Add event payload models to the registry (each aggregate's module lists its own)."""
    for model in models:
        if model.event_type in EVENT_TYPES and EVENT_TYPES[model.event_type] is not model:
            raise ValueError(f"event type {model.event_type} registered twice")
        EVENT_TYPES[model.event_type] = model


register(*actors.PUBLISHED, *governance.EVENTS)
register(*offers.EVENTS, *needs.EVENTS)
register(*matches.EVENTS)
register(*agreements.EVENTS)
register(*notifications.EVENTS)
register(*contacts.EVENTS)
register(*projects.EVENTS)


class _Head(BaseModel):
    type: str


class UnknownEventType(ValueError):
    """The record is a well-formed envelope of a type this build does not know."""


def parse_event(raw: bytes | str) -> CloudEvent[Any]:
    """Validate a structured-mode CloudEvent and its payload against the registered contract.

    Raises pydantic.ValidationError for a malformed record and UnknownEventType for a type that
    is not registered (a consumer may skip those: a newer producer may know more types).
    """
    head = _Head.model_validate_json(raw)
    model = EVENT_TYPES.get(head.type)
    if model is None:
        raise UnknownEventType(head.type)
    return CloudEvent[model].model_validate_json(raw)  # type: ignore[valid-type]


__all__ = ["EVENT_TYPES", "UnknownEventType", "ValidationError", "parse_event", "register"]
