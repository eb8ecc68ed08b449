"""The actors offers knows (its read model of actor events) and what they may do here.

Pure: no database, no HTTP, no broker.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.actors import ActorKind, ActorState, ActorStatus, Location
from services.runtime.errors import Forbidden
from services.runtime.principal import Principal


class ActorRecord(BaseModel):
    """What offers keeps of an actor: enough to check eligibility and default locations."""

    model_config = ConfigDict(frozen=True)

    actor_id: UUID
    territory_id: UUID
    kind: ActorKind
    status: ActorStatus
    location: Location | None = None
    version: int = Field(ge=1)


def actor_record(state: ActorState) -> ActorRecord:
    return ActorRecord(
        actor_id=UUID(state.actor_id),
        territory_id=UUID(state.territory_id),
        kind=state.kind,
        status=state.status,
        location=state.location,
        version=state.version,
    )


def ensure_may_write(principal: Principal, actor: ActorRecord | None) -> ActorRecord:
    """The caller's actor as this service knows it; suspended actors change nothing."""
    if actor is None:
        raise Forbidden("your actor is not known to this service yet; retry in a few seconds")
    if actor.status == ActorStatus.SUSPENDED:
        raise Forbidden("your actor is suspended")
    return actor


def ensure_may_publish(actor: ActorRecord) -> None:
    """Only an admitted actor offers or requests anything in public."""
    if actor.status != ActorStatus.ACTIVE:
        raise Forbidden(f"only an admitted actor may publish; yours is {actor.status}")
