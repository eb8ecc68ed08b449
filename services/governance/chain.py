"""The audit routes: the territory's chain page by page, its verification, a receipt's entry.

Verification recomputes every hash in order and also checks each stored vote against the entry
it claims (its content, or its commitment under a secret ballot), so changing a vote row or an
entry is found at that entry.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.governance import handlers, store
from services.governance.domain import audit
from services.runtime.access import ADMITTED_ONLY
from services.runtime.auth import CurrentActor
from services.runtime.db import Connection
from services.runtime.errors import NotFound
from services.runtime.pages import Limit, Page
from services.runtime.service import Pool

audit_router = APIRouter(
    prefix="/territories/{territory_id}/audit", tags=["audit"], dependencies=[ADMITTED_ONLY]
)
PAGE = 5000  # entries read and verified at a time
VOTE_MARK = b'"type":"vote_cast"'


class EntryOut(BaseModel):
    seq: int
    previous: str
    hash: str
    recorded_at: datetime
    content: dict[str, Any] = Field(description="The entry; its RFC 8785 form is what is hashed.")

    @classmethod
    def of(cls, row: asyncpg.Record) -> EntryOut:
        entry = store.stored([row])[0]
        return cls(
            seq=entry.seq,
            previous=entry.previous,
            hash=entry.hash,
            recorded_at=row["recorded_at"],
            content=entry.content(),
        )


class VerificationOut(BaseModel):
    valid: bool
    entries: int = Field(description="Entries checked (up to the first broken one).")
    head: str | None = Field(description="The last entry's hash when the chain holds.")
    first_broken: int | None = Field(description="The position of the first broken entry.")
    reason: str | None


@audit_router.get("", summary="The territory's audit chain, oldest first")
async def audit_entries(
    territory_id: uuid.UUID,
    pool: Pool,
    me: CurrentActor,
    cursor: int | None = Query(default=None, ge=0, description="`next_cursor` of the last page."),
    limit: Limit = 100,
) -> Page[EntryOut]:
    async with pool.acquire() as conn:
        rows = await store.audit_page(
            conn, handlers.own_territory(me, territory_id), cursor or 0, limit + 1
        )
    shown = rows[:limit]
    more = len(rows) > limit
    return Page[EntryOut](
        items=[EntryOut.of(row) for row in shown],
        next_cursor=str(shown[-1]["seq"]) if more and shown else None,
    )


@audit_router.get("/verify", summary="Recompute the chain; name the first broken entry")
async def verify(territory_id: uuid.UUID, pool: Pool, me: CurrentActor) -> VerificationOut:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        return await verify_territory(conn, handlers.own_territory(me, territory_id))


@audit_router.get("/entries/{receipt}", summary="The entry a vote's receipt names")
async def entry(territory_id: uuid.UUID, receipt: str, pool: Pool, me: CurrentActor) -> EntryOut:
    async with pool.acquire() as conn:
        row = await store.audit_entry(conn, handlers.own_territory(me, territory_id), receipt)
    if row is None:
        raise NotFound("aucune entrée de ce territoire ne porte cette empreinte")
    return EntryOut.of(row)


async def verify_territory(conn: Connection, territory_id: uuid.UUID) -> VerificationOut:
    """Verify the whole chain, page by page, in one snapshot."""
    previous, after, checked = audit.GENESIS, 0, 0
    while True:
        entries = store.stored(await store.audit_page(conn, territory_id, after, PAGE))
        if not entries:
            return VerificationOut(
                valid=True,
                entries=checked,
                head=previous if checked else None,
                first_broken=None,
                reason=None,
            )
        broken = audit.verify_chain(entries, previous, after + 1)
        votes = await store.votes_in_chain(conn, territory_id, after + 1, entries[-1].seq)
        misfit = first_misfit(entries, votes)
        if misfit is not None and (broken is None or misfit.seq < broken.seq):
            broken = misfit
        if broken is not None:
            return VerificationOut(
                valid=False,
                entries=broken.seq - 1,
                head=None,
                first_broken=broken.seq,
                reason=broken.reason,
            )
        checked += len(entries)
        previous, after = entries[-1].hash, entries[-1].seq


def first_misfit(entries: list[audit.Entry], votes: list[asyncpg.Record]) -> audit.Broken | None:
    """The first entry that a stored vote no longer matches, or that lost its vote."""
    by_seq = {vote["audit_seq"]: vote for vote in votes}
    for entry in entries:
        vote = by_seq.get(entry.seq)
        if vote is None:
            if VOTE_MARK in entry.body:
                return audit.Broken(entry.seq, "le vote de cette entrée a disparu")
            continue
        expected = audit.vote_content(
            proposal_id=str(vote["proposal_id"]),
            voter_id=str(vote["voter_id"]),
            college=vote["college"],
            choice=vote["choice"],
            at=handlers.stamp(vote["cast_at"]),
            secret=vote["secret"],
            salt=vote["salt"],
        )
        if audit.canonical(expected) != entry.body:
            return audit.Broken(entry.seq, "le vote enregistré ne correspond plus à cette entrée")
    return None
