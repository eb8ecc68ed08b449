"""Who may call a service right now, and who reads what: one rule for every service.

Guarantee: a request is served only for a token whose actor this service knows as pending or
active and whose API key was not revoked (nor its person's session ended: a session's id stands
in the `key` claim and `mcvt.session.ended.v1` revokes it the same way), as of the last actor
event it applied; suspended and erased actors, revoked keys and ended sessions are refused
within a consumer's latency of the event (well under a second), not when the token expires.
Each service keeps what it needs in its own tables (runtime migration 005) with the consumer
group `<service>.access` on mcvt.actors, which the service factory adds; the auth dependency asks
them on every request. The actors service asks its own tables instead (`ServiceSpec.access`):
they are the source of the events, so it never lags.

Failure cases:
- an actor the read model does not know yet (registered a moment ago, or the consumer is catching
  up): 401 with `Retry-After`, never let through by default;
- while the access consumer is down, decisions are as old as the last event it applied (its lag
  is the group's consumer lag);
- a token without a key id (minted before keys were named in tokens) is refused.

Who reads what: an actor not yet admitted reads and changes only itself (`ensure_admitted`);
an admitted actor sees its own territory (`Principal.sees`), plus the published offers of the
territories that chose to publish them openly (`may_read`); never their needs nor contacts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

import asyncpg
from fastapi import Depends

from contracts import actors
from contracts.actors import (
    ActorState,
    ActorStatus,
    ApiKeyRevokedV1,
    SessionEndedV1,
    TerritorySettingsChangedV1,
)
from contracts.envelope import CloudEvent
from services.runtime.auth import AccessCheck, current_principal
from services.runtime.consumer import EventConsumer
from services.runtime.context import Context
from services.runtime.db import Connection
from services.runtime.errors import Forbidden, Unauthorized
from services.runtime.principal import Principal
from services.runtime.rows import Table

# How long a client waits before asking again when this service has not heard of its actor yet.
RETRY_AFTER_S = 1


class NotKnownYet(Unauthorized):
    """The token is valid but this service has not heard of its actor yet: ask again shortly."""

    retry_after_s = RETRY_AFTER_S


@dataclass(frozen=True)
class Standing:
    """What a service knows of a token's actor and key."""

    status: str
    key_revoked: bool


# How a service finds the standing of a principal; None when it does not know the actor.
StandingOf = Callable[[Connection, Principal], Awaitable[Standing | None]]


async def standing_from_read_model(conn: Connection, principal: Principal) -> Standing | None:
    """The standing kept by the access consumer (every service but actors)."""
    row = await conn.fetchrow(
        """SELECT status,
                  EXISTS (SELECT 1 FROM access_revoked_keys WHERE key_id = $2) AS key_revoked
           FROM access_actors WHERE actor_id = $1""",
        UUID(principal.actor_id),
        principal.key_id,
    )
    return Standing(row["status"], row["key_revoked"]) if row else None


def judge(principal: Principal, standing: Standing | None) -> Principal:
    """The principal with its status, or the refusal its token deserves now."""
    if not principal.key_id:
        raise Unauthorized("token names no API key; get a new one")
    if standing is None:
        raise NotKnownYet("this service does not know your actor yet; retry in a moment")
    if standing.key_revoked:
        raise Unauthorized("the API key or session behind this token was revoked or ended")
    if standing.status not in (ActorStatus.PENDING, ActorStatus.ACTIVE):
        raise Forbidden(f"your actor is {standing.status}")
    return principal.model_copy(update={"status": standing.status})


def access_check(pool: asyncpg.Pool, standing_of: StandingOf) -> AccessCheck:
    """The check the auth dependency runs on every request (one query)."""

    async def check(principal: Principal) -> Principal:
        async with pool.acquire() as conn:
            standing = await standing_of(conn, principal)
        return judge(principal, standing)

    return check


def ensure_admitted(principal: Principal) -> Principal:
    """Until admission an actor reads and changes only itself."""
    if not principal.admitted:
        raise Forbidden("until your actor is admitted you may only read and change yourself")
    return principal


async def admitted_principal(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    return ensure_admitted(principal)


# A route that only admitted actors may call takes `me: Member`; a router whose routes all are
# for admitted actors takes `dependencies=[ADMITTED_ONLY]`.
Member = Annotated[Principal, Depends(admitted_principal)]
ADMITTED_ONLY = Depends(admitted_principal)


async def may_read(
    conn: Connection, principal: Principal, territory_id: UUID | str, *, published_offer: bool
) -> bool:
    """Whether the caller may read something of `territory_id`: its own territory always; another
    one only for a published offer, and only when that territory publishes its offers openly."""
    if principal.sees(territory_id):
        return True
    if not published_offer:
        return False
    open_: bool | None = await conn.fetchval(
        "SELECT offers_public FROM access_territories WHERE territory_id = $1",
        UUID(str(territory_id)),
    )
    return bool(open_)


async def ensure_may_list(
    pool: asyncpg.Pool, principal: Principal, territory_id: UUID | None, *, published_offers: bool
) -> None:
    """A listing of another territory: only of its published offers, only when it opened them."""
    if territory_id is None or principal.sees(territory_id):
        return
    async with pool.acquire() as conn:
        if await may_read(conn, principal, territory_id, published_offer=published_offers):
            return
    raise Forbidden("you see your own territory only", field="territory_id")


# --- the read model -------------------------------------------------------------------------------

_ACTORS = Table(
    "access_actors", ("actor_id", "territory_id", "status", "roles", "version"), key="actor_id"
)
_TERRITORIES = Table(
    "access_territories", ("territory_id", "offers_public", "version"), key="territory_id"
)


async def _revoke_key(conn: Connection, key_id: str, actor_id: str) -> None:
    await conn.execute(
        """INSERT INTO access_revoked_keys (key_id, actor_id) VALUES ($1, $2)
           ON CONFLICT (key_id) DO NOTHING""",
        key_id,
        UUID(actor_id),
    )


def access_consumer(group: str) -> EventConsumer:
    """The consumer group (`<service>.access` by default) that keeps this service's access read
    model."""
    consumer = EventConsumer(
        group,
        description="Keeps who may call this service: actors' status, revoked API keys and "
        "territories' openness.",
    )

    @consumer.on(*actors.EVENTS)
    async def on_actor(conn: Connection, event: CloudEvent[ActorState], ctx: Context) -> None:
        state = event.data
        row = {
            "actor_id": UUID(state.actor_id),
            "territory_id": UUID(state.territory_id),
            "status": str(state.status),
            "roles": sorted(state.roles),
            "version": state.version,
        }
        await conn.execute(
            _ACTORS.upsert_if_newer_sql(also="updated_at = now()"), *_ACTORS.values(row)
        )

    @consumer.on(ApiKeyRevokedV1)
    async def on_key_revoked(
        conn: Connection, event: CloudEvent[ApiKeyRevokedV1], ctx: Context
    ) -> None:
        await _revoke_key(conn, event.data.key_id, event.data.actor_id)

    # A session's id is its tokens' `key` claim: once ended, it is refused as a revoked key is.
    @consumer.on(SessionEndedV1)
    async def on_session_ended(
        conn: Connection, event: CloudEvent[SessionEndedV1], ctx: Context
    ) -> None:
        await _revoke_key(conn, event.data.session_id, event.data.actor_id)

    @consumer.on(TerritorySettingsChangedV1)
    async def on_territory(
        conn: Connection, event: CloudEvent[TerritorySettingsChangedV1], ctx: Context
    ) -> None:
        settings = event.data
        row = {
            "territory_id": UUID(settings.territory_id),
            "offers_public": settings.offers_public,
            "version": settings.version,
        }
        await conn.execute(_TERRITORIES.upsert_if_newer_sql(), *_TERRITORIES.values(row))

    return consumer
