"""The CloudEvents 1.0 envelope that every MCVT event travels in.

Structured content mode: the whole envelope is the JSON value of the Kafka record, the key is the
aggregate id (so one aggregate's events stay in one partition, in order). The extension
attributes `territory`, `correlationid`, `causationid` and `actorid` follow the CloudEvents naming
rules (lower-case alphanumerics).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from contracts.topics import Topic

CONTENT_TYPE = "application/cloudevents+json"


class EventPayload(BaseModel):
    """Base of every event payload. Subclasses set `event_type` and `topic`.

    Readers ignore unknown fields so that a producer may add optional fields in a minor change.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[Topic]


P = TypeVar("P", bound=BaseModel)


class CloudEvent(BaseModel, Generic[P]):
    """A CloudEvents 1.0 envelope with MCVT's extension attributes and a typed payload."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, description="Unique per event: the dedupe key of every inbox.")
    source: str = Field(
        min_length=1, description="URI-reference of the producer, e.g. /mcvt/actors."
    )
    type: str = Field(
        min_length=1, description="Versioned event type, e.g. mcvt.actor.registered.v1."
    )
    time: datetime
    subject: str = Field(min_length=1, description="The aggregate id; also the Kafka key.")
    datacontenttype: Literal["application/json"] = "application/json"
    territory: str = Field(min_length=1, description="Territory the event belongs to.")
    correlationid: str = Field(min_length=1, description="Id of the request or flow that began it.")
    causationid: str | None = Field(
        default=None, description="Id of the event or request that caused it."
    )
    actorid: str | None = Field(
        default=None,
        description="The actor whose request began the flow; null for the platform's own jobs.",
    )
    data: P


def new_event(
    payload: EventPayload,
    *,
    subject: str,
    territory: str,
    source: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    actor_id: str | None = None,
) -> CloudEvent[Any]:
    """Wrap a payload in a fresh envelope (new id, current time)."""
    event_id = str(uuid.uuid4())
    # Parametrise by the payload's own class so the JSON carries every payload field.
    typed: Any = CloudEvent[type(payload)]  # type: ignore[misc]
    event: CloudEvent[Any] = typed(
        id=event_id,
        source=source,
        type=payload.event_type,
        time=datetime.now(UTC),
        subject=subject,
        territory=territory,
        correlationid=correlation_id or event_id,
        causationid=causation_id,
        actorid=actor_id,
        data=payload,
    )
    return event
