"""Actor events, version 1 (topic `mcvt.actors`, key: actor id; territory events: territory id).

Every actor state event carries the actor's full current state so that a consumer keeps its
read model without calling back; `version` grows by one with each change of the actor.

Privacy: no event carries an e-mail address or a phone number, and a citizen's location is
coarsened before it leaves the actors service (see `Location`).
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


# In actor events a citizen's location is its commune and a point rounded to a grid of 0.01°
# (about 1 km): its precise address never leaves the actors service.
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


class ActorReinstatedV1(ActorState):
    """A suspended actor made active again by a facilitator (admission is for pending ones)."""

    event_type = "mcvt.actor.reinstated.v1"
    topic = Topic.ACTORS

    reinstated_by: str


class ActorErasedV1(ActorState):
    """The actor's personal data was erased (RGPD): every read model drops its name, contacts
    and location and keeps the id, so that agreements and the audit chain stay consistent.

    The state carried is the erased one: name "", no location, no SIRET, status suspended.
    """

    event_type = "mcvt.actor.erased.v1"
    topic = Topic.ACTORS

    erased_by: str = Field(description="The actor itself, or the facilitator who erased it.")


class ApiKeyRevokedV1(EventPayload):
    """An API key was revoked: tokens minted with it are refused everywhere from now on.

    Carries the key's id, never its secret.
    """

    event_type = "mcvt.api_key.revoked.v1"
    topic = Topic.ACTORS

    key_id: str
    actor_id: str
    territory_id: str
    revoked_by: str


class SessionEndReason(StrEnum):
    SIGNED_OUT = "signed_out"
    REFRESH_REUSED = "refresh_reused"
    PERSON_REMOVED = "person_removed"
    ACTOR_SUSPENDED = "actor_suspended"


class SessionEndedV1(EventPayload):
    """A person's session ended (signed out, removed from the actor, the actor suspended, or a
    refresh token used twice): tokens naming it in their `key` claim are refused everywhere from
    now on, as those of a revoked API key.

    Carries the session's id and the person's id, never an e-mail nor a token.
    """

    event_type = "mcvt.session.ended.v1"
    topic = Topic.ACTORS

    session_id: str
    actor_id: str
    territory_id: str
    person_id: str
    reason: SessionEndReason


class TerritorySettingsChangedV1(EventPayload):
    """A territory's settings as they are after the change (key: territory id)."""

    event_type = "mcvt.territory.settings_changed.v1"
    topic = Topic.ACTORS

    territory_id: str
    offers_public: bool = Field(
        description="Whether actors of other territories may read this territory's published "
        "offers (never its needs nor its actors' contacts)."
    )
    version: int = Field(ge=1)


# The actor state events: every read model of actors handles each of them the same way.
EVENTS: tuple[type[ActorState], ...] = (
    ActorRegisteredV1,
    ActorAdmittedV1,
    ActorUpdatedV1,
    ActorSuspendedV1,
    ActorReinstatedV1,
    ActorErasedV1,
)
# Everything on mcvt.actors: the state events, revoked keys, ended sessions and territory settings.
PUBLISHED: tuple[type[EventPayload], ...] = (
    *EVENTS,
    ApiKeyRevokedV1,
    SessionEndedV1,
    TerritorySettingsChangedV1,
)
