"""The value created: declarations by the parties, emission factors, the territory's impact
summary and its CSV export.

The summary is computed from the ledger alone (one GROUPING SETS query), so it always equals
the sum of the ledger rows and of the projects' figures (the CSV lists both). The CSV is what a
French spreadsheet opens as is: semicolons, UTF-8 with a byte order mark, decimal commas; a cell
that a spreadsheet would read as a formula (starting with = + - @, a tab or a carriage return) is
prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel, Field

from contracts.agreements import AgreementStatus, Party
from services.agreements import projects, store
from services.agreements.domain import schedule
from services.agreements.domain.lifecycle import other
from services.agreements.domain.value import LABELS, NOT_ESTIMATED, UNITS, Row, ValueKind
from services.agreements.handlers import acting, readable
from services.agreements.requests import DeclarationIn, FactorIn
from services.runtime import clock
from services.runtime.db import Connection, in_transaction
from services.runtime.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.runtime.principal import Principal

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --- declarations -----------------------------------------------------------------------------


class Declaration(BaseModel):
    id: UUID
    agreement_id: UUID
    period_start: Any
    kind: ValueKind
    amount: Decimal
    declared_by: str
    status: str
    created_at: Any
    decided_at: Any | None


async def declare(
    pool: asyncpg.Pool, agreement_id: UUID, body: DeclarationIn, principal: Principal
) -> Declaration:
    async def run(conn: Connection) -> Declaration:
        agreement, party = await acting(conn, agreement_id, principal)
        await projects.refuse_jobs_of_project(conn, agreement.id, body.kind)
        if agreement.starts_at is None or agreement.status not in (
            AgreementStatus.ACTIVE,
            AgreementStatus.COMPLETED,
            AgreementStatus.TERMINATED,
        ):
            raise Conflict("value is declared on an agreement that ran", field="status")
        terms = await store.get_terms(conn, agreement.id, agreement.terms_version)
        period = next(
            (
                start
                for start, end in schedule.periods(
                    agreement.starts_at, agreement.ends_at, terms.clause.statement_period
                )
                if start <= body.period_start < end
            ),
            None,
        )
        if period is None:
            raise InvalidInput("the moment lies outside the agreement", field="period_start")
        row = {
            "id": uuid.uuid4(),
            "agreement_id": agreement.id,
            "period_start": period,
            "kind": str(body.kind),
            "amount": body.amount,
            "declared_by": str(party),
            "status": "declared",
            "created_at": clock.now(),
            "decided_at": None,
        }
        await store.insert_declaration(conn, row)
        return Declaration.model_validate(row)

    return await in_transaction(pool, run)


async def confirm_declaration(
    pool: asyncpg.Pool, agreement_id: UUID, declaration_id: UUID, principal: Principal
) -> Declaration:
    """The other party confirms: the ledger row of its period and kind takes it in."""

    async def run(conn: Connection) -> Declaration:
        agreement, party = await acting(conn, agreement_id, principal)
        found = await store.get_declaration(conn, agreement.id, declaration_id)
        if found is None:
            raise NotFound("no such declaration")
        if found["status"] != "declared":
            raise Conflict(f"the declaration is {found['status']} already", field="status")
        if party is not other(Party(found["declared_by"])):
            raise Forbidden("the other party confirms a declaration")
        await projects.refuse_jobs_of_project(conn, agreement.id, ValueKind(found["kind"]))
        now = clock.now()
        await store.decide_declaration(conn, declaration_id, "confirmed", now)
        confirmed = [
            d
            for d in await store.declarations_of(conn, agreement.id)
            if d["status"] == "confirmed"
            and d["kind"] == found["kind"]
            and d["period_start"] == found["period_start"]
        ]
        kind = ValueKind(found["kind"])
        total = sum((Decimal(d["amount"]) for d in confirmed), Decimal(0))
        month = schedule.local(found["period_start"]).date().replace(day=1)
        await store.record_value(
            conn, agreement, found["period_start"], month, [Row(kind, total)], dict(UNITS), now
        )
        return Declaration.model_validate({**dict(found), "status": "confirmed", "decided_at": now})

    return await in_transaction(pool, run)


async def declarations(
    pool: asyncpg.Pool, agreement_id: UUID, principal: Principal
) -> list[Declaration]:
    async with pool.acquire() as conn:
        await readable(conn, agreement_id, principal)
        return [
            Declaration.model_validate(dict(d))
            for d in await store.declarations_of(conn, agreement_id)
        ]


# --- emission factors -------------------------------------------------------------------------


class FactorOut(BaseModel):
    category: str
    territory_id: UUID | None = Field(description="Null: the reference table's factor.")
    value: Decimal
    unit: str
    title: str
    publisher: str
    year: int
    url: str | None


def _sees(principal: Principal, territory_id: UUID) -> None:
    if not principal.sees(territory_id):
        raise NotFound("no such territory")


async def list_factors(
    pool: asyncpg.Pool, territory_id: UUID, principal: Principal
) -> list[FactorOut]:
    _sees(principal, territory_id)
    async with pool.acquire() as conn:
        return [FactorOut.model_validate(dict(r)) for r in await store.factors(conn, territory_id)]


async def set_factor(
    pool: asyncpg.Pool, territory_id: UUID, category: str, body: FactorIn, principal: Principal
) -> FactorOut:
    _sees(principal, territory_id)
    if not principal.facilitates(str(territory_id)):
        raise Forbidden("a facilitator of the territory sets its emission factors")
    fields = body.model_dump()
    fields["unit"] = str(body.unit)
    async with pool.acquire() as conn:
        await store.set_factor(conn, category, territory_id, fields, UUID(principal.actor_id))
    return FactorOut(category=category, territory_id=territory_id, **fields)


# --- the summary ------------------------------------------------------------------------------


class Figure(BaseModel):
    kind: ValueKind
    label: str
    unit: str
    amount: Decimal | None = Field(description="Null when nothing could be estimated.")
    shown: str = Field(description="As people read it: the amount, or « non estimé ».")
    rows: int
    not_estimated_rows: int


class Impact(BaseModel):
    territory_id: UUID
    totals: list[Figure]
    by_period: dict[str, list[Figure]] = Field(description="Month (YYYY-MM) → figures.")
    by_category: dict[str, list[Figure]]
    by_actor_kind: dict[str, list[Figure]] = Field(description="The beneficiary's kind.")


def _figure(row: asyncpg.Record) -> Figure:
    kind = ValueKind(row["kind"])
    amount = row["amount"]
    return Figure(
        kind=kind,
        label=LABELS[kind],
        unit=row["unit"],
        amount=amount,
        shown=NOT_ESTIMATED if amount is None else _french(amount),
        rows=row["rows"],
        not_estimated_rows=row["not_estimated"],
    )


def summarise(territory_id: UUID, rows: Iterable[asyncpg.Record]) -> Impact:
    impact = Impact(
        territory_id=territory_id, totals=[], by_period={}, by_category={}, by_actor_kind={}
    )
    for row in rows:
        figure = _figure(row)
        if not row["g_period"]:
            impact.by_period.setdefault(row["period_month"].strftime("%Y-%m"), []).append(figure)
        elif not row["g_category"]:
            impact.by_category.setdefault(row["category"], []).append(figure)
        elif not row["g_kind"]:
            impact.by_actor_kind.setdefault(row["beneficiary_kind"], []).append(figure)
        else:
            impact.totals.append(figure)
    impact.totals.sort(key=lambda f: f.kind)
    return impact


async def impact(pool: asyncpg.Pool, territory_id: UUID, principal: Principal) -> Impact:
    _sees(principal, territory_id)
    async with pool.acquire() as conn:
        return summarise(territory_id, await store.impact_rows(conn, territory_id))


def _french(amount: Decimal) -> str:
    return format(amount.normalize(), "f").replace(".", ",")


def guarded(cell: str) -> str:
    """A cell a spreadsheet will not take for a formula."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def _cell(value: object) -> str:
    if value is None:
        return ""
    return _french(value) if isinstance(value, Decimal) else str(value)


def csv_text(rows: Iterable[Iterable[object]]) -> str:
    """Semicolon-separated, every cell guarded, with the UTF-8 byte order mark first."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for row in rows:
        writer.writerow(
            [
                guarded(_french(c) if isinstance(c, Decimal) else "" if c is None else str(c))
                for c in row
            ]
        )
    return "\ufeff" + out.getvalue()


async def impact_csv(pool: asyncpg.Pool, territory_id: UUID, principal: Principal) -> str:
    """The ledger rows of the territory, one per agreement, period and kind, then the figures
    of its projects' evaluations, one per project and kind (so it adds up to the summary); the
    last column names the project (empty for an agreement's row)."""
    _sees(principal, territory_id)
    async with pool.acquire() as conn:
        rows = await store.ledger_rows(conn, territory_id)
    header = [
        "mois", "accord", "indicateur", "catégorie", "type de fournisseur",
        "type de bénéficiaire", "valeur", "unité", "projet",
    ]  # fmt: skip
    return csv_text(
        [
            header,
            *(
                [
                    r["period_month"].strftime("%Y-%m"),
                    r["agreement_id"],
                    LABELS[ValueKind(r["kind"])],
                    r["category"],
                    r["provider_kind"],
                    r["beneficiary_kind"],
                    NOT_ESTIMATED if r["amount"] is None else r["amount"],
                    r["unit"],
                    r["project_id"],
                ]
                for r in rows
            ),
        ]
    )
