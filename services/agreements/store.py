"""SQL of the agreements service (asyncpg, SQL in the open)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any
from uuid import UUID

import asyncpg

from contracts.agreements import Party, Signature, Terms
from services.agreements.domain.lifecycle import Agreement, Termination
from services.agreements.domain.terms import NeedVersion, OfferVersion
from services.agreements.domain.usage import Report
from services.agreements.domain.value import Factor, Row
from services.runtime.db import Connection
from services.runtime.pages import keyset
from services.runtime.personal import plain
from services.runtime.rows import Table

# --- views of offers, needs and actors --------------------------------------------------------


async def _save_version(conn: Connection, table: str, key: str, version: int, state: Any) -> None:
    await conn.execute(
        f"""INSERT INTO {table}_versions ({table}_id, version, state) VALUES ($1, $2, $3)
            ON CONFLICT ({table}_id, version) DO NOTHING""",
        UUID(key),
        version,
        state,
    )


async def _version(conn: Connection, table: str, key: UUID, version: int) -> Any:
    return await conn.fetchval(
        f"SELECT state FROM {table}_versions WHERE {table}_id = $1 AND version = $2", key, version
    )


async def save_offer_version(conn: Connection, offer: OfferVersion) -> None:
    await _save_version(conn, "offer", offer.offer_id, offer.version, offer.model_dump(mode="json"))


async def get_offer_version(conn: Connection, offer_id: UUID, version: int) -> OfferVersion | None:
    state = await _version(conn, "offer", offer_id, version)
    return OfferVersion.model_validate(state) if state is not None else None


async def save_need_version(conn: Connection, need: NeedVersion) -> None:
    await _save_version(conn, "need", need.need_id, need.version, need.model_dump(mode="json"))


async def get_need_version(conn: Connection, need_id: UUID, version: int) -> NeedVersion | None:
    state = await _version(conn, "need", need_id, version)
    return NeedVersion.model_validate(state) if state is not None else None


async def save_actor_kind(
    conn: Connection, actor_id: UUID, territory_id: UUID, kind: str, version: int
) -> None:
    await conn.execute(
        """INSERT INTO actor_kinds (actor_id, territory_id, kind, version) VALUES ($1, $2, $3, $4)
           ON CONFLICT (actor_id) DO UPDATE SET kind = EXCLUDED.kind, version = EXCLUDED.version
           WHERE actor_kinds.version < EXCLUDED.version""",
        actor_id,
        territory_id,
        kind,
        version,
    )


async def kind_of(conn: Connection, actor_id: UUID) -> str | None:
    kind: str | None = await conn.fetchval(
        "SELECT kind FROM actor_kinds WHERE actor_id = $1", actor_id
    )
    return kind


async def save_rules(
    conn: Connection, territory_id: UUID, approval: bool, floor_minutes: int, version: int
) -> None:
    """Keep a territory's rules unless a version at least as new is kept."""
    await conn.execute(
        """INSERT INTO territory_rules (territory_id, public_asset_approval,
                                        time_credit_floor_minutes, version)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (territory_id) DO UPDATE SET
               public_asset_approval = EXCLUDED.public_asset_approval,
               time_credit_floor_minutes = EXCLUDED.time_credit_floor_minutes,
               version = EXCLUDED.version
           WHERE territory_rules.version < EXCLUDED.version""",
        territory_id,
        approval,
        floor_minutes,
        version,
    )


async def rules_of(conn: Connection, territory_id: UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT public_asset_approval, time_credit_floor_minutes FROM territory_rules "
        "WHERE territory_id = $1",
        territory_id,
    )
    return row


# --- agreements -------------------------------------------------------------------------------

_AGREEMENTS = Table(
    "agreements",
    (
        "id", "match_id", "territory_id", "provider_id", "beneficiary_id", "offer_id",
        "offer_version", "need_id", "need_version", "asset_id", "category", "provider_kind",
        "beneficiary_kind", "public_asset", "status", "approval", "terms_version",
        "pending_version", "starts_at", "ends_at", "lapses_at", "termination", "version",
        "created_at", "updated_at",
    ),
)  # fmt: skip
_AGREEMENT_COLUMNS = _AGREEMENTS.select_list()


def _agreement(row: asyncpg.Record) -> Agreement:
    fields = dict(row)
    termination = fields.pop("termination")
    return Agreement(
        **fields,
        termination=Termination.model_validate(termination) if termination else None,
    )


def _agreement_row(agreement: Agreement) -> dict[str, Any]:
    row = agreement.model_dump()
    row["status"] = str(agreement.status)
    row["approval"] = str(agreement.approval)
    row["termination"] = (
        agreement.termination.model_dump(mode="json") if agreement.termination else None
    )
    return row


async def insert_agreement(conn: Connection, agreement: Agreement) -> bool:
    """Insert a new agreement; False when its match already made one (a redelivered event)."""
    inserted = await conn.fetchval(
        _AGREEMENTS.insert_sql() + " ON CONFLICT (match_id) DO NOTHING RETURNING true",
        *_AGREEMENTS.values(_agreement_row(agreement)),
    )
    return bool(inserted)


async def update_agreement(conn: Connection, agreement: Agreement) -> None:
    await conn.execute(
        _AGREEMENTS.update_sql(), *_AGREEMENTS.update_values(_agreement_row(agreement))
    )


async def get_agreement(
    conn: Connection, agreement_id: UUID, *, for_update: bool = False
) -> Agreement | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {_AGREEMENT_COLUMNS} FROM agreements WHERE id = $1{lock}", agreement_id
    )
    return _agreement(row) if row else None


async def agreement_of_match(conn: Connection, match_id: UUID) -> Agreement | None:
    row = await conn.fetchrow(
        f"SELECT {_AGREEMENT_COLUMNS} FROM agreements WHERE match_id = $1", match_id
    )
    return _agreement(row) if row else None


async def list_agreements(
    conn: Connection,
    actor_id: UUID,
    *,
    statuses: list[str] | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Agreement]:
    """The actor's agreements (as either party), newest first."""
    rows = await conn.fetch(
        f"""SELECT {_AGREEMENT_COLUMNS} FROM (
                SELECT * FROM agreements WHERE provider_id = $1
                UNION ALL
                SELECT * FROM agreements WHERE beneficiary_id = $1 AND provider_id <> $1
            ) a
            WHERE ($2::text[] IS NULL OR status = ANY($2))
              AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
            ORDER BY created_at DESC, id DESC LIMIT $5""",
        actor_id,
        statuses,
        *keyset(after),
        limit,
    )
    return [_agreement(row) for row in rows]


# --- terms and signatures ---------------------------------------------------------------------


@dataclass(frozen=True)
class TermsVersion:
    terms: Terms
    terms_hash: str
    proposed_by: Party | None
    changed: list[str]
    created_at: datetime


async def insert_terms(
    conn: Connection,
    agreement_id: UUID,
    terms: Terms,
    digest: str,
    *,
    proposed_by: Party | None,
    changed: list[str],
    now: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO agreement_terms
               (agreement_id, version, terms, terms_hash, proposed_by, changed, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        agreement_id,
        terms.version,
        terms.model_dump(mode="json"),
        digest,
        str(proposed_by) if proposed_by else None,
        changed,
        now,
    )


def _terms_version(row: asyncpg.Record) -> TermsVersion:
    return TermsVersion(
        Terms.model_validate(row["terms"]),
        row["terms_hash"],
        Party(row["proposed_by"]) if row["proposed_by"] else None,
        list(row["changed"]),
        row["created_at"],
    )


async def get_terms(conn: Connection, agreement_id: UUID, version: int) -> Terms:
    terms = await conn.fetchval(
        "SELECT terms FROM agreement_terms WHERE agreement_id = $1 AND version = $2",
        agreement_id,
        version,
    )
    return Terms.model_validate(terms)


async def all_terms(conn: Connection, agreement_id: UUID) -> list[TermsVersion]:
    rows = await conn.fetch(
        """SELECT terms, terms_hash, proposed_by, changed, created_at FROM agreement_terms
           WHERE agreement_id = $1 ORDER BY version""",
        agreement_id,
    )
    return [_terms_version(row) for row in rows]


async def insert_signature(conn: Connection, agreement_id: UUID, signature: Signature) -> None:
    await conn.execute(
        """INSERT INTO signatures (agreement_id, terms_version, party, actor_id, terms_hash,
                                   signed_at)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        agreement_id,
        signature.terms_version,
        str(signature.party),
        UUID(signature.actor_id),
        signature.terms_hash,
        signature.signed_at,
    )


async def signatures_of(conn: Connection, agreement_id: UUID) -> list[Signature]:
    rows = await conn.fetch(
        """SELECT party, actor_id, terms_version, terms_hash, signed_at FROM signatures
           WHERE agreement_id = $1 ORDER BY terms_version, signed_at""",
        agreement_id,
    )
    return [
        Signature(
            party=Party(r["party"]),
            actor_id=str(r["actor_id"]),
            terms_version=r["terms_version"],
            terms_hash=r["terms_hash"],
            signed_at=r["signed_at"],
        )
        for r in rows
    ]


# --- usage ------------------------------------------------------------------------------------

_REPORTS = Table(
    "usage_reports",
    (
        "id", "agreement_id", "reported_by", "period_start", "period_end", "quantity",
        "measurements", "status", "corrects", "reason", "created_at", "decided_at",
    ),
)  # fmt: skip
_REPORT_COLUMNS = _REPORTS.select_list()


def _report(row: asyncpg.Record) -> Report:
    fields = dict(row)
    fields["measurements"] = {k: Decimal(v) for k, v in fields["measurements"].items()}
    return Report(**fields)


def _report_row(entry: Report) -> dict[str, Any]:
    row = entry.model_dump()
    row["reported_by"] = str(entry.reported_by)
    row["status"] = str(entry.status)
    row["measurements"] = {k: str(v) for k, v in entry.measurements.items()}
    return row


async def insert_report(conn: Connection, entry: Report) -> None:
    await conn.execute(_REPORTS.insert_sql(), *_REPORTS.values(_report_row(entry)))


async def update_report(conn: Connection, entry: Report) -> None:
    await conn.execute(
        _REPORTS.update_sql(("status", "reason", "decided_at")),
        *_REPORTS.update_values(_report_row(entry), ("status", "reason", "decided_at")),
    )


async def get_report(
    conn: Connection, agreement_id: UUID, report_id: UUID, *, for_update: bool = False
) -> Report | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {_REPORT_COLUMNS} FROM usage_reports WHERE id = $1 AND agreement_id = $2{lock}",
        report_id,
        agreement_id,
    )
    return _report(row) if row else None


async def list_reports(
    conn: Connection, agreement_id: UUID, *, after: tuple[datetime, UUID] | None, limit: int
) -> list[Report]:
    rows = await conn.fetch(
        f"""SELECT {_REPORT_COLUMNS} FROM usage_reports WHERE agreement_id = $1
              AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
            ORDER BY created_at DESC, id DESC LIMIT $4""",
        agreement_id,
        *keyset(after),
        limit,
    )
    return [_report(row) for row in rows]


async def confirmed_usage(
    conn: Connection, agreement_id: UUID, start: datetime, end: datetime
) -> list[Report]:
    """The confirmed reports that begin within [start, end): what a period counts."""
    rows = await conn.fetch(
        f"""SELECT {_REPORT_COLUMNS} FROM usage_reports
            WHERE agreement_id = $1 AND status = 'confirmed'
              AND period_start >= $2 AND period_start < $3""",
        agreement_id,
        start,
        end,
    )
    return [_report(row) for row in rows]


# --- evaluations and statements ---------------------------------------------------------------

_STATEMENTS = Table(
    "statements",
    (
        "id", "agreement_id", "territory_id", "period_start", "period_end", "sequence",
        "supersedes", "terms_version", "price_model", "amount_unit", "quantity", "ratio",
        "exact_numerator", "exact_denominator", "fixed_amount", "variable_amount",
        "total_amount", "shortfall", "payer_id", "payee_id", "issued_at",
    ),
)  # fmt: skip
STATEMENT_COLUMNS = _STATEMENTS.select_list()


async def insert_statement(conn: Connection, row: dict[str, Any]) -> None:
    await conn.execute(_STATEMENTS.insert_sql(), *_STATEMENTS.values(row))


async def insert_evaluation(
    conn: Connection,
    agreement_id: UUID,
    start: datetime,
    end: datetime,
    sequence: int,
    results: list[dict[str, Any]],
    ratio: Fraction,
    now: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO evaluations (agreement_id, period_start, period_end, sequence, results,
                                    ratio, evaluated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        agreement_id,
        start,
        end,
        sequence,
        results,
        Decimal(ratio.numerator) / Decimal(ratio.denominator),
        now,
    )


async def latest_statement(
    conn: Connection, agreement_id: UUID, period_start: datetime
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""SELECT {STATEMENT_COLUMNS} FROM statements
            WHERE agreement_id = $1 AND period_start = $2 ORDER BY sequence DESC LIMIT 1""",
        agreement_id,
        period_start,
    )
    return row


async def exact_before(
    conn: Connection, agreement_id: UUID, period_start: datetime
) -> tuple[Fraction, bool]:
    """The exact amount of the latest statements of every earlier period, and whether the
    period beginning at `period_start` has a statement already (one round trip)."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (period_start) period_start, exact_numerator, exact_denominator
           FROM statements WHERE agreement_id = $1 AND period_start <= $2
           ORDER BY period_start, sequence DESC""",
        agreement_id,
        period_start,
    )
    before = sum(
        (
            Fraction(int(r["exact_numerator"]), int(r["exact_denominator"]))
            for r in rows
            if r["period_start"] < period_start
        ),
        Fraction(0),
    )
    return before, any(r["period_start"] == period_start for r in rows)


async def statements_of(
    conn: Connection, agreement_id: UUID, *, after: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT {STATEMENT_COLUMNS} FROM statements WHERE agreement_id = $1
              AND ($2::timestamptz IS NULL OR (issued_at, id) < ($2, $3))
            ORDER BY issued_at DESC, id DESC LIMIT $4""",
        agreement_id,
        *keyset(after),
        limit,
    )
    return rows


async def evaluations_of(conn: Connection, agreement_id: UUID) -> list[asyncpg.Record]:
    """The latest evaluation of each period (a correction replaces the first), newest first."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT DISTINCT ON (period_start) period_start, period_end, sequence, results, ratio,
                  evaluated_at
           FROM evaluations WHERE agreement_id = $1
           ORDER BY period_start DESC, sequence DESC""",
        agreement_id,
    )
    return rows


async def statements_for_export(conn: Connection, agreement_id: UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT {STATEMENT_COLUMNS} FROM statements WHERE agreement_id = $1
            ORDER BY period_start, sequence""",
        agreement_id,
    )
    return rows


# --- time credits -----------------------------------------------------------------------------


async def lock_accounts(conn: Connection, territory_id: UUID, *actor_ids: UUID) -> dict[UUID, int]:
    """Open the actors' accounts if need be and lock them (in id order: no deadlock)."""
    await conn.executemany(
        """INSERT INTO time_credit_accounts (actor_id, territory_id) VALUES ($1, $2)
           ON CONFLICT (actor_id) DO NOTHING""",
        [(actor_id, territory_id) for actor_id in sorted(actor_ids)],
    )
    rows = await conn.fetch(
        """SELECT actor_id, balance_minutes FROM time_credit_accounts
           WHERE actor_id = ANY($1::uuid[]) ORDER BY actor_id FOR UPDATE""",
        sorted(actor_ids),
    )
    return {r["actor_id"]: r["balance_minutes"] for r in rows}


async def post_movement(
    conn: Connection,
    statement_id: UUID,
    actor_id: UUID,
    counterpart_id: UUID,
    minutes: int,
    balance_after: int,
    now: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO time_credit_movements
               (statement_id, actor_id, counterpart_id, minutes, balance_after, created_at)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        statement_id,
        actor_id,
        counterpart_id,
        minutes,
        balance_after,
        now,
    )
    await conn.execute(
        "UPDATE time_credit_accounts SET balance_minutes = $2 WHERE actor_id = $1",
        actor_id,
        balance_after,
    )


async def account(conn: Connection, actor_id: UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT actor_id, territory_id, balance_minutes FROM time_credit_accounts "
        "WHERE actor_id = $1",
        actor_id,
    )
    return row


async def movements(
    conn: Connection, actor_id: UUID, *, before: int | None, limit: int
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT id, statement_id, counterpart_id, minutes, balance_after, created_at
           FROM time_credit_movements WHERE actor_id = $1 AND ($2::bigint IS NULL OR id < $2)
           ORDER BY id DESC LIMIT $3""",
        actor_id,
        before,
        limit,
    )
    return rows


# --- value ------------------------------------------------------------------------------------


async def factor_for(conn: Connection, category: str, territory_id: UUID) -> Factor | None:
    """The territory's own factor for the category, else the reference one, else None."""
    row = await conn.fetchrow(
        """SELECT value, unit, title, publisher, year FROM emission_factors
           WHERE category = $1 AND (territory_id = $2 OR territory_id IS NULL)
           ORDER BY territory_id NULLS LAST LIMIT 1""",
        category,
        territory_id,
    )
    return Factor(**dict(row)) if row else None


async def set_factor(
    conn: Connection, category: str, territory_id: UUID, fields: dict[str, Any], set_by: UUID
) -> None:
    await conn.execute(
        """INSERT INTO emission_factors
               (category, territory_id, value, unit, title, publisher, year, url, set_by, set_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
           ON CONFLICT (category, coalesce(territory_id, '00000000-0000-0000-0000-000000000000'))
           DO UPDATE SET value = EXCLUDED.value, unit = EXCLUDED.unit, title = EXCLUDED.title,
               publisher = EXCLUDED.publisher, year = EXCLUDED.year, url = EXCLUDED.url,
               set_by = EXCLUDED.set_by, set_at = now()""",
        category,
        territory_id,
        fields["value"],
        fields["unit"],
        fields["title"],
        fields["publisher"],
        fields["year"],
        fields.get("url"),
        set_by,
    )


async def factors(conn: Connection, territory_id: UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT category, territory_id, value, unit, title, publisher, year, url
           FROM emission_factors WHERE territory_id IS NULL OR territory_id = $1
           ORDER BY category, territory_id NULLS LAST""",
        territory_id,
    )
    return rows


async def record_value(
    conn: Connection,
    agreement: Agreement,
    period_start: datetime,
    period_month: date,
    rows: list[Row],
    units: dict[Any, str],
    now: datetime,
) -> None:
    """Write (or replace, for a correction) the ledger rows of an agreement's period."""
    await conn.executemany(
        """INSERT INTO value_ledger (agreement_id, period_start, kind, territory_id, period_month,
               category, provider_kind, beneficiary_kind, amount, unit, recorded_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (agreement_id, period_start, kind) DO UPDATE SET
               amount = EXCLUDED.amount, recorded_at = EXCLUDED.recorded_at""",
        [
            (
                agreement.id,
                period_start,
                str(row.kind),
                agreement.territory_id,
                period_month,
                agreement.category,
                agreement.provider_kind,
                agreement.beneficiary_kind,
                row.amount,
                units[row.kind],
                now,
            )
            for row in rows
        ],
    )


async def insert_declaration(conn: Connection, row: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO value_declarations (id, agreement_id, period_start, kind, amount,
               declared_by, status, created_at, decided_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        row["id"],
        row["agreement_id"],
        row["period_start"],
        row["kind"],
        row["amount"],
        row["declared_by"],
        row["status"],
        row["created_at"],
        row["decided_at"],
    )


async def get_declaration(
    conn: Connection, agreement_id: UUID, declaration_id: UUID
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        """SELECT * FROM value_declarations WHERE id = $1 AND agreement_id = $2 FOR UPDATE""",
        declaration_id,
        agreement_id,
    )
    return row


async def decide_declaration(
    conn: Connection, declaration_id: UUID, status: str, now: datetime
) -> None:
    await conn.execute(
        "UPDATE value_declarations SET status = $2, decided_at = $3 WHERE id = $1",
        declaration_id,
        status,
        now,
    )


async def declarations_of(conn: Connection, agreement_id: UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT * FROM value_declarations WHERE agreement_id = $1 ORDER BY created_at, id",
        agreement_id,
    )
    return rows


# The summary reads the value_summary table that a trigger keeps from the ledger (migration
# 002), with one GROUP BY per breakdown (GROUPING SETS: one scan of a few thousand rows).
IMPACT_SQL = """
SELECT kind, unit, period_month, category, beneficiary_kind,
       GROUPING(period_month) AS g_period, GROUPING(category) AS g_category,
       GROUPING(beneficiary_kind) AS g_kind,
       CASE WHEN sum(estimated) = 0 THEN NULL ELSE sum(amount) END AS amount,
       sum(rows) - sum(estimated) AS not_estimated, sum(rows) AS rows
FROM value_summary WHERE territory_id = $1 AND rows > 0  -- rows all gone leave no figure
GROUP BY GROUPING SETS ((kind, unit), (kind, unit, period_month), (kind, unit, category),
                        (kind, unit, beneficiary_kind))
"""


async def impact_rows(conn: Connection, territory_id: UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(IMPACT_SQL, territory_id)
    return rows


async def ledger_rows(conn: Connection, territory_id: UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT agreement_id, NULL::uuid AS project_id, period_month, kind, category,
                  provider_kind, beneficiary_kind, amount, unit
           FROM value_ledger WHERE territory_id = $1
           UNION ALL
           SELECT NULL, project_id, period_month, kind, category, NULL, beneficiary_kind,
                  amount, unit
           FROM project_value WHERE territory_id = $1
           ORDER BY period_month, agreement_id NULLS LAST, project_id, kind""",
        territory_id,
    )
    return rows


async def personal_data(conn: Connection, actor_id: UUID) -> dict[str, list[dict[str, Any]]]:
    """What agreements holds about an actor: its agreements, its time credit movements."""
    agreements = await conn.fetch(
        f"""SELECT {_AGREEMENT_COLUMNS} FROM agreements
            WHERE provider_id = $1 OR beneficiary_id = $1 ORDER BY created_at""",
        actor_id,
    )
    moved = await conn.fetch(
        "SELECT * FROM time_credit_movements WHERE actor_id = $1 ORDER BY id", actor_id
    )
    return {"agreements": plain(agreements), "time_credit_movements": plain(moved)}


async def current_period_start(conn: Connection, agreement: Agreement) -> datetime | None:
    """Where the period under way began: the end of the last closed one, or the start."""
    closed: datetime | None = await conn.fetchval(
        "SELECT max(period_end) FROM statements WHERE agreement_id = $1", agreement.id
    )
    return closed or agreement.starts_at


async def statement_covering(
    conn: Connection, agreement_id: UUID, moment: datetime
) -> asyncpg.Record | None:
    """The latest statement of the closed period that contains `moment`, if it closed."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""SELECT {STATEMENT_COLUMNS} FROM statements
            WHERE agreement_id = $1 AND period_start <= $2 AND $2 < period_end
            ORDER BY sequence DESC LIMIT 1""",
        agreement_id,
        moment,
    )
    return row
