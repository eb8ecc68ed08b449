"""Actor events, version 1 (topic `mcvt.actors`, key: actor id).

Every event carries the actor's full current state so that a consumer keeps its read model
without calling back; `version` grows by one with each change of the actor.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import EventPayload
from contracts.fields import Commune
from contracts.topics import Topic


class ActorKind(StrEnum):
    BUSINESS = "business"
    ASSOCIATION = "association"
    LOCAL_AUTHORITY = "local_authority"
    CITIZEN = "citizen"
    RESEARCH_TRAINING = "research_training"


class ActorStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Location(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    commune: Commune | None = None


class ActorState(EventPayload):
    """The actor as it is after the event."""

    actor_id: str
    territory_id: str
    kind: ActorKind
    name: str
    status: ActorStatus
    roles: list[str] = Field(default_factory=list)
    location: Location | None = None
    siret: str | None = None
    version: int = Field(ge=1)


class ActorRegisteredV1(ActorState):
    event_type = "mcvt.actor.registered.v1"
    topic = Topic.ACTORS


class ActorAdmittedV1(ActorState):
    event_type = "mcvt.actor.admitted.v1"
    topic = Topic.ACTORS

    admitted_by: str | None = Field(
        default=None,
        description="Facilitator actor id, or null when a governance decision admitted.",
    )
    decision_id: str | None = None


class ActorUpdatedV1(ActorState):
    event_type = "mcvt.actor.updated.v1"
    topic = Topic.ACTORS

    changed: list[str] = Field(
        default_factory=list, description="Names of the fields that changed."
    )


class ActorSuspendedV1(ActorState):
    event_type = "mcvt.actor.suspended.v1"
    topic = Topic.ACTORS

    suspended_by: str
    reason: str


EVENTS: tuple[type[ActorState], ...] = (
    ActorRegisteredV1,
    ActorAdmittedV1,
    ActorUpdatedV1,
    ActorSuspendedV1,
)
