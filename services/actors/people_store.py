"""The people tables: people, memberships, sign-in links, sessions and refresh tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from services.actors.people import Membership, Person, Role
from services.runtime.db import Connection

# --- people and memberships -----------------------------------------------------------------------


def _person(row: asyncpg.Record) -> Person:
    return Person(id=row["id"], email=row["email"], name=row["name"])


async def person_by_email(conn: Connection, email: str) -> Person | None:
    row = await conn.fetchrow(
        "SELECT id, email, name FROM people WHERE lower(email) = lower($1)", email
    )
    return _person(row) if row else None


async def person(conn: Connection, person_id: UUID) -> Person | None:
    row = await conn.fetchrow("SELECT id, email, name FROM people WHERE id = $1", person_id)
    return _person(row) if row else None


async def rename_person(conn: Connection, person_id: UUID, name: str) -> Person | None:
    row = await conn.fetchrow(
        "UPDATE people SET name = $2 WHERE id = $1 RETURNING id, email, name", person_id, name
    )
    return _person(row) if row else None


async def ensure_person(conn: Connection, person_id: UUID, email: str, name: str) -> Person:
    """The person with this e-mail, made now if new (with `person_id`); a person known without a
    name takes the one given."""
    row = await conn.fetchrow(
        """INSERT INTO people (id, email, name) VALUES ($1, $2, $3)
           ON CONFLICT (lower(email))
           DO UPDATE SET name = CASE WHEN people.name = '' THEN EXCLUDED.name ELSE people.name END
           RETURNING id, email, name""",
        person_id,
        email,
        name,
    )
    assert row is not None  # INSERT ... ON CONFLICT DO UPDATE ... RETURNING always returns it
    return _person(row)


async def add_membership(conn: Connection, actor_id: UUID, person_id: UUID, role: Role) -> bool:
    """Make the person a member of the actor; False when it is one already."""
    status = await conn.execute(
        """INSERT INTO memberships (actor_id, person_id, role) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING""",
        actor_id,
        person_id,
        str(role),
    )
    return status.endswith(" 1")


async def memberships(conn: Connection, person_id: UUID) -> list[Membership]:
    """The person's actors, the earliest joined first."""
    rows = await conn.fetch(
        """SELECT m.actor_id, a.name AS actor_name, m.role, a.status
           FROM memberships m JOIN actors a ON a.id = m.actor_id
           WHERE m.person_id = $1 ORDER BY m.created_at, m.actor_id""",
        person_id,
    )
    return [Membership.model_validate(dict(row)) for row in rows]


async def role(conn: Connection, actor_id: UUID, person_id: UUID) -> Role | None:
    value = await conn.fetchval(
        "SELECT role FROM memberships WHERE actor_id = $1 AND person_id = $2", actor_id, person_id
    )
    return Role(value) if value else None


async def people_of(conn: Connection, actor_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT p.id, p.email, p.name, m.role
           FROM memberships m JOIN people p ON p.id = m.person_id
           WHERE m.actor_id = $1 ORDER BY m.created_at, p.id""",
        actor_id,
    )


async def admins(conn: Connection, actor_id: UUID) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM memberships WHERE actor_id = $1 AND role = 'admin'", actor_id
    )
    return count


async def remove_membership(conn: Connection, actor_id: UUID, person_id: UUID) -> None:
    await conn.execute(
        "DELETE FROM memberships WHERE actor_id = $1 AND person_id = $2", actor_id, person_id
    )


async def remove_memberships_of_actor(conn: Connection, actor_id: UUID) -> list[UUID]:
    """Remove every member of the actor; the people who were."""
    rows = await conn.fetch(
        "DELETE FROM memberships WHERE actor_id = $1 RETURNING person_id", actor_id
    )
    return [row["person_id"] for row in rows]


async def forget_people_without_actor(conn: Connection, person_ids: list[UUID]) -> int:
    """Delete, with their links and sessions, those of these people who are members of no actor
    any more (their e-mail is personal data with no purpose left); how many."""
    orphans = await conn.fetch(
        """SELECT id FROM people p WHERE id = ANY($1::uuid[])
             AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = p.id)""",
        person_ids,
    )
    ids = [row["id"] for row in orphans]
    if ids:
        await conn.execute(
            """DELETE FROM refresh_tokens WHERE session_id IN
                   (SELECT id FROM sessions WHERE person_id = ANY($1::uuid[]))""",
            ids,
        )
        await conn.execute("DELETE FROM sessions WHERE person_id = ANY($1::uuid[])", ids)
        await conn.execute("DELETE FROM sign_in_links WHERE person_id = ANY($1::uuid[])", ids)
        await conn.execute("DELETE FROM people WHERE id = ANY($1::uuid[])", ids)
    return len(ids)


async def personal_data(conn: Connection, actor_id: UUID) -> dict[str, list[asyncpg.Record]]:
    """The actor's people (with their role) and its sessions, never a token or its digest."""
    people = await conn.fetch(
        """SELECT p.id, p.email, p.name, m.role, m.created_at AS joined_at
           FROM memberships m JOIN people p ON p.id = m.person_id
           WHERE m.actor_id = $1 ORDER BY m.created_at, p.id""",
        actor_id,
    )
    sessions = await conn.fetch(
        """SELECT id, person_id, created_at, ended_at, end_reason FROM sessions
           WHERE actor_id = $1 ORDER BY created_at""",
        actor_id,
    )
    return {"people": people, "sessions": sessions}


# --- sign-in links --------------------------------------------------------------------------------


async def insert_link(
    conn: Connection,
    digest: bytes,
    person_id: UUID,
    return_to: str | None,
    now: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO sign_in_links (token_hash, person_id, return_to, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5)""",
        digest,
        person_id,
        return_to,
        now,
        expires_at,
    )


@dataclass(frozen=True)
class UsedLink:
    person_id: UUID
    return_to: str | None


async def use_link(conn: Connection, digest: bytes, now: datetime) -> UsedLink | None:
    """Mark the link used, once: None when it is unknown, used already or expired."""
    row = await conn.fetchrow(
        """UPDATE sign_in_links SET used_at = $2
           WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
           RETURNING person_id, return_to""",
        digest,
        now,
    )
    return UsedLink(row["person_id"], row["return_to"]) if row else None


# --- sessions and refresh tokens ------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    id: str
    person_id: UUID
    actor_id: UUID
    ended_at: datetime | None


async def insert_session(
    conn: Connection, session_id: str, person_id: UUID, actor_id: UUID, now: datetime
) -> None:
    await conn.execute(
        """INSERT INTO sessions (id, person_id, actor_id, created_at) VALUES ($1, $2, $3, $4)""",
        session_id,
        person_id,
        actor_id,
        now,
    )


async def session_of_refresh(conn: Connection, digest: bytes) -> Session | None:
    """The session (family) a refresh token belongs to, used or not, locked for the change."""
    row = await conn.fetchrow(
        """SELECT s.id, s.person_id, s.actor_id, s.ended_at
           FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
           WHERE r.token_hash = $1 FOR UPDATE OF s""",
        digest,
    )
    return Session(**dict(row)) if row else None


async def insert_refresh(
    conn: Connection, digest: bytes, session_id: str, now: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        """INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at)
           VALUES ($1, $2, $3, $4)""",
        digest,
        session_id,
        now,
        expires_at,
    )


async def use_refresh(conn: Connection, digest: bytes, now: datetime) -> datetime | None:
    """Mark the refresh token used, once; its expiry, or None when it was used already."""
    expires_at: datetime | None = await conn.fetchval(
        """UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL
           RETURNING expires_at""",
        digest,
        now,
    )
    return expires_at


async def end_sessions(
    conn: Connection,
    now: datetime,
    reason: str,
    *,
    session_id: str | None = None,
    actor_id: UUID | None = None,
    person_id: UUID | None = None,
) -> list[Session]:
    """End the live sessions named (one by id, or an actor's, or one person's in an actor); the
    sessions ended now."""
    if session_id is None and actor_id is None:
        raise ValueError("name the session or the actor whose sessions end")
    rows = await conn.fetch(
        """UPDATE sessions SET ended_at = $1, end_reason = $2
           WHERE ended_at IS NULL
             AND ($3::text IS NULL OR id = $3)
             AND ($4::uuid IS NULL OR actor_id = $4)
             AND ($5::uuid IS NULL OR person_id = $5)
           RETURNING id, person_id, actor_id, ended_at""",
        now,
        reason,
        session_id,
        actor_id,
        person_id,
    )
    return [Session(**dict(row)) for row in rows]


@dataclass(frozen=True)
class Purged:
    links: int
    refresh_tokens: int
    sessions: int


async def purge(conn: Connection, now: datetime, *, sessions_ended_before: datetime) -> Purged:
    """Forget what can no longer serve: expired links, refresh tokens expired or of an ended
    session (a reuse then meets an unknown token: still refused), sessions ended long ago."""
    links = await conn.execute("DELETE FROM sign_in_links WHERE expires_at <= $1", now)
    tokens = await conn.execute(
        """DELETE FROM refresh_tokens r WHERE r.expires_at <= $1
              OR EXISTS (SELECT 1 FROM sessions s
                         WHERE s.id = r.session_id AND s.ended_at IS NOT NULL)""",
        now,
    )
    sessions = await conn.execute("DELETE FROM sessions WHERE ended_at < $1", sessions_ended_before)
    return Purged(*(int(status.rsplit(" ", 1)[1]) for status in (links, tokens, sessions)))
