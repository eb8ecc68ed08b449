"""The matching database: SQL in the open, one function per query.

Row locks are taken in one order, needs before offers before matches, and rows of one table in
id order, so that concurrent transactions wait for each other rather than deadlock.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import TypeAdapter

from contracts.actors import ActorState
from contracts.matches import CancelReason, MatchStatus, Origin, Score
from contracts.needs import NeedState
from contracts.offers import OfferState
from services.matching import policies
from services.matching.capacity import Booking, Windows
from services.matching.lifecycle import OPEN, SETTLED, Match
from services.matching.policies import TerritoryPolicy
from services.runtime.db import Connection
from services.runtime.pages import keyset
from services.runtime.personal import plain
from services.runtime.rows import Table

_OPEN = [str(s) for s in OPEN]
_SETTLED = [str(s) for s in SETTLED]


@dataclass(frozen=True)
class Row:
    """An offer or need of the read model as stored: its newest version and its payload."""

    id: str
    status: str
    version: int
    state: dict[str, Any]


# --- read model: offers, needs, actors --------------------------------------------------------


_OFFERS = Table(
    "offers",
    ("offer_id", "territory_id", "provider_id", "status", "version", "state"),
    key="offer_id",
)
_NEEDS = Table(
    "needs",
    ("need_id", "territory_id", "requester_id", "status", "version", "state"),
    key="need_id",
)
_ACTORS = Table("actors", ("actor_id", "territory_id", "kind", "status", "version"), key="actor_id")


# A list of states serialises each one as its declared type, the contract's state without the
# fields of a particular event (a pause's reason...).
_OFFER_STATES = TypeAdapter(list[OfferState])
_NEED_STATES = TypeAdapter(list[NeedState])
_SAVE_OFFERS = _OFFERS.upsert_documents_sql(
    {"offer_id": "text", "territory_id": "text", "provider_id": "text", "status": "text",
     "version": "integer"},
    document="state",
    also="updated_at = now()",
)  # fmt: skip
_SAVE_NEEDS = _NEEDS.upsert_documents_sql(
    {"need_id": "text", "territory_id": "text", "requester_id": "text", "status": "text",
     "version": "integer"},
    document="state",
    also="updated_at = now()",
)  # fmt: skip


async def save_offers(conn: Connection, states: Sequence[OfferState]) -> set[str]:
    """Store each offer unless a version at least as new is stored, in one statement; the
    ids of those stored. One state per offer (`rows.newest` picks them)."""
    ordered = sorted(states, key=lambda state: state.offer_id)  # rows locked in id order
    rows = await conn.fetch(_SAVE_OFFERS, _OFFER_STATES.dump_json(ordered).decode())
    return {row["offer_id"] for row in rows}


async def save_needs(conn: Connection, states: Sequence[NeedState]) -> set[str]:
    """Store each need unless a version at least as new is stored, in one statement; the ids
    of those stored. One state per need (`rows.newest` picks them)."""
    ordered = sorted(states, key=lambda state: state.need_id)
    rows = await conn.fetch(_SAVE_NEEDS, _NEED_STATES.dump_json(ordered).decode())
    return {row["need_id"] for row in rows}


async def save_actor(conn: Connection, state: ActorState) -> bool:
    """Store the actor unless a version at least as new is stored; True when stored."""
    row = {
        "actor_id": state.actor_id,
        "territory_id": state.territory_id,
        "kind": str(state.kind),
        "status": str(state.status),
        "version": state.version,
    }
    stored = await conn.fetchval(
        _ACTORS.upsert_if_newer_sql(),
        *_ACTORS.values(row),
    )
    return bool(stored)


def _row(record: asyncpg.Record) -> Row:
    return Row(record["id"], record["status"], record["version"], record["state"])


async def get_need(conn: Connection, need_id: str, *, share: bool = False) -> Row | None:
    lock = " FOR SHARE" if share else ""
    record = await conn.fetchrow(
        f"SELECT need_id AS id, status, version, state FROM needs WHERE need_id = $1{lock}",
        need_id,
    )
    return _row(record) if record else None


async def lock_needs(conn: Connection, need_ids: Iterable[str]) -> dict[str, Row]:
    """The needs, share-locked so that none closes before the transaction ends."""
    records = await conn.fetch(
        """SELECT need_id AS id, status, version, state FROM needs
           WHERE need_id = ANY($1::text[]) ORDER BY need_id FOR SHARE""",
        sorted(set(need_ids)),
    )
    return {r["id"]: _row(r) for r in records}


async def lock_offers(
    conn: Connection, offer_ids: Iterable[str], *, exclusive: bool = False
) -> dict[str, Row]:
    """The offers, locked: shared to propose them, exclusive to confirm against capacity."""
    lock = "FOR UPDATE" if exclusive else "FOR SHARE"
    records = await conn.fetch(
        f"""SELECT offer_id AS id, status, version, state FROM offers
            WHERE offer_id = ANY($1::text[]) ORDER BY offer_id {lock}""",
        sorted(set(offer_ids)),
    )
    return {r["id"]: _row(r) for r in records}


async def get_offers(conn: Connection, offer_ids: Iterable[str]) -> dict[str, Row]:
    records = await conn.fetch(
        """SELECT offer_id AS id, status, version, state FROM offers
           WHERE offer_id = ANY($1::text[])""",
        list(set(offer_ids)),
    )
    return {r["id"]: _row(r) for r in records}


async def published_offers(conn: Connection, territory_id: str) -> list[Row]:
    records = await conn.fetch(
        """SELECT offer_id AS id, status, version, state FROM offers
           WHERE status = 'published' AND territory_id = $1""",
        territory_id,
    )
    return [_row(r) for r in records]


async def open_needs(conn: Connection, territory_id: str) -> list[Row]:
    records = await conn.fetch(
        """SELECT need_id AS id, status, version, state FROM needs
           WHERE status = 'open' AND territory_id = $1""",
        territory_id,
    )
    return [_row(r) for r in records]


async def offer_version(conn: Connection, offer_id: str) -> int | None:
    """The version of the offer stored (None if none is)."""
    version: int | None = await conn.fetchval(
        "SELECT version FROM offers WHERE offer_id = $1", offer_id
    )
    return version


async def need_version(conn: Connection, need_id: str) -> int | None:
    """The version of the need stored (None if none is)."""
    version: int | None = await conn.fetchval(
        "SELECT version FROM needs WHERE need_id = $1", need_id
    )
    return version


async def party_territories(conn: Connection, actor_id: str) -> set[str]:
    """The territories of the open matches where the actor is a party."""
    rows = await conn.fetch(
        """SELECT DISTINCT territory_id FROM matches
           WHERE (provider_id = $1 OR requester_id = $1) AND status = ANY($2::text[])""",
        actor_id,
        _OPEN,
    )
    return {row["territory_id"] for row in rows}


async def record_tenure(
    conn: Connection, territory_id: str, replica: str, tenure: int, at: datetime
) -> None:
    """Journal that `replica`, in its `tenure`-th assignment, applied a record of the territory."""
    await conn.execute(
        """INSERT INTO territory_tenures (territory_id, replica, tenure, first_at, last_at)
           VALUES ($1, $2, $3, $4, $4)
           ON CONFLICT (territory_id, replica, tenure) DO UPDATE
           SET last_at = greatest(territory_tenures.last_at, EXCLUDED.last_at),
               records = territory_tenures.records + 1""",
        territory_id,
        replica,
        tenure,
        at,
    )


async def suspended_among(conn: Connection, actor_ids: Iterable[str]) -> set[str]:
    """The actors among `actor_ids` known to be suspended (an actor not yet known is not)."""
    rows = await conn.fetch(
        "SELECT actor_id FROM actors WHERE actor_id = ANY($1::text[]) AND status = 'suspended'",
        list(set(actor_ids)),
    )
    return {row["actor_id"] for row in rows}


# --- policies ---------------------------------------------------------------------------------


async def latest_policies(conn: Connection) -> list[TerritoryPolicy]:
    rows = await conn.fetch(
        """SELECT DISTINCT ON (territory_id) territory_id, version, parameters, decision_id,
               adopted_at
           FROM policies ORDER BY territory_id, version DESC"""
    )
    return [
        policies.from_json(
            row["territory_id"],
            row["version"],
            row["parameters"],
            decision_id=row["decision_id"],
            adopted_at=row["adopted_at"],
        )
        for row in rows
    ]


async def current_policy(conn: Connection, territory_id: str) -> TerritoryPolicy:
    """The territory's latest policy as stored: the default until its first decision."""
    row = await conn.fetchrow(
        """SELECT version, parameters, decision_id, adopted_at FROM policies
           WHERE territory_id = $1 ORDER BY version DESC LIMIT 1""",
        territory_id,
    )
    if row is None:
        return policies.default_policy(territory_id)
    return policies.from_json(
        territory_id,
        row["version"],
        row["parameters"],
        decision_id=row["decision_id"],
        adopted_at=row["adopted_at"],
    )


async def decision_applied(conn: Connection, decision_id: str) -> bool:
    return bool(
        await conn.fetchval("SELECT true FROM policies WHERE decision_id = $1", decision_id)
    )


async def insert_policy(conn: Connection, record: TerritoryPolicy) -> None:
    await conn.execute(
        """INSERT INTO policies (territory_id, version, parameters, decision_id, adopted_at)
           VALUES ($1, $2, $3, $4, $5)""",
        record.territory_id,
        record.version,
        policies.to_json(record),
        record.decision_id,
        record.adopted_at,
    )


# --- matches ----------------------------------------------------------------------------------

_MATCHES = Table(
    "matches",
    (
        "id", "territory_id", "offer_id", "offer_version", "need_id", "need_version",
        "provider_id", "requester_id", "status", "quantity", "unit", "windows", "score",
        "policy_version", "proposed_at", "expires_at", "provider_accepted_at",
        "requester_accepted_at", "confirmed_at", "closed_at", "reason", "version", "updated_at",
        "origin", "project_id",
    ),
)  # fmt: skip
_MATCH_COLUMNS = _MATCHES.select_list()
# What a match's lifecycle changes after its proposal; the pair, terms and score stay as proposed.
_MATCH_PROGRESS = (
    "status", "provider_accepted_at", "requester_accepted_at", "confirmed_at", "closed_at",
    "reason", "version", "updated_at",
)  # fmt: skip


def _windows_json(windows: Windows) -> dict[str, list[list[int]]]:
    return {
        "week": [list(interval) for interval in windows.week],
        "dated": [list(interval) for interval in windows.dated],
    }


def _windows(stored: dict[str, list[list[int]]]) -> Windows:
    return Windows(
        week=tuple((start, end) for start, end in stored["week"]),
        dated=tuple((start, end) for start, end in stored["dated"]),
    )


def _match(row: asyncpg.Record) -> Match:
    fields = {k: row[k] for k in row.keys() if k != "policy_version"}
    fields["status"] = MatchStatus(row["status"])
    fields["windows"] = _windows(row["windows"])
    fields["score"] = Score.model_validate(row["score"])
    fields["origin"] = Origin(row["origin"])
    return Match(**fields)


def _match_row(match: Match) -> dict[str, Any]:
    return {
        "id": match.id,
        "territory_id": match.territory_id,
        "offer_id": match.offer_id,
        "offer_version": match.offer_version,
        "need_id": match.need_id,
        "need_version": match.need_version,
        "provider_id": match.provider_id,
        "requester_id": match.requester_id,
        "status": str(match.status),
        "quantity": match.quantity,
        "unit": str(match.unit),
        "windows": _windows_json(match.windows),
        "score": match.score.model_dump(mode="json"),
        "policy_version": match.score.policy_version,
        "proposed_at": match.proposed_at,
        "expires_at": match.expires_at,
        "provider_accepted_at": match.provider_accepted_at,
        "requester_accepted_at": match.requester_accepted_at,
        "confirmed_at": match.confirmed_at,
        "closed_at": match.closed_at,
        "reason": match.reason,
        "version": match.version,
        "updated_at": match.updated_at,
        "origin": str(match.origin),
        "project_id": match.project_id,
    }


async def insert_match(conn: Connection, match: Match) -> bool:
    """Insert a proposal; False when the pair already has a live match (nothing inserted)."""
    inserted = await conn.fetchval(
        f"""{_MATCHES.insert_sql()}
            ON CONFLICT (need_id, offer_id) WHERE status IN ('proposed', 'accepted', 'confirmed')
            DO NOTHING RETURNING true""",
        *_MATCHES.values(_match_row(match)),
    )
    return bool(inserted)


async def update_match(conn: Connection, match: Match) -> None:
    """Write the new state of a match locked FOR UPDATE in the same transaction."""
    await conn.execute(
        _MATCHES.update_sql(_MATCH_PROGRESS),
        *_MATCHES.update_values(_match_row(match), _MATCH_PROGRESS),
    )


async def rebook_match(conn: Connection, match: Match) -> None:
    """Write what a confirmed match books, after an amendment of its agreement."""
    await conn.execute(
        "UPDATE matches SET quantity = $2, windows = $3, updated_at = $4 WHERE id = $1",
        match.id,
        match.quantity,
        _windows_json(match.windows),
        match.updated_at,
    )


async def get_match(
    conn: Connection, match_id: uuid.UUID, *, for_update: bool = False
) -> Match | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_MATCH_COLUMNS} FROM matches WHERE id = $1{lock}", match_id)
    return _match(row) if row else None


async def get_match_skip_locked(conn: Connection, match_id: uuid.UUID) -> Match | None:
    """The match locked for update, or None if another transaction holds it."""
    row = await conn.fetchrow(
        f"SELECT {_MATCH_COLUMNS} FROM matches WHERE id = $1 FOR UPDATE SKIP LOCKED", match_id
    )
    return _match(row) if row else None


async def open_matches(
    conn: Connection,
    *,
    offer_id: str | None = None,
    need_id: str | None = None,
    actor_id: str | None = None,
    territory_id: str | None = None,
) -> list[Match]:
    """Open matches (proposed or accepted) of an offer, a need, a party or a territory, locked
    for update in id order."""
    rows = await conn.fetch(
        f"""SELECT {_MATCH_COLUMNS} FROM matches
            WHERE status = ANY($1::text[])
              AND ($2::text IS NULL OR offer_id = $2)
              AND ($3::text IS NULL OR need_id = $3)
              AND ($4::text IS NULL OR provider_id = $4 OR requester_id = $4)
              AND ($5::text IS NULL OR territory_id = $5)
            ORDER BY id FOR UPDATE""",
        _OPEN, offer_id, need_id, actor_id, territory_id,
    )  # fmt: skip
    return [_match(row) for row in rows]


async def bookings(
    conn: Connection, offer_ids: Iterable[str], *, except_match: uuid.UUID | None = None
) -> dict[str, list[Booking]]:
    """What the confirmed matches of each offer (but `except_match`) hold of it."""
    rows = await conn.fetch(
        """SELECT offer_id, quantity, windows FROM matches
           WHERE offer_id = ANY($1::text[]) AND status = 'confirmed'
             AND ($2::uuid IS NULL OR id <> $2)""",
        list(set(offer_ids)),
        except_match,
    )
    held: dict[str, list[Booking]] = defaultdict(list)
    for row in rows:
        held[row["offer_id"]].append(Booking(row["quantity"], _windows(row["windows"])))
    return held


async def proposed_bookings(conn: Connection, offer_ids: Iterable[str]) -> dict[str, list[Booking]]:
    """What the open proposals of each offer ask of it, and when."""
    rows = await conn.fetch(
        """SELECT offer_id, quantity, windows FROM matches
           WHERE offer_id = ANY($1::text[]) AND status = ANY($2::text[])""",
        list(set(offer_ids)),
        _OPEN,
    )
    asked: dict[str, list[Booking]] = defaultdict(list)
    for row in rows:
        asked[row["offer_id"]].append(Booking(row["quantity"], _windows(row["windows"])))
    return asked


@dataclass
class NeedMatches:
    """Where a need stands with its matches."""

    open: int = 0
    served: bool = False  # it has a confirmed match
    settled_offers: set[str] = field(default_factory=set)  # never proposed again for it


async def need_matches(conn: Connection, need_ids: Sequence[str]) -> dict[str, NeedMatches]:
    # A pair whose booking a party ended is settled too: its parties parted.
    rows = await conn.fetch(
        """SELECT need_id, offer_id, status FROM matches
           WHERE need_id = ANY($1::text[])
             AND (status = ANY($2::text[]) OR (status = 'cancelled' AND reason = $3))""",
        list(need_ids),
        _SETTLED,
        str(CancelReason.BY_PARTY),
    )
    found = {need_id: NeedMatches() for need_id in need_ids}
    for row in rows:
        summary = found[row["need_id"]]
        summary.settled_offers.add(row["offer_id"])
        if row["status"] in _OPEN:
            summary.open += 1
        elif row["status"] == MatchStatus.CONFIRMED:
            summary.served = True
    return found


async def pairs_of(conn: Connection, need_id: str, offer_ids: Iterable[str]) -> dict[str, Match]:
    """The latest match of `need_id` with each of `offer_ids` that has one."""
    rows = await conn.fetch(
        f"""SELECT DISTINCT ON (offer_id) {_MATCH_COLUMNS} FROM matches
            WHERE need_id = $1 AND offer_id = ANY($2::text[])
            ORDER BY offer_id, proposed_at DESC""",
        need_id,
        list(offer_ids),
    )
    return {row["offer_id"]: _match(row) for row in rows}


async def lapsed_match_ids(conn: Connection, now: datetime, limit: int) -> list[uuid.UUID]:
    rows = await conn.fetch(
        """SELECT id FROM matches WHERE status = ANY($1::text[]) AND expires_at <= $2
           ORDER BY expires_at LIMIT $3""",
        _OPEN,
        now,
        limit,
    )
    return [row["id"] for row in rows]


async def list_matches(
    conn: Connection,
    actor_id: str,
    *,
    status: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Match]:
    """A page of the matches where `actor_id` is a party, newest first, after the cursor."""
    rows = await conn.fetch(
        f"""SELECT {_MATCH_COLUMNS} FROM matches
            WHERE (provider_id = $1 OR requester_id = $1)
              AND ($2::text IS NULL OR status = $2)
              AND ($3::timestamptz IS NULL OR (proposed_at, id) < ($3, $4))
            ORDER BY proposed_at DESC, id DESC LIMIT $5""",
        actor_id,
        status,
        *keyset(after),
        limit,
    )
    return [_match(row) for row in rows]


# --- personal data ----------------------------------------------------------------------------


async def personal_data(conn: Connection, actor_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    """All matching holds about an actor: its status, the offers and needs it published as
    matching knows them, and the matches where it is a party."""
    actor = str(actor_id)
    return {
        "actor": plain(await conn.fetch("SELECT * FROM actors WHERE actor_id = $1", actor)),
        "offers": plain(await conn.fetch("SELECT * FROM offers WHERE provider_id = $1", actor)),
        "needs": plain(await conn.fetch("SELECT * FROM needs WHERE requester_id = $1", actor)),
        "matches": plain(
            await conn.fetch(
                "SELECT * FROM matches WHERE provider_id = $1 OR requester_id = $1", actor
            )
        ),
    }
