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
from contracts.fields import Description, Email, Name
from services.runtime.errors import Conflict, Forbidden
from services.runtime.principal import FACILITATOR, PARTNER, Principal


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
    erased_at: datetime | None = None


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


def set_partner(actor: Actor, partner: bool, *, now: datetime) -> Actor:
    """Grant or withdraw the partner role (its webhooks may hear of the whole territory); the
    actor unchanged when it already is as asked."""
    if actor.status not in (ActorStatus.ACTIVE, ActorStatus.PENDING) or actor.erased_at:
        raise Conflict(f"the role of an actor {actor.status} does not change", field="status")
    others = tuple(role for role in actor.roles if role != PARTNER)
    roles = (*others, PARTNER) if partner else others
    if roles == actor.roles:
        return actor
    return _next(actor, now, roles=roles)


def admit(actor: Actor, *, now: datetime) -> Actor:
    """pending → active only: a suspended actor comes back by `reinstate`, a separate decision."""
    if actor.status != ActorStatus.PENDING:
        raise Conflict(f"only a pending actor is admitted; this is {actor.status}", field="status")
    return _next(actor, now, status=ActorStatus.ACTIVE)


def reinstate(actor: Actor, *, now: datetime) -> Actor:
    """suspended → active: a facilitator lifts a suspension (an erased actor stays erased)."""
    if actor.erased_at is not None:
        raise Conflict("an erased actor is not reinstated", field="status")
    if actor.status != ActorStatus.SUSPENDED:
        raise Conflict(f"only a suspended actor is reinstated: {actor.status}", field="status")
    return _next(actor, now, status=ActorStatus.ACTIVE)


def suspend(actor: Actor, *, now: datetime) -> Actor:
    if actor.status == ActorStatus.SUSPENDED:
        raise Conflict("actor is already suspended", field="status")
    return _next(actor, now, status=ActorStatus.SUSPENDED)


def erase(actor: Actor, *, now: datetime) -> Actor:
    """RGPD erasure: name, contacts, location, description and SIRET removed, the id kept (so
    agreements, statements and the audit chain stay whole), and the actor suspended for good."""
    if actor.erased_at is not None:
        raise Conflict("this actor was erased already", field="status")
    return _next(
        actor,
        now,
        name="",
        email="",
        phone=None,
        location=None,
        description="",
        siret=None,
        status=ActorStatus.SUSPENDED,
        erased_at=now,
    )


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


def ensure_owns_keys(principal: Principal, actor: Actor) -> None:
    """API keys belong to their actor alone: nobody else creates or lists them, so that no one,
    a facilitator included, can log in as another actor."""
    if principal.actor_id != str(actor.id):
        raise Forbidden("API keys are created and listed by their actor alone")


def ensure_facilitates(principal: Principal, actor: Actor) -> None:
    if not principal.facilitates(str(actor.territory_id)):
        raise Forbidden("only a facilitator of this actor's territory may do this")


def may_see(principal: Principal, actor: Actor) -> bool:
    """Admitted actors of a territory see one another; other territories' actors do not exist
    for them; an actor not yet admitted sees only itself."""
    if principal.actor_id == str(actor.id):
        return True
    return principal.admitted and principal.sees(actor.territory_id)


# Events locate a citizen on a grid of 0.01° (about 1.1 km north-south, 0.8 km east-west here):
# the commune and roughly where in it, never the address.
CITIZEN_GRID_DECIMALS = 2


def public_location(actor: Actor) -> Location | None:
    """The location that leaves this service: a citizen's is coarsened, an organisation's is
    its public address."""
    loc = actor.location
    if loc is None or actor.kind != ActorKind.CITIZEN:
        return loc
    return Location(
        lat=round(loc.lat, CITIZEN_GRID_DECIMALS),
        lon=round(loc.lon, CITIZEN_GRID_DECIMALS),
        commune=loc.commune,
    )


def state(actor: Actor) -> dict[str, Any]:
    """The actor as carried by every actor event: no e-mail, no phone, no precise home."""
    return {
        "actor_id": str(actor.id),
        "territory_id": str(actor.territory_id),
        "kind": actor.kind,
        "name": actor.name,
        "status": actor.status,
        "roles": list(actor.roles),
        "location": public_location(actor),
        "siret": actor.siret,
        "version": actor.version,
    }


# --- API keys: high-entropy secrets, shown once, stored as a SHA-256 digest ---------------------

API_KEY_PREFIX = "mcvt"


def new_api_key() -> tuple[str, str, bytes]:
    """(key id, the full key to show once, the digest to store)."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return key_id, f"{API_KEY_PREFIX}_{key_id}_{secret}", digest(secret)


def split_api_key(api_key: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    prefix, _, rest = api_key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != API_KEY_PREFIX or len(key_id) != 16 or not secret:
        return None
    return key_id, secret


def secret_matches(secret: str, stored: bytes) -> bool:
    # A 256-bit random secret needs no slow hash: SHA-256 cannot be brute-forced back.
    return hmac.compare_digest(digest(secret), stored)


def digest(secret: str) -> bytes:
    """SHA-256 of a high-entropy secret (API keys, sign-in links, refresh tokens)."""
    return hashlib.sha256(secret.encode()).digest()
