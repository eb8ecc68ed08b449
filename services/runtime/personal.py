"""Personal data (RGPD): `GET /v1/me/export` in every service, and tables' rows as plain data.

Guarantee: every service answers for what it holds about the caller, from its own tables, with
no call to another service: the access read model's row (status, territory) always, plus what
the service's `ServiceSpec.export` gathers (its own aggregates of the caller). The caller reads
only itself, admitted or not. What each service holds and how long is listed in the README.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.runtime import clock
from services.runtime.auth import CurrentActor
from services.runtime.db import Connection

# What a service holds about an actor, by kind of record (e.g. {"assets": [...]}).
Export = Callable[[Connection, UUID], Awaitable[dict[str, list[dict[str, Any]]]]]


class PersonalExport(BaseModel):
    service: str
    actor_id: UUID
    exported_at: datetime
    data: dict[str, list[dict[str, Any]]] = Field(
        description="What this service holds about the caller, by kind of record."
    )


def plain(rows: Iterable[asyncpg.Record]) -> list[dict[str, Any]]:
    """Rows as dicts, ready to be exported."""
    return [dict(row) for row in rows]


def export_router(service: str, export: Export | None) -> APIRouter:
    """The `/me/export` route of one service (mounted under /v1)."""
    router = APIRouter(tags=["personal data"])

    @router.get(
        "/me/export",
        summary="Everything this service holds about me (RGPD right of access)",
    )
    async def export_me(request: Request, me: CurrentActor) -> PersonalExport:
        pool: asyncpg.Pool = request.app.state.runtime.pool
        actor_id = UUID(me.actor_id)
        async with pool.acquire() as conn, conn.transaction(readonly=True):
            data = await export(conn, actor_id) if export else {}
            access = await conn.fetch(
                "SELECT actor_id, territory_id, status, version, updated_at FROM access_actors "
                "WHERE actor_id = $1",
                actor_id,
            )
        if access:
            data = {"access": plain(access), **data}
        return PersonalExport(
            service=service, actor_id=actor_id, exported_at=clock.now(), data=data
        )

    return router
