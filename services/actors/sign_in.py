"""Signing people in: single-use links, sessions, rotated refresh tokens, and sessions' end.

Guarantees:
- a link is used at most once and only within 15 minutes: one UPDATE marks it used only if it is
  unused and unexpired, so two exchanges of the same link cannot both succeed;
- only digests of links and refresh tokens are stored;
- each refresh replaces the refresh token; presenting a used one again (a stolen copy, or the
  thief's after the owner's) ends the whole session, which then refuses every token of it;
- a session ends when the person signs out, is removed from the actor, or the actor is suspended
  or erased; `mcvt.session.ended.v1` carries it to every service's access read model, which then
  refuses its access tokens (their `key` claim is the session's id) before they expire.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import asyncpg

from contracts.actors import SessionEndedV1, SessionEndReason
from services.actors import people_store, store
from services.actors.domain import Actor, digest
from services.actors.people import (
    Membership,
    Person,
    choose_actor,
    ensure_refresh_usable,
    link_expiry,
    new_secret,
    new_session_id,
)
from services.runtime import clock
from services.runtime.context import Context
from services.runtime.db import Connection, transactional
from services.runtime.errors import Unauthorized
from services.runtime.outbox import emit


@dataclass(frozen=True)
class Link:
    """A sign-in link just made: the token to mail (never stored) and who it is for."""

    token: str
    person: Person


async def new_link(conn: Connection, person: Person, return_to: str | None = None) -> Link:
    token, hashed = new_secret()
    now = clock.now()
    await people_store.insert_link(conn, hashed, person.id, return_to, now, link_expiry(now))
    return Link(token, person)


@transactional
async def request_link(conn: Connection, email: str, return_to: str | None) -> Link | None:
    """A link for the person with this e-mail; None when nobody has it (the caller answers the
    same either way)."""
    person = await people_store.person_by_email(conn, email)
    if person is None:
        return None
    return await new_link(conn, person, return_to)


@dataclass(frozen=True)
class Grant:
    """What a session's holder gets: its refresh token and what to mint the access token for."""

    session_id: str
    refresh_token: str
    person: Person
    actor: Actor
    memberships: Sequence[Membership]
    return_to: str | None = None


async def _grant(
    conn: Connection,
    session_id: str,
    person: Person,
    actor: Actor,
    memberships: Sequence[Membership],
    refresh_ttl: timedelta,
    return_to: str | None = None,
) -> Grant:
    token, hashed = new_secret()
    now = clock.now()
    await people_store.insert_refresh(conn, hashed, session_id, now, now + refresh_ttl)
    return Grant(session_id, token, person, actor, memberships, return_to)


async def _actor(conn: Connection, actor_id: UUID) -> Actor:
    actor = await store.get_actor(conn, actor_id)
    assert actor is not None  # memberships reference their actor
    return actor


@transactional
async def open_session(
    conn: Connection, token: str, actor_id: UUID | None, refresh_ttl: timedelta
) -> Grant:
    """Exchange a link for a session acting for one of the person's actors. A refusal rolls the
    use of the link back, so the person may try again with another actor."""
    used = await people_store.use_link(conn, digest(token), clock.now())
    if used is None:
        raise Unauthorized("this sign-in link is unknown, already used or expired", field="token")
    person = await people_store.person(conn, used.person_id)
    assert person is not None  # links reference their person
    memberships = await people_store.memberships(conn, person.id)
    chosen = choose_actor(memberships, actor_id)
    session_id = new_session_id()
    await people_store.insert_session(conn, session_id, person.id, chosen.actor_id, clock.now())
    actor = await _actor(conn, chosen.actor_id)
    return await _grant(
        conn, session_id, person, actor, memberships, refresh_ttl, return_to=used.return_to
    )


async def refresh(pool: asyncpg.Pool, token: str, ctx: Context, refresh_ttl: timedelta) -> Grant:
    """A new access token and refresh token for the session, the old refresh token used up.
    A refresh token used twice ends its session: that end is committed, then refused."""
    outcome = await _rotate(pool, token, ctx, refresh_ttl)
    if isinstance(outcome, Unauthorized):
        raise outcome
    return outcome


@transactional
async def _rotate(
    conn: Connection, token: str, ctx: Context, refresh_ttl: timedelta
) -> Grant | Unauthorized:
    hashed = digest(token)
    session = await people_store.session_of_refresh(conn, hashed)
    if session is None:
        raise Unauthorized("unknown refresh token", field="refresh_token")
    now = clock.now()
    expires_at = await people_store.use_refresh(conn, hashed, now)
    if expires_at is None:
        await end(conn, SessionEndReason.REFRESH_REUSED, ctx, session_id=session.id)
        return Unauthorized(
            "this refresh token was used already: the session is ended, sign in again",
            field="refresh_token",
        )
    ensure_refresh_usable(session.ended_at, expires_at, now)
    person = await people_store.person(conn, session.person_id)
    assert person is not None
    memberships = await people_store.memberships(conn, person.id)
    actor = await _actor(conn, session.actor_id)
    return await _grant(conn, session.id, person, actor, memberships, refresh_ttl)


@transactional
async def sign_out(conn: Connection, token: str, ctx: Context) -> None:
    """End the session of this refresh token (any of its family); ending it twice is no error."""
    session = await people_store.session_of_refresh(conn, digest(token))
    if session is None:
        raise Unauthorized("unknown refresh token", field="refresh_token")
    await end(conn, SessionEndReason.SIGNED_OUT, ctx, session_id=session.id)


async def end(
    conn: Connection,
    reason: SessionEndReason,
    ctx: Context,
    *,
    session_id: str | None = None,
    actor_id: UUID | None = None,
    person_id: UUID | None = None,
) -> int:
    """End live sessions (one, an actor's, or one person's in an actor) and announce each end;
    how many ended now."""
    ended = await people_store.end_sessions(
        conn,
        clock.now(),
        str(reason),
        session_id=session_id,
        actor_id=actor_id,
        person_id=person_id,
    )
    territories: dict[UUID, UUID] = {}
    for session in ended:
        if session.actor_id not in territories:
            territories[session.actor_id] = (await _actor(conn, session.actor_id)).territory_id
        territory = territories[session.actor_id]
        payload = SessionEndedV1(
            session_id=session.id,
            actor_id=str(session.actor_id),
            territory_id=str(territory),
            person_id=str(session.person_id),
            reason=reason,
        )
        await emit(conn, payload, subject=session.actor_id, territory=territory, ctx=ctx)
    return len(ended)
