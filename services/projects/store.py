"""SQL of the projects service: visions, ideas and their supports, projects with carriers and
stage history, the needs opened for them, pledges and evaluations."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.runtime.db import Connection
from services.runtime.pages import Cursor, keyset
from services.runtime.personal import plain
from services.runtime.rows import Table

VISIONS = Table(
    "visions",
    ("id", "territory_id", "title", "text", "themes", "aims", "drafted_by", "created_at"),
)
IDEAS = Table(
    "ideas",
    (
        "id", "territory_id", "title", "description", "theme", "session", "vision_id",
        "submitted_by", "created_at",
    ),
)  # fmt: skip
PROJECTS = Table(
    "projects",
    (
        "id", "territory_id", "title", "description", "theme", "vision_id", "stage",
        "created_by", "created_at", "updated_at",
    ),
)  # fmt: skip
PLEDGES = Table(
    "pledges",
    (
        "id", "project_id", "contributor_id", "kind", "amount", "unit", "need_id", "note",
        "status", "created_at",
    ),
)  # fmt: skip
EVALUATIONS = Table(
    "evaluations",
    (
        "id", "project_id", "indicators", "jobs_created", "jobs_consolidated", "people_served",
        "value_created_cents", "evaluated_by", "evaluated_at",
    ),
)  # fmt: skip

# --- members (the runtime's access read model) --------------------------------------------------


async def active_members(conn: Connection, territory_id: UUID, actor_ids: list[UUID]) -> set[UUID]:
    rows = await conn.fetch(
        """SELECT actor_id FROM access_actors
           WHERE actor_id = ANY($1::uuid[]) AND territory_id = $2 AND status = 'active'""",
        actor_ids,
        territory_id,
    )
    return {row["actor_id"] for row in rows}


# --- visions ------------------------------------------------------------------------------------


async def insert_vision(conn: Connection, row: dict[str, Any]) -> None:
    await conn.execute(VISIONS.insert_sql(), *VISIONS.values(row))


async def get_vision(conn: Connection, vision_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM visions WHERE id = $1 FOR UPDATE", vision_id)


async def adopt_vision(conn: Connection, vision_id: UUID, decision_id: UUID, at: datetime) -> None:
    await conn.execute(
        "UPDATE visions SET adopted_at = $2, decision_id = $3 WHERE id = $1",
        vision_id,
        at,
        decision_id,
    )


async def current_vision(conn: Connection, territory_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT * FROM visions WHERE territory_id = $1 AND adopted_at IS NOT NULL
           ORDER BY adopted_at DESC LIMIT 1""",
        territory_id,
    )


async def drafts(conn: Connection, territory_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT * FROM visions WHERE territory_id = $1 AND adopted_at IS NULL
           ORDER BY created_at DESC""",
        territory_id,
    )


# --- ideas --------------------------------------------------------------------------------------

_IDEA_VIEW = """SELECT i.*, (SELECT count(*) FROM supports s WHERE s.idea_id = i.id) AS supports
                FROM ideas i"""


async def insert_idea(conn: Connection, row: dict[str, Any]) -> None:
    await conn.execute(IDEAS.insert_sql(), *IDEAS.values(row))


async def get_idea(conn: Connection, idea_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_IDEA_VIEW} WHERE i.id = $1", idea_id)


async def lock_ideas(conn: Connection, idea_ids: list[UUID]) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM ideas WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE", idea_ids
    )


async def list_ideas(
    conn: Connection, territory_id: UUID, theme: str | None, after: Cursor | None, limit: int
) -> list[asyncpg.Record]:
    """The territory's ideas not grouped into another, newest first."""
    return await conn.fetch(
        f"""{_IDEA_VIEW}
            WHERE i.territory_id = $1 AND i.grouped_into IS NULL
              AND ($2::text IS NULL OR i.theme = $2)
              AND ($3::timestamptz IS NULL OR (i.created_at, i.id) < ($3, $4))
            ORDER BY i.created_at DESC, i.id DESC LIMIT $5""",
        territory_id,
        theme,
        *keyset(after),
        limit + 1,
    )


async def add_support(conn: Connection, idea_id: UUID, actor_id: UUID, at: datetime) -> bool:
    """False when the actor supports the idea already."""
    status = await conn.execute(
        "INSERT INTO supports VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", idea_id, actor_id, at
    )
    return bool(status == "INSERT 0 1")


async def support_count(conn: Connection, idea_id: UUID) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM supports WHERE idea_id = $1", idea_id)
    return count


async def group_ideas(conn: Connection, kept: UUID, duplicates: list[UUID]) -> None:
    """Point the duplicates (and what was grouped into them) to the idea kept; their supports
    move to it, one per actor still."""
    await conn.execute(
        """INSERT INTO supports (idea_id, actor_id, supported_at)
           SELECT $1, actor_id, min(supported_at) FROM supports
           WHERE idea_id = ANY($2::uuid[]) GROUP BY actor_id
           ON CONFLICT DO NOTHING""",
        kept,
        duplicates,
    )
    await conn.execute(
        """UPDATE ideas SET grouped_into = $1
           WHERE id = ANY($2::uuid[]) OR grouped_into = ANY($2::uuid[])""",
        kept,
        duplicates,
    )


# --- projects -----------------------------------------------------------------------------------


async def insert_project(
    conn: Connection, row: dict[str, Any], carriers: list[UUID], ideas: list[UUID]
) -> None:
    await conn.execute(PROJECTS.insert_sql(), *PROJECTS.values(row))
    await conn.executemany(
        "INSERT INTO carriers VALUES ($1, $2)", [(row["id"], actor) for actor in carriers]
    )
    await conn.executemany(
        "INSERT INTO project_ideas VALUES ($1, $2)", [(row["id"], idea) for idea in ideas]
    )


async def get_project(
    conn: Connection, project_id: UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM projects WHERE id = $1" + (" FOR UPDATE" if lock else ""), project_id
    )


async def carriers_of(conn: Connection, project_id: UUID) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT actor_id FROM carriers WHERE project_id = $1 ORDER BY actor_id", project_id
    )
    return [row["actor_id"] for row in rows]


async def ideas_of(conn: Connection, project_id: UUID) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT idea_id FROM project_ideas WHERE project_id = $1 ORDER BY idea_id", project_id
    )
    return [row["idea_id"] for row in rows]


async def list_projects(
    conn: Connection, territory_id: UUID, stage: str | None, after: Cursor | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT * FROM projects
           WHERE territory_id = $1 AND ($2::text IS NULL OR stage = $2)
             AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
           ORDER BY created_at DESC, id DESC LIMIT $5""",
        territory_id,
        stage,
        *keyset(after),
        limit + 1,
    )


async def move(conn: Connection, project_id: UUID, change: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE projects SET stage = $2, updated_at = $3 WHERE id = $1",
        project_id,
        change["to_stage"],
        change["changed_at"],
    )
    await conn.execute(
        """INSERT INTO stage_changes (project_id, from_stage, to_stage, changed_by, decision_id,
               reason, changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        project_id,
        change["from_stage"],
        change["to_stage"],
        change["changed_by"],
        change["decision_id"],
        change["reason"],
        change["changed_at"],
    )


async def history(conn: Connection, project_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM stage_changes WHERE project_id = $1 ORDER BY id", project_id
    )


# --- needs --------------------------------------------------------------------------------------


async def upsert_need(conn: Connection, row: dict[str, Any]) -> None:
    """Keep a need's newest state (an older event arriving late changes nothing)."""
    await conn.execute(
        """INSERT INTO project_needs (need_id, project_id, title, category, quantity, unit,
               status, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (need_id) DO UPDATE SET title = EXCLUDED.title,
               category = EXCLUDED.category, quantity = EXCLUDED.quantity,
               unit = EXCLUDED.unit, status = EXCLUDED.status, version = EXCLUDED.version
           WHERE project_needs.version < EXCLUDED.version""",
        row["need_id"],
        row["project_id"],
        row["title"],
        row["category"],
        row["quantity"],
        row["unit"],
        row["status"],
        row["version"],
    )


async def get_need(conn: Connection, need_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM project_needs WHERE need_id = $1", need_id)


async def serve_need(conn: Connection, need_id: UUID, agreement_id: UUID) -> None:
    await conn.execute(
        "UPDATE project_needs SET agreement_id = $2 WHERE need_id = $1", need_id, agreement_id
    )


async def needs_of(conn: Connection, project_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM project_needs WHERE project_id = $1 ORDER BY title, need_id", project_id
    )


async def agreements_of(conn: Connection, project_id: UUID) -> list[UUID]:
    rows = await conn.fetch(
        """SELECT agreement_id FROM project_needs
           WHERE project_id = $1 AND agreement_id IS NOT NULL ORDER BY agreement_id""",
        project_id,
    )
    return [row["agreement_id"] for row in rows]


# --- pledges ------------------------------------------------------------------------------------


async def insert_pledge(conn: Connection, row: dict[str, Any]) -> None:
    await conn.execute(PLEDGES.insert_sql(), *PLEDGES.values(row))


async def get_pledge(conn: Connection, pledge_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM pledges WHERE id = $1 FOR UPDATE", pledge_id)


async def pledges_on_need(
    conn: Connection, need_id: UUID, contributor_id: UUID
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT * FROM pledges WHERE need_id = $1 AND contributor_id = $2
             AND status = 'pledged' ORDER BY created_at, id FOR UPDATE""",
        need_id,
        contributor_id,
    )


async def fulfil(
    conn: Connection,
    pledge_id: UUID,
    at: datetime,
    *,
    agreement_id: UUID | None,
    confirmed_by: UUID | None,
) -> None:
    await conn.execute(
        """UPDATE pledges SET status = 'fulfilled', fulfilled_at = $2, agreement_id = $3,
               confirmed_by = $4 WHERE id = $1""",
        pledge_id,
        at,
        agreement_id,
        confirmed_by,
    )


async def list_pledges(
    conn: Connection, project_id: UUID, after: Cursor | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT * FROM pledges WHERE project_id = $1
             AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
           ORDER BY created_at DESC, id DESC LIMIT $4""",
        project_id,
        *keyset(after),
        limit + 1,
    )


async def pledged_totals(conn: Connection, project_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT kind, unit, status, sum(amount) AS amount, count(*) AS pledges FROM pledges
           WHERE project_id = $1 GROUP BY kind, unit, status ORDER BY kind, unit, status""",
        project_id,
    )


# --- evaluations --------------------------------------------------------------------------------


async def insert_evaluation(conn: Connection, row: dict[str, Any]) -> None:
    await conn.execute(EVALUATIONS.insert_sql(), *EVALUATIONS.values(row))


async def evaluation_of(conn: Connection, project_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM evaluations WHERE project_id = $1", project_id)


# --- personal data ------------------------------------------------------------------------------


async def personal_data(conn: Connection, actor_id: UUID) -> dict[str, list[dict[str, Any]]]:
    """What the projects service holds about an actor: its ideas, supports, carried projects and
    pledges."""
    ideas = await conn.fetch(
        "SELECT * FROM ideas WHERE submitted_by = $1 ORDER BY created_at", actor_id
    )
    supports = await conn.fetch("SELECT * FROM supports WHERE actor_id = $1", actor_id)
    carried = await conn.fetch("SELECT * FROM carriers WHERE actor_id = $1", actor_id)
    pledges = await conn.fetch(
        "SELECT * FROM pledges WHERE contributor_id = $1 ORDER BY created_at", actor_id
    )
    return {
        "ideas": plain(ideas),
        "supports": plain(supports),
        "carried_projects": plain(carried),
        "pledges": plain(pledges),
    }
