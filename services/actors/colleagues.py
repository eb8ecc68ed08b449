"""The people of an actor: listed by its own people, invited and removed by its admins."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from contracts.actors import SessionEndReason
from services.actors import contacts, people_store, sign_in, store
from services.actors.domain import Actor
from services.actors.people import (
    Invitation,
    Membership,
    Person,
    Role,
    ensure_admin,
    ensure_member_of,
    ensure_not_last_admin,
)
from services.runtime.context import Context
from services.runtime.db import Connection, transactional
from services.runtime.errors import Conflict, Forbidden, NotFound
from services.runtime.principal import Principal


async def list_people(
    pool: asyncpg.Pool, actor_id: UUID, principal: Principal
) -> list[asyncpg.Record]:
    ensure_member_of(principal, actor_id)
    async with pool.acquire() as conn:
        return await people_store.people_of(conn, actor_id)


async def ensure_admin_of(conn: Connection, actor_id: UUID, principal: Principal) -> Actor:
    """The actor, locked, when the caller is a person administering it (the lock makes two admins
    removing each other at once take turns, so one admin always stays)."""
    ensure_member_of(principal, actor_id)
    actor = await store.get_actor(conn, actor_id, for_update=True)
    if actor is None:
        raise NotFound("no such actor")
    role = (
        await people_store.role(conn, actor_id, UUID(principal.person_id))
        if principal.person_id
        else None
    )
    ensure_admin(principal, actor_id, role)
    return actor


@dataclass(frozen=True)
class Invited:
    person: Person
    role: Role
    actor: Actor
    link: sign_in.Link


@transactional
async def invite(
    conn: Connection, actor_id: UUID, invitation: Invitation, principal: Principal, ctx: Context
) -> Invited:
    """Make the person (new, or known from another actor) a member, with a sign-in link."""
    actor = await ensure_admin_of(conn, actor_id, principal)
    person = await people_store.ensure_person(conn, uuid.uuid4(), invitation.email, invitation.name)
    if not await people_store.add_membership(conn, actor_id, person.id, invitation.role):
        raise Conflict("this person is already a member of this actor", field="email")
    await contacts.set_contact(conn, actor, str(person.id), person.email, ctx)
    link = await sign_in.new_link(conn, person)
    return Invited(person, invitation.role, actor, link)


@transactional
async def remove(
    conn: Connection, actor_id: UUID, person_id: UUID, principal: Principal, ctx: Context
) -> None:
    """Remove a person from the actor (never its last admin) and end their sessions for it."""
    actor = await ensure_admin_of(conn, actor_id, principal)
    role = await people_store.role(conn, actor_id, person_id)
    if role is None:
        raise NotFound("no such person in this actor")
    ensure_not_last_admin(role, await people_store.admins(conn, actor_id))
    await people_store.remove_membership(conn, actor_id, person_id)
    await contacts.remove_contact(conn, actor_id, actor.territory_id, person_id, ctx)
    await sign_in.end(
        conn, SessionEndReason.PERSON_REMOVED, ctx, actor_id=actor_id, person_id=person_id
    )


def _person_id(principal: Principal) -> UUID:
    if not principal.person_id:
        raise Forbidden("sign in as a person: an API key is no one")
    return UUID(principal.person_id)


async def myself(pool: asyncpg.Pool, principal: Principal) -> tuple[Person, list[Membership]]:
    """The signed-in person and their actors."""
    async with pool.acquire() as conn:
        person = await people_store.person(conn, _person_id(principal))
        if person is None:
            raise NotFound("no such person")
        return person, await people_store.memberships(conn, person.id)


@transactional
async def rename_myself(conn: Connection, principal: Principal, name: str) -> Person:
    person = await people_store.rename_person(conn, _person_id(principal), name)
    if person is None:
        raise NotFound("no such person")
    return person
