"""People of an actor and their sign-in: roles, who manages whom, which actor a session acts for,
and the secrets of links, sessions and refresh tokens.

Pure: no database, no HTTP, no broker.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from contracts.actors import ActorStatus
from contracts.fields import CleanText, Name
from services.actors.domain import Email, digest
from services.runtime.errors import Conflict, Forbidden, Unauthorized
from services.runtime.principal import Principal

# A link is good for this long, once.
SIGN_IN_LINK_TTL = timedelta(minutes=15)
# Session ids name the session in the `key` claim of its tokens; API keys' ids are 16 hex
# digits, so the two never collide.
SESSION_PREFIX = "ses_"


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


def _local_path(value: str | None) -> str | None:
    """A path of the portal itself: never another site (an open redirect would lend our link)."""
    if value is None:
        return None
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        raise ValueError("must be a path of the portal, starting with a single /")
    return value


ReturnTo = Annotated[
    Annotated[str, StringConstraints(max_length=500), CleanText()] | None,
    AfterValidator(_local_path),
]


class SignInRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    return_to: ReturnTo = None


class Invitation(BaseModel):
    """An admin adds a colleague to the actor."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    name: Name
    role: Role = Role.MEMBER


class Person(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    email: str
    name: str


class Membership(BaseModel):
    """A person's place in one actor, as the sign-in shows it."""

    model_config = ConfigDict(frozen=True)

    actor_id: UUID
    actor_name: str
    role: Role
    status: ActorStatus


def new_secret() -> tuple[str, bytes]:
    """A 256-bit token for a link or a refresh, and the digest to store in its place."""
    token = secrets.token_urlsafe(32)
    return token, digest(token)


def new_session_id() -> str:
    return f"{SESSION_PREFIX}{secrets.token_hex(8)}"


def link_expiry(now: datetime) -> datetime:
    return now + SIGN_IN_LINK_TTL


def choose_actor(memberships: Sequence[Membership], wanted: UUID | None) -> Membership:
    """The actor a session acts for: the one named, else the first admitted one, else the first
    not suspended (a pending actor's session reads only its own actor). A suspended actor gets
    no session."""
    if wanted is not None:
        chosen = next((m for m in memberships if m.actor_id == wanted), None)
        if chosen is None:
            raise Forbidden("you are not a member of this actor", field="actor_id")
        if chosen.status == ActorStatus.SUSPENDED:
            raise Forbidden("this actor is suspended", field="actor_id")
        return chosen
    usable = [m for m in memberships if m.status != ActorStatus.SUSPENDED]
    admitted = [m for m in usable if m.status == ActorStatus.ACTIVE]
    if not usable:
        raise Forbidden("none of your actors may be used now", field="actor_id")
    return (admitted or usable)[0]


def ensure_member_of(principal: Principal, actor_id: UUID) -> None:
    """The people of an actor are seen by the actor's own sessions and keys only."""
    if principal.actor_id != str(actor_id):
        raise Forbidden("only the people of this actor see them")


def ensure_admin(principal: Principal, actor_id: UUID, role: Role | None) -> None:
    """Managing an actor's people (and its keys) takes a person who is an admin of it."""
    ensure_member_of(principal, actor_id)
    if not principal.person_id:
        raise Forbidden("sign in as a person who administers this actor")
    if role != Role.ADMIN:
        raise Forbidden("only an admin of this actor may do this")


def ensure_not_last_admin(removed_role: Role, admins: int) -> None:
    if removed_role == Role.ADMIN and admins <= 1:
        raise Conflict("the last admin of an actor cannot be removed", field="person_id")


def ensure_refresh_usable(ended_at: datetime | None, expires_at: datetime, now: datetime) -> None:
    if ended_at is not None:
        raise Unauthorized("this session has ended; sign in again")
    if expires_at <= now:
        raise Unauthorized("this session has expired; sign in again")
