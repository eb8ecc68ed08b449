"""SQL of the governance service: members, territories' colleges and rules, proposals, the frozen
electorate, votes with their history, and the audit chain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.governance.domain.audit import GENESIS, Entry
from services.governance.domain.ballots import DEFAULT_RULES, DEFAULT_WEIGHTS
from services.runtime.db import Connection
from services.runtime.pages import keyset
from services.runtime.personal import plain
from services.runtime.rows import Table

MEMBERS = Table(
    "members",
    ("actor_id", "territory_id", "kind", "college", "assigned", "status", "version"),
    key="actor_id",
)
PROPOSALS = Table(
    "proposals",
    (
        "id",
        "territory_id",
        "kind",
        "title",
        "description",
        "method",
        "secret",
        "parameters",
        "subject_id",
        "weights",
        "rules",
        "opened_by",
        "opens_at",
        "closes_at",
    ),
)
VOTES = Table(
    "votes",
    (
        "proposal_id",
        "voter_id",
        "college",
        "choice",
        "cast_at",
        "current",
        "salt",
        "audit_seq",
        "receipt",
    ),
    key="proposal_id",
)

# --- members --------------------------------------------------------------------------------------

# A newer actor state replaces the stored one; a college a facilitator assigned stays.
_UPSERT_MEMBER = f"""
{MEMBERS.insert_sql()} ON CONFLICT (actor_id) DO UPDATE SET
    territory_id = EXCLUDED.territory_id, kind = EXCLUDED.kind, status = EXCLUDED.status,
    version = EXCLUDED.version,
    college = CASE WHEN members.assigned THEN members.college ELSE EXCLUDED.college END
WHERE members.version < EXCLUDED.version
"""


async def upsert_member(conn: Connection, row: dict[str, Any]) -> None:
    await conn.execute(_UPSERT_MEMBER, *MEMBERS.values(row))


async def get_member(conn: Connection, actor_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM members WHERE actor_id = $1", actor_id)


async def assign_college(conn: Connection, actor_id: UUID, college: str) -> None:
    await conn.execute(
        "UPDATE members SET college = $2, assigned = true WHERE actor_id = $1", actor_id, college
    )


async def college_sizes(conn: Connection, territory_id: UUID) -> dict[str, int]:
    rows = await conn.fetch(
        """SELECT college, count(*) AS n FROM members
           WHERE territory_id = $1 AND status = 'active' GROUP BY college""",
        territory_id,
    )
    return {row["college"]: row["n"] for row in rows}


# --- territories ----------------------------------------------------------------------------------


async def territory(conn: Connection, territory_id: UUID, *, lock: bool = False) -> dict[str, Any]:
    """The territory's colleges and rules (the defaults, version 1, until a decision changes
    them); `lock` holds its row until the transaction ends (a decision changing them)."""
    if lock:
        await conn.execute(
            """INSERT INTO territories VALUES ($1, $2, 1, $3, 1)
               ON CONFLICT (territory_id) DO NOTHING""",
            territory_id,
            DEFAULT_WEIGHTS,
            DEFAULT_RULES,
        )
    row = await conn.fetchrow(
        "SELECT * FROM territories WHERE territory_id = $1" + (" FOR UPDATE" if lock else ""),
        territory_id,
    )
    if row is None:
        return {
            "weights": dict(DEFAULT_WEIGHTS),
            "colleges_version": 1,
            "rules": dict(DEFAULT_RULES),
            "rules_version": 1,
        }
    return {**dict(row), "rules": {**DEFAULT_RULES, **row["rules"]}}


async def set_weights(conn: Connection, territory_id: UUID, weights: dict[str, int]) -> int:
    """Store new college weights; their version."""
    return await _bump(conn, territory_id, "weights", "colleges_version", weights)


async def set_rules(conn: Connection, territory_id: UUID, rules: dict[str, Any]) -> int:
    """Store new rules; their version."""
    return await _bump(conn, territory_id, "rules", "rules_version", rules)


async def _bump(
    conn: Connection, territory_id: UUID, column: str, version: str, value: dict[str, Any]
) -> int:
    new_version: int = await conn.fetchval(
        f"""UPDATE territories SET {column} = $2, {version} = {version} + 1
            WHERE territory_id = $1 RETURNING {version}""",
        territory_id,
        value,
    )
    return new_version


# --- proposals ------------------------------------------------------------------------------------


async def insert_proposal(conn: Connection, row: dict[str, Any]) -> bool:
    """Insert; False when an approval proposal for the same subject already exists."""
    status = await conn.execute(
        PROPOSALS.insert_sql() + " ON CONFLICT DO NOTHING", *PROPOSALS.values(row)
    )
    return status == "INSERT 0 1"


async def freeze_electorate(conn: Connection, proposal_id: UUID, territory_id: UUID) -> int:
    status = await conn.execute(
        """INSERT INTO electorate (proposal_id, actor_id, college)
           SELECT $1, actor_id, college FROM members
           WHERE territory_id = $2 AND status = 'active'""",
        proposal_id,
        territory_id,
    )
    return int(status.split()[-1])


async def get_proposal(
    conn: Connection, proposal_id: UUID, *, lock: str = ""
) -> asyncpg.Record | None:
    """The proposal; `lock` is '', 'FOR SHARE' (a vote) or 'FOR UPDATE' (its closing)."""
    return await conn.fetchrow(f"SELECT * FROM proposals WHERE id = $1 {lock}", proposal_id)


async def list_proposals(
    conn: Connection,
    territory_id: UUID,
    status: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
    elector: UUID | None = None,
) -> list[asyncpg.Record]:
    """A page of the territory's proposals; with `elector`, only those whose frozen electorate
    holds that actor."""
    return await conn.fetch(
        """SELECT * FROM proposals
           WHERE territory_id = $1 AND ($2::text IS NULL OR status = $2)
             AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
             AND ($6::uuid IS NULL OR EXISTS (
                 SELECT 1 FROM electorate e WHERE e.proposal_id = proposals.id AND e.actor_id = $6))
           ORDER BY created_at DESC, id DESC LIMIT $5""",
        territory_id,
        status,
        *keyset(after),
        limit + 1,
        elector,
    )


async def close(conn: Connection, proposal_id: UUID, values: dict[str, Any]) -> None:
    await conn.execute(
        """UPDATE proposals SET status = 'closed', closed_at = $2, closed_early = $3,
               outcome = $4, tally = $5, decision_id = $6
           WHERE id = $1""",
        proposal_id,
        values["closed_at"],
        values["closed_early"],
        values["outcome"],
        values["tally"],
        values["decision_id"],
    )


# --- electorate and votes -------------------------------------------------------------------------


async def elector(conn: Connection, proposal_id: UUID, actor_id: UUID) -> asyncpg.Record | None:
    """The voter's place in the frozen electorate, locked: one member's votes on one proposal
    take their turn, so that exactly one of them stays current."""
    return await conn.fetchrow(
        """SELECT e.college, m.status FROM electorate e
           LEFT JOIN members m ON m.actor_id = e.actor_id
           WHERE e.proposal_id = $1 AND e.actor_id = $2
           FOR UPDATE OF e""",
        proposal_id,
        actor_id,
    )


async def college_in(conn: Connection, proposal_id: UUID, actor_id: UUID) -> str | None:
    """The college the actor votes in on this proposal (frozen at its opening), if any."""
    college: str | None = await conn.fetchval(
        "SELECT college FROM electorate WHERE proposal_id = $1 AND actor_id = $2",
        proposal_id,
        actor_id,
    )
    return college


async def retire_current(conn: Connection, proposal_id: UUID, voter_id: UUID) -> None:
    await conn.execute(
        "UPDATE votes SET current = false WHERE proposal_id = $1 AND voter_id = $2 AND current",
        proposal_id,
        voter_id,
    )


async def votes_of(conn: Connection, proposal_id: UUID, voter_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM votes WHERE proposal_id = $1 AND voter_id = $2 ORDER BY id DESC",
        proposal_id,
        voter_id,
    )


async def counts(
    conn: Connection, proposal_id: UUID
) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """The frozen electorate per college and the current votes per (college, choice), counted
    by PostgreSQL in one statement."""
    rows = await conn.fetch(
        """SELECT college, choice, count(*) AS n FROM votes
           WHERE proposal_id = $1 AND current GROUP BY college, choice
           UNION ALL
           SELECT college, NULL, count(*) FROM electorate WHERE proposal_id = $1
           GROUP BY college""",
        proposal_id,
    )
    electorate = {row["college"]: row["n"] for row in rows if row["choice"] is None}
    votes = {(row["college"], row["choice"]): row["n"] for row in rows if row["choice"]}
    return electorate, votes


async def electorate_sizes(conn: Connection, proposal_id: UUID) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT college, count(*) AS n FROM electorate WHERE proposal_id = $1 GROUP BY college",
        proposal_id,
    )
    return {row["college"]: row["n"] for row in rows}


async def turnout(conn: Connection, proposal_id: UUID) -> tuple[int, int]:
    """(members of the electorate who voted, size of the electorate)."""
    row = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM votes WHERE proposal_id = $1 AND current) AS voted,
                  (SELECT count(*) FROM electorate WHERE proposal_id = $1) AS size""",
        proposal_id,
    )
    assert row is not None
    return row["voted"], row["size"]


# --- the audit chain ------------------------------------------------------------------------------

# One statement appends: the UPDATE takes the territory's head row (appends to one chain wait
# for each other, appends to different chains do not), computes the next hash from the head's
# own, latest hash (SET sees the row as it was, RETURNING as it becomes), and the entry is
# written from what it returns. The hash is the one `domain.audit.chain_hash` computes.
_HEAD = """
WITH head AS (
    UPDATE audit_heads SET seq = seq + 1, previous = hash,
        hash = encode(sha256(decode(hash, 'hex') || $2::bytea), 'hex')
    WHERE territory_id = $1
    RETURNING seq, previous, hash),
entry AS (
    INSERT INTO audit_entries (territory_id, seq, body, previous, hash)
    SELECT $1, seq, $2, previous, hash FROM head
    RETURNING seq, previous, hash)"""
_APPEND = _HEAD + "\nSELECT seq, previous, hash FROM entry"
# A vote and its entry in one statement: the chain is held from here to the commit only. The
# vote's last two columns come from the entry.
assert VOTES.columns[-2:] == ("audit_seq", "receipt")
_VOTED = (
    _HEAD
    + f""",
vote AS (
    INSERT INTO votes ({VOTES.select_list()})
    SELECT {", ".join(f"${n}" for n in range(3, len(VOTES.columns) + 1))}, seq, hash FROM entry)
SELECT seq, previous, hash FROM entry"""
)
_FIRST = """
INSERT INTO audit_heads (territory_id, seq, previous, hash) VALUES ($1, 0, $2, $2)
ON CONFLICT (territory_id) DO NOTHING
"""


async def audit_append(
    conn: Connection, territory_id: UUID, body: bytes, vote: dict[str, Any] | None = None
) -> Entry:
    """Append `body` to the territory's chain, in the caller's transaction (whose end releases
    the chain to the next append); with `vote`, store the vote with its entry's position and
    hash (`audit_seq` and `receipt` are the entry's)."""
    statement, args = _APPEND, ()
    if vote is not None:
        statement = _VOTED
        args = VOTES.values({**vote, "audit_seq": 0, "receipt": ""})[:-2]
    row = await conn.fetchrow(statement, territory_id, body, *args)
    if row is None:  # the territory's first entry: its chain starts now
        await conn.execute(_FIRST, territory_id, GENESIS)
        row = await conn.fetchrow(statement, territory_id, body, *args)
        assert row is not None
    return Entry(row["seq"], body, row["previous"], row["hash"])


async def audit_page(
    conn: Connection, territory_id: UUID, after_seq: int, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT seq, body, previous, hash, recorded_at FROM audit_entries
           WHERE territory_id = $1 AND seq > $2 ORDER BY seq LIMIT $3""",
        territory_id,
        after_seq,
        limit,
    )


async def audit_entry(conn: Connection, territory_id: UUID, hash_: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT seq, body, previous, hash, recorded_at FROM audit_entries
           WHERE territory_id = $1 AND hash = $2""",
        territory_id,
        hash_,
    )


async def votes_in_chain(
    conn: Connection, territory_id: UUID, first_seq: int, last_seq: int
) -> list[asyncpg.Record]:
    """The stored votes whose entries lie in [first_seq, last_seq] of the territory's chain."""
    return await conn.fetch(
        """SELECT v.*, p.secret FROM votes v JOIN proposals p ON p.id = v.proposal_id
           WHERE p.territory_id = $1 AND v.audit_seq BETWEEN $2 AND $3""",
        territory_id,
        first_seq,
        last_seq,
    )


async def personal_data(conn: Connection, actor_id: UUID) -> dict[str, list[dict[str, Any]]]:
    """All governance holds about an actor: its membership and its votes (with their salts)."""
    votes = await conn.fetch("SELECT * FROM votes WHERE voter_id = $1 ORDER BY id", actor_id)
    return {
        "member": plain(await conn.fetch("SELECT * FROM members WHERE actor_id = $1", actor_id)),
        "votes": [
            {**row, "salt": row["salt"].hex() if row["salt"] else None} for row in plain(votes)
        ],
    }


def stored(rows: Sequence[asyncpg.Record]) -> list[Entry]:
    return [Entry(row["seq"], bytes(row["body"]), row["previous"], row["hash"]) for row in rows]
