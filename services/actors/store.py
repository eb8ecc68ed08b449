"""The actors database: SQL in the open, one function per query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from contracts.actors import Location
from services.actors import people_store
from services.actors.domain import Actor
from services.actors.tokens import SigningKey
from services.runtime.access import Standing
from services.runtime.db import Connection
from services.runtime.pages import keyset
from services.runtime.personal import plain
from services.runtime.principal import Principal
from services.runtime.rows import Table

_ACTORS = Table(
    "actors",
    (
        "id", "territory_id", "kind", "name", "email", "phone", "lat", "lon", "commune",
        "description", "siret", "status", "roles", "version", "created_at", "updated_at",
        "erased_at",
    ),
)  # fmt: skip
_ACTOR_COLUMNS = _ACTORS.select_list()


def _actor(row: asyncpg.Record) -> Actor:
    location = (
        Location(lat=row["lat"], lon=row["lon"], commune=row["commune"])
        if row["lat"] is not None
        else None
    )
    fields = {k: row[k] for k in row.keys() if k not in ("lat", "lon", "commune", "roles")}
    return Actor(**fields, location=location, roles=tuple(row["roles"]))


def _actor_row(actor: Actor) -> dict[str, Any]:
    loc = actor.location
    return {
        "id": actor.id,
        "territory_id": actor.territory_id,
        "kind": str(actor.kind),
        "name": actor.name,
        "email": actor.email,
        "phone": actor.phone,
        "lat": loc.lat if loc else None,
        "lon": loc.lon if loc else None,
        "commune": loc.commune if loc else None,
        "description": actor.description,
        "siret": actor.siret,
        "status": str(actor.status),
        "roles": list(actor.roles),
        "version": actor.version,
        "created_at": actor.created_at,
        "updated_at": actor.updated_at,
        "erased_at": actor.erased_at,
    }


# --- territories ----------------------------------------------------------------------------------


async def insert_territory(conn: Connection, territory_id: UUID, name: str) -> None:
    await conn.execute("INSERT INTO territories (id, name) VALUES ($1, $2)", territory_id, name)


async def territory_by_name(conn: Connection, name: str) -> UUID | None:
    value: UUID | None = await conn.fetchval("SELECT id FROM territories WHERE name = $1", name)
    return value


async def list_territories(conn: Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT id, name, created_at FROM territories ORDER BY name")


@dataclass(frozen=True)
class TerritorySettings:
    territory_id: UUID
    offers_public: bool
    version: int


async def territory_settings(
    conn: Connection, territory_id: UUID, *, for_update: bool = False
) -> TerritorySettings | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT id, offers_public, version FROM territories WHERE id = $1{lock}", territory_id
    )
    return TerritorySettings(row["id"], row["offers_public"], row["version"]) if row else None


async def save_territory_settings(conn: Connection, settings: TerritorySettings) -> None:
    await conn.execute(
        "UPDATE territories SET offers_public = $2, version = $3 WHERE id = $1",
        settings.territory_id,
        settings.offers_public,
        settings.version,
    )


# --- access ---------------------------------------------------------------------------------------


async def standing(conn: Connection, principal: Principal) -> Standing | None:
    """The caller's standing from the source tables: its status, and whether the token's key
    (an API key, or a person's session) is revoked or ended (or not its own)."""
    row = await conn.fetchrow(
        """SELECT a.status,
                  NOT EXISTS (SELECT 1 FROM api_keys k
                              WHERE k.id = $2 AND k.actor_id = a.id AND k.revoked_at IS NULL)
                  AND NOT EXISTS (SELECT 1 FROM sessions s
                                  WHERE s.id = $2 AND s.actor_id = a.id AND s.ended_at IS NULL)
                  AS key_revoked
           FROM actors a WHERE a.id = $1""",
        UUID(principal.actor_id),
        principal.key_id,
    )
    return Standing(row["status"], row["key_revoked"]) if row else None


# --- actors ---------------------------------------------------------------------------------------


async def insert_actor(conn: Connection, actor: Actor) -> None:
    await conn.execute(_ACTORS.insert_sql(), *_ACTORS.values(_actor_row(actor)))


async def get_actor(conn: Connection, actor_id: UUID, *, for_update: bool = False) -> Actor | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_ACTOR_COLUMNS} FROM actors WHERE id = $1{lock}", actor_id)
    return _actor(row) if row else None


async def update_actor(conn: Connection, actor: Actor) -> None:
    """Write the new state of an actor read FOR UPDATE in the same transaction."""
    await conn.execute(_ACTORS.update_sql(), *_ACTORS.update_values(_actor_row(actor)))


async def list_actors(
    conn: Connection,
    territory_id: UUID,
    *,
    statuses: list[str],
    kind: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Actor]:
    """A page of a territory's actors, newest first, after the keyset cursor `after`."""
    rows = await conn.fetch(
        f"""SELECT {_ACTOR_COLUMNS} FROM actors
            WHERE territory_id = $1 AND status = ANY($2::text[]) AND ($3::text IS NULL OR kind = $3)
              AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5))
            ORDER BY created_at DESC, id DESC LIMIT $6""",
        territory_id,
        statuses,
        kind,
        *keyset(after),
        limit,
    )
    return [_actor(row) for row in rows]


# --- API keys -------------------------------------------------------------------------------------


async def insert_api_key(
    conn: Connection, key_id: str, actor_id: UUID, label: str, digest: bytes
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """INSERT INTO api_keys (id, actor_id, label, secret_hash) VALUES ($1, $2, $3, $4)
           RETURNING id, label, created_at, last_used_at, revoked_at""",
        key_id,
        actor_id,
        label,
        digest,
    )
    assert row is not None  # INSERT ... RETURNING always returns the row
    return row


async def usable_api_key(conn: Connection, key_id: str) -> asyncpg.Record | None:
    """The key's actor and digest, and mark it used; None when unknown or revoked."""
    row: asyncpg.Record | None = await conn.fetchrow(
        """UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND revoked_at IS NULL
           RETURNING actor_id, secret_hash""",
        key_id,
    )
    return row


async def list_api_keys(conn: Connection, actor_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, label, created_at, last_used_at, revoked_at FROM api_keys
           WHERE actor_id = $1 ORDER BY created_at""",
        actor_id,
    )


async def revoke_all_api_keys(conn: Connection, actor_id: UUID) -> list[str]:
    """Revoke every live key of the actor; the ids of those revoked now."""
    rows = await conn.fetch(
        """UPDATE api_keys SET revoked_at = now() WHERE actor_id = $1 AND revoked_at IS NULL
           RETURNING id""",
        actor_id,
    )
    return [row["id"] for row in rows]


async def revoke_api_key(conn: Connection, actor_id: UUID, key_id: str) -> bool:
    status = await conn.execute(
        """UPDATE api_keys SET revoked_at = now()
           WHERE id = $1 AND actor_id = $2 AND revoked_at IS NULL""",
        key_id,
        actor_id,
    )
    return status.endswith(" 1")


# --- signing keys ---------------------------------------------------------------------------------


async def signing_keys(conn: Connection) -> list[SigningKey]:
    """Unretired keys, newest first: the first signs, all verify."""
    rows = await conn.fetch(
        """SELECT kid, private_pem FROM signing_keys
           WHERE retired_at IS NULL ORDER BY created_at DESC"""
    )
    return [SigningKey.from_pem(row["kid"], row["private_pem"]) for row in rows]


async def ensure_signing_key(conn: Connection) -> list[SigningKey]:
    """The signing keys, creating the first one if there is none (once, across replicas)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('mcvt.signing_keys'))")
        keys = await signing_keys(conn)
        if not keys:
            key = SigningKey.generate()
            await conn.execute(
                "INSERT INTO signing_keys (kid, private_pem) VALUES ($1, $2)",
                key.kid,
                key.private_pem(),
            )
            keys = [key]
    return keys


# --- personal data --------------------------------------------------------------------------------


async def personal_data(conn: Connection, actor_id: UUID) -> dict[str, list[dict[str, Any]]]:
    """All the actors service holds about an actor: its row, its API keys, its people and their
    sessions (never a secret nor its digest)."""
    actor = await conn.fetch(f"SELECT {_ACTOR_COLUMNS} FROM actors WHERE id = $1", actor_id)
    keys = await conn.fetch(
        """SELECT id, label, created_at, last_used_at, revoked_at FROM api_keys
           WHERE actor_id = $1 ORDER BY created_at""",
        actor_id,
    )
    people = await people_store.personal_data(conn, actor_id)
    return {
        "actor": plain(actor),
        "api_keys": plain(keys),
        **{name: plain(rows) for name, rows in people.items()},
    }
