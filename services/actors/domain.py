"""Actors' domain: registration, admission, suspension, changes and who may make them.

Pure: no database, no HTTP, no broker. Functions take and return immutable `Actor` values.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siret as stdnum_siret

from contracts.actors import ActorKind, ActorStatus, Location
from contracts.fields import CleanText, Description, Name
from services.runtime.errors import Conflict, Forbidden
from services.runtime.principal import FACILITATOR, Principal


def normalise_siret(value: str | None) -> str | None:
    """A SIRET (14 digits, Luhn checksum; La Poste's establishments excepted) or a ValueError."""
    if value is None:
        return None
    try:
        return str(stdnum_siret.validate(value))
    except StdnumError as error:
        raise ValueError(f"not a valid SIRET: {error}") from None


Siret = Annotated[
    Annotated[str, StringConstraints(max_length=40)] | None, AfterValidator(normalise_siret)
]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    CleanText(),
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 .()-]{6,20}$")]
# Fields a change may not clear: the actor always has them.
_REQUIRED = ("name", "email", "description")


class ActorRegistration(BaseModel):
    """What someone gives to register an actor (organisation or person)."""

    model_config = ConfigDict(extra="forbid")

    territory_id: UUID
    kind: ActorKind
    name: Name
    email: Email
    phone: Phone | None = None
    location: Location | None = None
    description: Description = ""
    siret: Siret = None


class ActorChanges(BaseModel):
    """A partial update: only the fields present change."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    location: Location | None = None
    description: Description | None = None
    siret: Siret = None

    # Runs only on values given, so an explicit null is refused and an absent field is not.
    @field_validator(*_REQUIRED)
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null: leave the field out to keep it")
        return value


class Actor(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    territory_id: UUID
    kind: ActorKind
    name: str
    email: str
    phone: str | None = None
    location: Location | None = None
    description: str = ""
    siret: str | None = None
    status: ActorStatus
    roles: tuple[str, ...] = ()
    version: int = Field(ge=1)
    created_at: datetime
    updated_at: datetime


def register(draft: ActorRegistration, *, actor_id: UUID, now: datetime) -> Actor:
    """A new actor waits, pending, for a facilitator (or a governance decision) to admit it."""
    return Actor(
        id=actor_id,
        **draft.model_dump(),
        status=ActorStatus.PENDING,
        version=1,
        created_at=now,
        updated_at=now,
    )


def make_facilitator(draft: ActorRegistration, *, actor_id: UUID, now: datetime) -> Actor:
    """The territory's first facilitator is created active by the operator."""
    actor = register(draft, actor_id=actor_id, now=now)
    return actor.model_copy(update={"status": ActorStatus.ACTIVE, "roles": (FACILITATOR,)})


def _next(actor: Actor, now: datetime, **changes: Any) -> Actor:
    return actor.model_copy(update={**changes, "version": actor.version + 1, "updated_at": now})


def admit(actor: Actor, *, now: datetime) -> Actor:
    """pending → active, or suspended → active (reinstatement)."""
    if actor.status == ActorStatus.ACTIVE:
        raise Conflict("actor is already active", field="status")
    return _next(actor, now, status=ActorStatus.ACTIVE)


def suspend(actor: Actor, *, now: datetime) -> Actor:
    if actor.status == ActorStatus.SUSPENDED:
        raise Conflict("actor is already suspended", field="status")
    return _next(actor, now, status=ActorStatus.SUSPENDED)


def change(actor: Actor, changes: ActorChanges, *, now: datetime) -> tuple[Actor, list[str]]:
    """Apply the fields given; return the new actor and the names of the fields that changed."""
    # The validated values themselves (a Location stays a Location), only those given.
    given = {name: getattr(changes, name) for name in changes.model_fields_set}
    changed = sorted(name for name, value in given.items() if getattr(actor, name) != value)
    if not changed:
        return actor, []
    return _next(actor, now, **{name: given[name] for name in changed}), changed


def ensure_may_change(principal: Principal, actor: Actor) -> None:
    """An actor changes only itself; a facilitator any actor of its own territory."""
    if principal.actor_id == str(actor.id) or principal.facilitates(str(actor.territory_id)):
        return
    raise Forbidden("you may change only your own actor")


def ensure_facilitates(principal: Principal, actor: Actor) -> None:
    if not principal.facilitates(str(actor.territory_id)):
        raise Forbidden("only a facilitator of this actor's territory may do this")


def may_see(principal: Principal, actor: Actor) -> bool:
    """Actors of a territory see one another; other territories' actors do not exist for them."""
    return principal.territory_id == str(actor.territory_id)


def state(actor: Actor) -> dict[str, Any]:
    """The actor as carried by every actor event."""
    return {
        "actor_id": str(actor.id),
        "territory_id": str(actor.territory_id),
        "kind": actor.kind,
        "name": actor.name,
        "status": actor.status,
        "roles": list(actor.roles),
        "location": actor.location,
        "siret": actor.siret,
        "version": actor.version,
    }


# --- API keys: high-entropy secrets, shown once, stored as a SHA-256 digest ---------------------

API_KEY_PREFIX = "mcvt"


def new_api_key() -> tuple[str, str, bytes]:
    """(key id, the full key to show once, the digest to store)."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return key_id, f"{API_KEY_PREFIX}_{key_id}_{secret}", _digest(secret)


def split_api_key(api_key: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    prefix, _, rest = api_key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != API_KEY_PREFIX or len(key_id) != 16 or not secret:
        return None
    return key_id, secret


def secret_matches(secret: str, digest: bytes) -> bool:
    # A 256-bit random secret needs no slow hash: SHA-256 cannot be brute-forced back.
    return hmac.compare_digest(_digest(secret), digest)


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()
