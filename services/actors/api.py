"""HTTP routes of the actors service (mounted under /v1; the JWKS at the root)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.actors import ActorKind, ActorStatus, Location
from contracts.fields import CleanText, Label
from services.actors import handlers, letters, store
from services.actors.domain import Actor, ActorChanges, ActorRegistration
from services.actors.people_api import Mails, mint
from services.actors.settings import ActorsSettings
from services.actors.tokens import jwks
from services.runtime.access import Member
from services.runtime.auth import CurrentActor
from services.runtime.pages import CursorParam, Limit, Page, decode_cursor, page_of
from services.runtime.ratelimit import sensitive_rate_limit
from services.runtime.service import Pool, settings_of
from services.runtime.service import RequestContext as Ctx

router = APIRouter()
Settings = Annotated[ActorsSettings, Depends(settings_of(ActorsSettings))]
wellknown_router = APIRouter(tags=["auth"])


class ActorOut(BaseModel):
    id: UUID
    territory_id: UUID
    kind: ActorKind
    name: str
    email: str
    phone: str | None
    location: Location | None
    description: str
    siret: str | None
    status: ActorStatus
    roles: list[str]
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, actor: Actor) -> ActorOut:
        return cls.model_validate({**actor.model_dump(), "roles": list(actor.roles)})


class ApiKeyOut(BaseModel):
    id: str
    label: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class NewApiKeyOut(ApiKeyOut):
    key: str = Field(description="The API key itself. It is shown this once and never again.")


class RegisteredOut(BaseModel):
    actor: ActorOut
    api_key: NewApiKeyOut


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_key: Annotated[str, StringConstraints(min_length=1, max_length=200), CleanText()]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int


class PartnerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    partner: bool = Field(
        description="Whether the actor is a partner of its territory: its webhooks may then hear "
        "of the whole territory."
    )


class SuspendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000), CleanText()]


class ApiKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Label


# What `new_api_key` makes: 16 hex digits (anything else names no key, and never reaches SQL).
KeyId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{16}$")]


class TerritoryOut(BaseModel):
    id: UUID
    name: str
    created_at: datetime


def _new_key_out(key: handlers.NewKey) -> NewApiKeyOut:
    return NewApiKeyOut(id=key.key_id, label=key.label, created_at=key.created_at, key=key.api_key)


# --- territories and registration -----------------------------------------------------------------


@router.get("/territories", tags=["territories"], summary="Territories one can register in")
async def list_territories(pool: Pool) -> list[TerritoryOut]:
    async with pool.acquire() as conn:
        rows = await store.list_territories(conn)
    return [TerritoryOut.model_validate(dict(row)) for row in rows]


@router.post(
    "/actors",
    status_code=status.HTTP_201_CREATED,
    tags=["actors"],
    dependencies=[Depends(sensitive_rate_limit)],
    summary="Register an actor (no token needed); it stays pending until admitted. The e-mail "
    "given becomes its first admin, who is mailed a sign-in link",
)
async def register(body: ActorRegistration, pool: Pool, ctx: Ctx, mails: Mails) -> RegisteredOut:
    actor, key, link = await handlers.register_actor(pool, body, ctx)
    mails.send(letters.registration(actor.email, actor.name, mails.portal_url, link.token))
    return RegisteredOut(actor=ActorOut.of(actor), api_key=_new_key_out(key))


# --- tokens ---------------------------------------------------------------------------------------


@router.post(
    "/auth/token",
    tags=["auth"],
    summary="Exchange an API key for a short-lived access token",
    dependencies=[Depends(sensitive_rate_limit)],
)
async def token(body: TokenRequest, pool: Pool, settings: Settings, request: Request) -> TokenOut:
    actor, key_id = await handlers.authenticate_api_key(pool, body.api_key)
    jwt = mint(request, settings, actor, key_id, None)
    return TokenOut(access_token=jwt, expires_in=settings.token_ttl_s)


@wellknown_router.get("/.well-known/jwks.json", summary="Public keys that verify access tokens")
async def jwks_endpoint(request: Request) -> dict[str, Any]:
    return jwks(request.app.state.signing_keys)


# --- actors ---------------------------------------------------------------------------------------


@router.get(
    "/actors", tags=["actors"], summary="Actors of my territory (facilitators see all statuses)"
)
async def list_actors(
    pool: Pool,
    me: Member,
    status_: Annotated[ActorStatus | None, Query(alias="status")] = None,
    kind: ActorKind | None = None,
    cursor: CursorParam = None,
    limit: Limit = 50,
) -> Page[ActorOut]:
    visible = list(ActorStatus) if me.is_facilitator else [ActorStatus.ACTIVE]
    statuses = [s for s in visible if status_ is None or s == status_]
    async with pool.acquire() as conn:
        actors = await store.list_actors(
            conn,
            UUID(me.territory_id),
            statuses=[str(s) for s in statuses],
            kind=str(kind) if kind else None,
            after=decode_cursor(cursor),
            limit=limit + 1,
        )
    return page_of(actors, limit, position=lambda a: (a.created_at, a.id), view=ActorOut.of)


@router.get("/actors/me", tags=["actors"], summary="The actor behind the token")
async def me(pool: Pool, me: CurrentActor) -> ActorOut:
    return ActorOut.of(await handlers.get_actor(pool, UUID(me.actor_id), me))


@router.get("/actors/{actor_id}", tags=["actors"])
async def get_actor(actor_id: UUID, pool: Pool, me: CurrentActor) -> ActorOut:
    return ActorOut.of(await handlers.get_actor(pool, actor_id, me))


@router.patch(
    "/actors/{actor_id}", tags=["actors"], summary="Change an actor (itself, or a facilitator)"
)
async def change_actor(
    actor_id: UUID, body: ActorChanges, pool: Pool, me: CurrentActor, ctx: Ctx
) -> ActorOut:
    return ActorOut.of(await handlers.change_actor(pool, actor_id, body, me, ctx))


@router.post(
    "/actors/{actor_id}/admit", tags=["actors"], summary="Admit a pending actor (facilitator)"
)
async def admit(actor_id: UUID, pool: Pool, me: CurrentActor, ctx: Ctx) -> ActorOut:
    return ActorOut.of(await handlers.admit_actor(pool, actor_id, me, ctx))


@router.put(
    "/actors/{actor_id}/partner",
    tags=["actors"],
    summary="Grant or withdraw an actor's partner role (facilitator)",
)
async def set_partner(
    actor_id: UUID, body: PartnerRequest, pool: Pool, me: CurrentActor, ctx: Ctx
) -> ActorOut:
    return ActorOut.of(await handlers.set_partner(pool, actor_id, body.partner, me, ctx))


@router.post(
    "/actors/{actor_id}/reinstate",
    tags=["actors"],
    summary="Lift an actor's suspension (facilitator)",
)
async def reinstate(actor_id: UUID, pool: Pool, me: CurrentActor, ctx: Ctx) -> ActorOut:
    return ActorOut.of(await handlers.reinstate_actor(pool, actor_id, me, ctx))


@router.post(
    "/actors/{actor_id}/suspend", tags=["actors"], summary="Suspend an actor (facilitator)"
)
async def suspend(
    actor_id: UUID, body: SuspendRequest, pool: Pool, me: CurrentActor, ctx: Ctx
) -> ActorOut:
    return ActorOut.of(await handlers.suspend_actor(pool, actor_id, body.reason, me, ctx))


@router.post(
    "/actors/{actor_id}/erase",
    tags=["personal data"],
    summary="Erase an actor's personal data at its request (facilitator)",
)
async def erase(actor_id: UUID, pool: Pool, me: CurrentActor, ctx: Ctx) -> ActorOut:
    return ActorOut.of(await handlers.erase_actor(pool, actor_id, me, ctx))


@router.delete(
    "/me",
    status_code=204,
    tags=["personal data"],
    summary="Erase my personal data (RGPD): name, contacts and place removed, my id kept",
)
async def erase_me(pool: Pool, me: CurrentActor, ctx: Ctx) -> Response:
    await handlers.erase_actor(pool, UUID(me.actor_id), me, ctx)
    return Response(status_code=204)


# --- API keys -------------------------------------------------------------------------------------


@router.post(
    "/actors/{actor_id}/api-keys",
    status_code=201,
    tags=["api keys"],
    summary="Create one of my API keys (my token's own key must still be live)",
)
async def create_api_key(
    actor_id: UUID, body: ApiKeyRequest, pool: Pool, me: CurrentActor
) -> NewApiKeyOut:
    return _new_key_out(await handlers.create_api_key(pool, actor_id, body.label, me))


@router.get("/actors/{actor_id}/api-keys", tags=["api keys"], summary="My API keys")
async def list_api_keys(actor_id: UUID, pool: Pool, me: CurrentActor) -> list[ApiKeyOut]:
    rows = await handlers.list_api_keys(pool, actor_id, me)
    return [ApiKeyOut.model_validate(dict(row)) for row in rows]


@router.delete(
    "/actors/{actor_id}/api-keys/{key_id}",
    status_code=204,
    tags=["api keys"],
    summary="Revoke an API key (its actor, or a facilitator, e.g. for a lost device)",
)
async def revoke_api_key(
    actor_id: UUID, key_id: KeyId, pool: Pool, me: CurrentActor, ctx: Ctx
) -> Response:
    await handlers.revoke_api_key(pool, actor_id, key_id, me, ctx)
    return Response(status_code=204)


# --- territory settings ---------------------------------------------------------------------------


class TerritorySettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    offers_public: bool = Field(
        description="Let actors of other territories read this territory's published offers "
        "(never its needs nor its actors)."
    )


class TerritorySettingsOut(TerritorySettingsIn):
    territory_id: UUID
    version: int


@router.put(
    "/territories/{territory_id}/settings",
    tags=["territories"],
    summary="Change my territory's settings (facilitator)",
)
async def change_territory_settings(
    territory_id: UUID, body: TerritorySettingsIn, pool: Pool, me: CurrentActor, ctx: Ctx
) -> TerritorySettingsOut:
    changed = await handlers.change_territory_settings(
        pool, territory_id, body.offers_public, me, ctx
    )
    return TerritorySettingsOut(
        territory_id=changed.territory_id,
        offers_public=changed.offers_public,
        version=changed.version,
    )
