"""Actors' use cases: read, ask the domain, write the state and its event in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from contracts.actors import (
    ActorAdmittedV1,
    ActorErasedV1,
    ActorKind,
    ActorRegisteredV1,
    ActorReinstatedV1,
    ActorStatus,
    ActorSuspendedV1,
    ActorUpdatedV1,
    ApiKeyRevokedV1,
    SessionEndReason,
    TerritorySettingsChangedV1,
)
from contracts.envelope import EventPayload
from services.actors import contacts, domain, people_store, sign_in, store
from services.actors.domain import Actor, ActorChanges, ActorRegistration
from services.actors.people import Person, Role
from services.runtime import clock
from services.runtime.context import Context
from services.runtime.db import Connection, transactional
from services.runtime.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from services.runtime.outbox import emit, forget_published
from services.runtime.principal import Principal


async def _emit(conn: Connection, payload: EventPayload, actor: Actor, ctx: Context) -> None:
    await emit(conn, payload, subject=actor.id, territory=actor.territory_id, ctx=ctx)


async def _insert_new_actor(conn: Connection, actor: Actor) -> None:
    try:
        await store.insert_actor(conn, actor)
    except asyncpg.ForeignKeyViolationError:  # the key checks the territory: no extra round trip
        raise InvalidInput("no such territory", field="territory_id") from None
    except asyncpg.UniqueViolationError as duplicate:
        raise _already_registered(duplicate) from None


def _already_registered(duplicate: asyncpg.UniqueViolationError) -> Conflict:
    """The conflict naming the field whose unique index refused the row."""
    if duplicate.constraint_name == "actors_territory_email":
        return Conflict("an actor with this e-mail is already registered here", field="email")
    return Conflict("an actor with this SIRET is already registered here", field="siret")


@dataclass(frozen=True)
class NewKey:
    key_id: str
    api_key: str
    label: str
    created_at: datetime


async def _new_key(conn: Connection, actor_id: UUID, label: str) -> NewKey:
    key_id, api_key, digest = domain.new_api_key()
    row = await store.insert_api_key(conn, key_id, actor_id, label, digest)
    return NewKey(key_id, api_key, label, row["created_at"])


async def _first_admin(conn: Connection, actor: Actor, ctx: Context) -> Person:
    """The registrant, by the actor's e-mail, becomes its first admin (a citizen is named as its
    actor is; an organisation's registrant gives a name later). The actor's address and theirs
    go to notifications, which mails them what concerns the actor."""
    name = actor.name if actor.kind == ActorKind.CITIZEN else ""
    person = await people_store.ensure_person(conn, uuid.uuid4(), actor.email, name)
    await people_store.add_membership(conn, actor.id, person.id, Role.ADMIN)
    await contacts.set_contact(conn, actor, "", actor.email, ctx)
    await contacts.set_contact(conn, actor, str(person.id), person.email, ctx)
    return person


@transactional
async def register_actor(
    conn: Connection, draft: ActorRegistration, ctx: Context
) -> tuple[Actor, NewKey, sign_in.Link]:
    """Register a pending actor, give it its first API key (shown once), and make its registrant
    its first admin with a sign-in link (to mail), so they can sign in while it waits."""
    actor = domain.register(draft, actor_id=uuid.uuid4(), now=clock.now())
    await _insert_new_actor(conn, actor)
    key = await _new_key(conn, actor.id, "first key")
    link = await sign_in.new_link(conn, await _first_admin(conn, actor, ctx))
    await _emit(conn, ActorRegisteredV1(**domain.state(actor)), actor, ctx)
    return actor, key, link


@transactional
async def bootstrap_territory(
    conn: Connection, territory_name: str, facilitator: ActorRegistration | None, ctx: Context
) -> tuple[UUID, Actor | None, NewKey | None]:
    """Create a territory (if new) and, optionally, an active facilitator with an API key."""
    territory_id = await store.territory_by_name(conn, territory_name)
    if territory_id is None:
        territory_id = uuid.uuid4()
        await store.insert_territory(conn, territory_id, territory_name)
    if facilitator is None:
        return territory_id, None, None
    draft = facilitator.model_copy(update={"territory_id": territory_id})
    actor = domain.make_facilitator(draft, actor_id=uuid.uuid4(), now=clock.now())
    await _insert_new_actor(conn, actor)
    key = await _new_key(conn, actor.id, "facilitator key")
    await _first_admin(conn, actor, ctx)
    await _emit(conn, ActorRegisteredV1(**domain.state(actor)), actor, ctx)
    return territory_id, actor, key


async def _locked(conn: Connection, actor_id: UUID, principal: Principal | None) -> Actor:
    actor = await store.get_actor(conn, actor_id, for_update=True)
    if actor is None or (principal is not None and not domain.may_see(principal, actor)):
        raise NotFound("no such actor")
    return actor


async def get_actor(pool: asyncpg.Pool, actor_id: UUID, principal: Principal) -> Actor:
    async with pool.acquire() as conn:
        actor = await store.get_actor(conn, actor_id)
    if actor is None or not domain.may_see(principal, actor):
        raise NotFound("no such actor")
    return actor


@transactional
async def change_actor(
    conn: Connection, actor_id: UUID, changes: ActorChanges, principal: Principal, ctx: Context
) -> Actor:
    actor = await _locked(conn, actor_id, principal)
    domain.ensure_may_change(principal, actor)
    updated, changed = domain.change(actor, changes, now=clock.now())
    if not changed:
        return actor
    try:
        await store.update_actor(conn, updated)
    except asyncpg.UniqueViolationError as duplicate:
        raise _already_registered(duplicate) from None
    await _emit(conn, ActorUpdatedV1(**domain.state(updated), changed=changed), updated, ctx)
    if "email" in changed:
        await contacts.set_contact(conn, updated, "", updated.email, ctx)
    return updated


async def _by_facilitator(
    conn: Connection,
    actor_id: UUID,
    principal: Principal,
    ctx: Context,
    change: Callable[[Actor], Actor],
    announce: Callable[[Actor], EventPayload],
) -> Actor:
    """A facilitator of the actor's territory moves it to another status, announced."""
    actor = await _locked(conn, actor_id, principal)
    domain.ensure_facilitates(principal, actor)
    changed = change(actor)
    await store.update_actor(conn, changed)
    await _emit(conn, announce(changed), changed, ctx)
    return changed


@transactional
async def set_partner(
    conn: Connection, actor_id: UUID, partner: bool, principal: Principal, ctx: Context
) -> Actor:
    """A facilitator of the actor's territory grants or withdraws its partner role (announced
    only when it changes: every service then applies it, a territory-wide webhook included)."""
    actor = await _locked(conn, actor_id, principal)
    domain.ensure_facilitates(principal, actor)
    changed = domain.set_partner(actor, partner, now=clock.now())
    if changed is not actor:
        await store.update_actor(conn, changed)
        await _emit(conn, ActorUpdatedV1(**domain.state(changed), changed=["roles"]), changed, ctx)
    return changed


@transactional
async def admit_actor(
    conn: Connection, actor_id: UUID, principal: Principal, ctx: Context
) -> Actor:
    """Admit a pending actor."""
    return await _by_facilitator(
        conn,
        actor_id,
        principal,
        ctx,
        lambda actor: domain.admit(actor, now=clock.now()),
        lambda admitted: ActorAdmittedV1(**domain.state(admitted), admitted_by=principal.actor_id),
    )


async def admit_by_decision(
    conn: Connection, actor_id: UUID, decision_id: str, ctx: Context
) -> Actor | None:
    """Admit a pending actor because governance decided so; None when it is not pending (an
    admission decision does not lift a suspension: that is a facilitator's reinstatement)."""
    actor = await _locked(conn, actor_id, None)
    if actor.status != ActorStatus.PENDING:
        return None
    admitted = domain.admit(actor, now=clock.now())
    await store.update_actor(conn, admitted)
    await _emit(
        conn, ActorAdmittedV1(**domain.state(admitted), decision_id=decision_id), admitted, ctx
    )
    return admitted


@transactional
async def suspend_actor(
    conn: Connection, actor_id: UUID, reason: str, principal: Principal, ctx: Context
) -> Actor:
    """Suspend an active actor: every service refuses it from the event on, and its people's
    sessions end (a reinstatement does not bring them back)."""
    await sign_in.end(conn, SessionEndReason.ACTOR_SUSPENDED, ctx, actor_id=actor_id)
    return await _by_facilitator(
        conn,
        actor_id,
        principal,
        ctx,
        lambda actor: domain.suspend(actor, now=clock.now()),
        lambda suspended: ActorSuspendedV1(
            **domain.state(suspended), suspended_by=principal.actor_id, reason=reason
        ),
    )


@transactional
async def reinstate_actor(
    conn: Connection, actor_id: UUID, principal: Principal, ctx: Context
) -> Actor:
    """Lift a suspension (a facilitator of the actor's territory)."""
    return await _by_facilitator(
        conn,
        actor_id,
        principal,
        ctx,
        lambda actor: domain.reinstate(actor, now=clock.now()),
        lambda reinstated: ActorReinstatedV1(
            **domain.state(reinstated), reinstated_by=principal.actor_id
        ),
    )


async def authenticate_api_key(pool: asyncpg.Pool, api_key: str) -> tuple[Actor, str]:
    """The actor behind a valid, unrevoked API key, and the key's id (named in the token);
    suspended actors get no token."""
    parts = domain.split_api_key(api_key)
    if parts is None:
        raise Unauthorized("invalid API key")
    key_id, secret = parts
    async with pool.acquire() as conn:
        row = await store.usable_api_key(conn, key_id)
        if row is None or not domain.secret_matches(secret, row["secret_hash"]):
            raise Unauthorized("invalid API key")
        actor = await store.get_actor(conn, row["actor_id"])
    if actor is None or actor.status == ActorStatus.SUSPENDED:
        raise Unauthorized("this actor is suspended")
    return actor, key_id


@transactional
async def create_api_key(
    conn: Connection, actor_id: UUID, label: str, principal: Principal
) -> NewKey:
    actor = await _locked(conn, actor_id, principal)
    domain.ensure_owns_keys(principal, actor)
    await _ensure_person_administers(conn, actor, principal)
    return await _new_key(conn, actor.id, label)


async def _ensure_person_administers(conn: Connection, actor: Actor, principal: Principal) -> None:
    """A person acting for their actor manages its keys (and erases it) only as its admin: a key
    outlives its maker's membership, so a mere member could keep access after being removed."""
    if not principal.person_id or principal.actor_id != str(actor.id):
        return
    if await people_store.role(conn, actor.id, UUID(principal.person_id)) != Role.ADMIN:
        raise Forbidden("only an admin of this actor manages its API keys")


async def list_api_keys(
    pool: asyncpg.Pool, actor_id: UUID, principal: Principal
) -> list[asyncpg.Record]:
    actor = await get_actor(pool, actor_id, principal)
    domain.ensure_owns_keys(principal, actor)
    async with pool.acquire() as conn:
        return await store.list_api_keys(conn, actor_id)


@transactional
async def revoke_api_key(
    conn: Connection, actor_id: UUID, key_id: str, principal: Principal, ctx: Context
) -> None:
    """Revoke a key (its actor, or a facilitator, e.g. for a lost device); every service then
    refuses the tokens minted with it."""
    actor = await _locked(conn, actor_id, principal)
    domain.ensure_may_change(principal, actor)
    await _ensure_person_administers(conn, actor, principal)
    if not await store.revoke_api_key(conn, actor.id, key_id):
        raise NotFound("no such active API key")
    revoked = ApiKeyRevokedV1(
        key_id=key_id,
        actor_id=str(actor.id),
        territory_id=str(actor.territory_id),
        revoked_by=principal.actor_id,
    )
    await _emit(conn, revoked, actor, ctx)


@transactional
async def erase_actor(
    conn: Connection, actor_id: UUID, principal: Principal, ctx: Context
) -> Actor:
    """Erase an actor's personal data (itself, or a facilitator on its request): its keys are
    revoked and `actor.erased` tells every read model to forget its name, contacts and place."""
    actor = await _locked(conn, actor_id, principal)
    domain.ensure_may_change(principal, actor)
    await _ensure_person_administers(conn, actor, principal)
    erased = domain.erase(actor, now=clock.now())
    await store.update_actor(conn, erased)
    await store.revoke_all_api_keys(conn, actor.id)
    await sign_in.end(conn, SessionEndReason.ACTOR_SUSPENDED, ctx, actor_id=actor.id)
    former = await people_store.remove_memberships_of_actor(conn, actor.id)
    await people_store.forget_people_without_actor(conn, former)
    for person_id in ["", *map(str, former)]:  # after the addresses set, on their topic
        await contacts.remove_contact(conn, actor.id, actor.territory_id, person_id, ctx)
    await forget_published(conn, str(actor.id))
    payload = ActorErasedV1(**domain.state(erased), erased_by=principal.actor_id)
    await _emit(conn, payload, erased, ctx)
    return erased


@transactional
async def change_territory_settings(
    conn: Connection, territory_id: UUID, offers_public: bool, principal: Principal, ctx: Context
) -> store.TerritorySettings:
    """A facilitator opens (or closes) its territory's published offers to other territories."""
    if not principal.facilitates(str(territory_id)):
        raise NotFound("no such territory among those you facilitate")
    settings = await store.territory_settings(conn, territory_id, for_update=True)
    if settings is None:
        raise NotFound("no such territory")
    if settings.offers_public == offers_public:
        return settings
    changed = store.TerritorySettings(territory_id, offers_public, settings.version + 1)
    await store.save_territory_settings(conn, changed)
    payload = TerritorySettingsChangedV1(
        territory_id=str(territory_id), offers_public=offers_public, version=changed.version
    )
    await emit(conn, payload, subject=territory_id, territory=territory_id, ctx=ctx)
    return changed
