"""Benchmark of the agreements service: closing a period for many agreements, and the impact
summary of a territory with a large value ledger.

One run uses fresh databases on the PostgreSQL server that DATABASE_URL names (its maintenance
database), else the one on 127.0.0.1:5432, else an embedded one; they are dropped at the end.
No broker is needed: closing a period writes its events to the outbox, which is what both sides
below do (the relay's rate is `backbone`'s figure).

(1) Period close. Two databases are seeded alike (COPY): N active agreements of one territory,
    each with its terms (per hour, 12 €/h, half fixed, a floor, two indicators), two confirmed
    usage reports in the period that ended, and its period-close job due now.
    (a) The service: the runtime's `Scheduler` runs the agreements' close-period jobs as
        deployed (its claims, leases, `scheduler_concurrency` jobs at once); each job evaluates
        the indicators, issues the statement (exact fractions, one rounding), writes the ledger
        rows, two events into the outbox and the next period's job, in one transaction.
    (b) Raw SQL, the same concurrency: per agreement, one transaction whose INSERT ... SELECT
        computes the same amounts from the usage rows in SQL (no domain model, no pydantic, no
        event building: the event payloads are prepared bytes) and writes the same rows
        (evaluation, statement, three ledger rows, two outbox rows) and moves the job.
    The totals of both are compared, so both compute the same amounts.
(2) Impact summary with R ledger rows in the territory: p99 of the service's summary
    (`impact.impact`: the GROUPING SETS query and the models it fills, every breakdown) against
    the raw `GROUP BY kind` of the same rows with asyncpg, alternated, one at a time.

Targets (issue 10): (1) (a) >= 0.3 x (b); (2) p99 of the summary <= 2 x p99 of the raw query.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg

from benchmarks.backbone import (
    Report,
    load_average,
    percentile,
    poll_until,
    postgres_setting,
    progress,
)
from contracts.agreements import AmountUnit, IndicatorTerm, PriceTerm, Terms
from contracts.offers import (
    Comparator,
    PerformanceClause,
    PriceModel,
    StatementPeriod,
    WeeklySlot,
)
from contracts.taxonomy import Unit
from services.agreements import handlers, impact
from services.agreements.app import spec as agreements_spec
from services.agreements.domain import schedule
from services.agreements.domain.terms import terms_hash
from services.agreements.domain.value import UNITS, ValueKind
from services.agreements.settings import AgreementsSettings
from services.devstack.postgres import create_database, drop_database, server_url
from services.runtime.context import Context
from services.runtime.db import create_pool, migrate
from services.runtime.principal import Principal
from services.runtime.scheduler import Scheduler

ROOT = Path(__file__).resolve().parent.parent
TERRITORY = uuid.uuid4()


def terms(ends_at: datetime) -> Terms:
    return Terms(
        version=1,
        quantity=8,
        unit=Unit.M3,
        indicators=[
            IndicatorTerm(
                name="availability", unit="%", target="95", comparator=Comparator.AT_LEAST
            ),
            IndicatorTerm(
                name="temperature",
                unit="°C",
                target="4",
                comparator=Comparator.AT_MOST,
                tolerance="0.5",
            ),
        ],
        price=PriceTerm(
            model=PriceModel.PER_HOUR, unit_amount=1200, amount_unit=AmountUnit.EUR_CENTS
        ),
        clause=PerformanceClause(fixed_percent=50, variable_floor_percent=20),
        weekly_windows=[WeeklySlot(weekday=5, start_minute=480, end_minute=720)],
        ends_at=ends_at,
    )


async def seed(url: str, count: int, start: datetime, ends_at: datetime) -> list[uuid.UUID]:
    """`count` active agreements whose first period [start, next month) has ended."""
    conn = await asyncpg.connect(url)
    try:
        agreed = terms(ends_at)
        document, digest = agreed.model_dump(mode="json"), terms_hash(agreed)
        ids = [uuid.uuid4() for _ in range(count)]
        moment = start - timedelta(days=1)
        agreements: list[tuple[object, ...]] = []
        versions: list[tuple[object, ...]] = []
        reports: list[tuple[object, ...]] = []
        jobs: list[tuple[object, ...]] = []
        for n, agreement_id in enumerate(ids):
            provider, beneficiary = uuid.uuid4(), uuid.uuid4()
            agreements.append(
                (
                    agreement_id, uuid.uuid4(), TERRITORY, provider, beneficiary, uuid.uuid4(),
                    1, uuid.uuid4(), 1, uuid.uuid4(), "refrigerated_van", "business",
                    "association", False, "active", "not_required", 1, None, start, ends_at,
                    ends_at, None, 4, moment, moment,
                )
            )  # fmt: skip
            versions.append((agreement_id, 1, json.dumps(document), digest, None, [], moment))
            for day, hours, temperature in ((2, 4 + n % 3, "3.9"), (9, 3, "4.6")):
                begins = start + timedelta(days=day, hours=8)
                reports.append(
                    (
                        uuid.uuid4(), agreement_id, "provider", begins,
                        begins + timedelta(hours=hours), Decimal(hours),
                        json.dumps({"availability": "96", "temperature": temperature}),
                        "confirmed", None, "", begins, begins,
                    )
                )  # fmt: skip
            jobs.append(
                (
                    handlers.CLOSE_PERIOD,
                    str(agreement_id),
                    datetime.now(UTC),
                    json.dumps({"start": start.isoformat()}),
                )
            )
        await conn.copy_records_to_table("agreements", records=agreements)
        await conn.copy_records_to_table(
            "agreement_terms",
            records=versions,
            columns=[
                "agreement_id",
                "version",
                "terms",
                "terms_hash",
                "proposed_by",
                "changed",
                "created_at",
            ],
        )
        await conn.copy_records_to_table("usage_reports", records=reports)
        await conn.copy_records_to_table(
            "scheduled_jobs", records=jobs, columns=["kind", "key", "due_at", "payload"]
        )
        await conn.execute("ANALYZE")
        return ids
    finally:
        await conn.close()


async def close_with_scheduler(url: str, count: int, settings: AgreementsSettings) -> float:
    """(a): seconds for the scheduler to close every agreement's period."""
    pool = await create_pool(url, max_size=settings.scheduler_concurrency + 2)
    kind = next(job for job in agreements_spec(settings).jobs if job.name == handlers.CLOSE_PERIOD)
    scheduler = Scheduler(pool, settings, jobs=[kind], context=lambda: Context(settings.source))
    began = time.perf_counter()
    task = asyncio.create_task(scheduler.run())
    try:
        # Every job closes one period; the scheduler counts the jobs it ran.
        done = await poll_until(lambda: scheduler.ran >= count, limit_s=3600)
        elapsed = time.perf_counter() - began
        assert done and await pool.fetchval("SELECT count(*) FROM statements") == count
        return elapsed
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()


RAW_CLOSE = """
WITH used AS (
    SELECT coalesce(sum(quantity), 0) AS hours,
           avg((measurements->>'availability')::numeric) AS availability,
           avg((measurements->>'temperature')::numeric) AS temperature
    FROM usage_reports
    WHERE agreement_id = $1 AND status = 'confirmed' AND period_start >= $2 AND period_start < $3
), rated AS (
    SELECT hours, hours * 1200 AS base,
           ((availability >= 95)::int + (temperature <= 4.5)::int) / 2.0 AS ratio
    FROM used
), due AS (
    SELECT hours, ratio, round(base * 0.5) AS fixed,
           round(base * 0.5 + base * 0.5 * greatest(ratio, 0.2)) AS total
    FROM rated
), evaluated AS (
    INSERT INTO evaluations (agreement_id, period_start, period_end, sequence, results, ratio,
                             evaluated_at)
    SELECT $1, $2, $3, 1, '[]', ratio, now() FROM due
), stated AS (
    INSERT INTO statements (id, agreement_id, territory_id, period_start, period_end, sequence,
        terms_version, price_model, amount_unit, quantity, ratio, exact_numerator,
        exact_denominator, fixed_amount, variable_amount, total_amount, payer_id, payee_id,
        issued_at)
    SELECT gen_random_uuid(), $1, $4, $2, $3, 1, 1, 'per_hour', 'eur_cents', hours, ratio,
           total, 1, fixed, total - fixed, total, $5, $6, now()
    FROM due RETURNING total_amount, quantity
)
INSERT INTO value_ledger (agreement_id, period_start, kind, territory_id, period_month,
    category, provider_kind, beneficiary_kind, amount, unit, recorded_at)
SELECT $1, $2, k.kind, $4, $7, 'refrigerated_van', 'business', 'association',
       CASE k.kind WHEN 'money_exchanged' THEN s.total_amount
                   WHEN 'dormant_hours_used' THEN s.quantity END, k.unit, now()
FROM stated s, (VALUES ('money_exchanged', 'cents EUR'), ('dormant_hours_used', 'h'),
                       ('emissions_avoided', 'kg CO2e')) AS k(kind, unit)
"""
RAW_OUTBOX = """
INSERT INTO outbox (event_id, topic, key, event_type, payload) VALUES
    ($1, 'mcvt.agreements', $3, 'mcvt.agreement.performance_evaluated.v1', $4),
    ($2, 'mcvt.agreements', $3, 'mcvt.agreement.statement_issued.v1', $4)
"""
RAW_NEXT = "UPDATE scheduled_jobs SET due_at = $3, payload = $4 WHERE kind = $1 AND key = $2"


async def close_raw(
    url: str, ids: list[uuid.UUID], start: datetime, end: datetime, concurrency: int
) -> float:
    """(b): seconds for raw transactions to close every agreement's period."""
    pool = await create_pool(url, max_size=concurrency)
    rows = {
        r["id"]: r
        for r in await pool.fetch("SELECT id, provider_id, beneficiary_id FROM agreements")
    }
    month = schedule.local(start).date().replace(day=1)
    payload = json.dumps({"data": "x" * 600}).encode()  # about an event's size
    following = schedule.period_end(end, end + timedelta(days=365), StatementPeriod.MONTH)
    next_payload = json.dumps({"start": end.isoformat()})
    queue: asyncio.Queue[uuid.UUID] = asyncio.Queue()
    for agreement_id in ids:
        queue.put_nowait(agreement_id)

    async def worker() -> None:
        while not queue.empty():
            agreement_id = queue.get_nowait()
            row = rows[agreement_id]
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    RAW_CLOSE, agreement_id, start, end, TERRITORY,
                    row["beneficiary_id"], row["provider_id"], month,
                )  # fmt: skip
                await conn.execute(
                    RAW_OUTBOX, uuid.uuid4(), uuid.uuid4(), str(agreement_id), payload
                )
                await conn.execute(
                    RAW_NEXT, handlers.CLOSE_PERIOD, str(agreement_id), following, next_payload
                )

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    await pool.close()
    return elapsed


async def totals(url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow("SELECT count(*) AS n, sum(total_amount) AS t FROM statements")
        assert row is not None
        return int(row["n"]), int(row["t"] or 0)
    finally:
        await conn.close()


async def bench_close(report: Report, server: str, args: argparse.Namespace) -> None:
    now = datetime.now(UTC)
    last_month = (schedule.local(now).replace(day=1) - timedelta(days=1)).date().replace(day=1)
    start = schedule.at_local(last_month, 0)
    end = schedule.period_end(start, now + timedelta(days=365), StatementPeriod.MONTH)
    ends_at = now + timedelta(days=365)
    settings = AgreementsSettings(scheduler_poll_interval_s=0.05)
    names = [f"mcvt_bench_agreements_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    urls = []
    try:
        for name in names:
            url = await create_database(server, name)
            service = agreements_spec(settings)
            await migrate(url, service.name, service.migrations)
            urls.append(url)
        progress(f"seeding {args.agreements} agreements twice")
        ids = await seed(urls[0], args.agreements, start, ends_at)
        raw_ids = await seed(urls[1], args.agreements, start, ends_at)
        report.setting.append(await postgres_setting(urls[0]))
        progress("closing the period: raw SQL")
        raw_s = await close_raw(urls[1], raw_ids, start, end, settings.scheduler_concurrency)
        progress("closing the period: the service's scheduler and handlers")
        service_s = await close_with_scheduler(urls[0], len(ids), settings)
        service_rate, raw_rate = len(ids) / service_s, len(raw_ids) / raw_s
        (n_service, t_service), (n_raw, t_raw) = await totals(urls[0]), await totals(urls[1])
        report.add(
            "(1a) period close, service",
            f"{service_rate:,.0f} agreements/s",
            f"{len(ids)} in {service_s:.1f} s, {settings.scheduler_concurrency} jobs at once",
        )
        report.add(
            "(1b) period close, raw SQL",
            f"{raw_rate:,.0f} agreements/s",
            f"{len(raw_ids)} in {raw_s:.1f} s, same concurrency",
        )
        report.add(
            "(1c) amounts stated",
            f"{t_service / 100:,.2f} € vs {t_raw / 100:,.2f} €",
            f"{n_service} and {n_raw} statements",
        )
        report.target(
            "(1) period close rate, service / raw", service_rate / raw_rate, 0.3, at_least=True
        )
    finally:
        for name in names:
            await drop_database(server, name)


async def seed_ledger(url: str, rows: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        kinds = list(ValueKind)
        agreements = [uuid.uuid4() for _ in range(-(-rows // (len(kinds) * MONTHS)))]
        await conn.copy_records_to_table(
            "agreements",
            records=[
                (
                    a,
                    uuid.uuid4(),
                    TERRITORY,
                    uuid.uuid4(),
                    uuid.uuid4(),
                    uuid.uuid4(),
                    1,
                    uuid.uuid4(),
                    1,
                    uuid.uuid4(),
                    "refrigerated_van",
                    "business",
                    "association",
                    False,
                    "completed",
                    "not_required",
                    1,
                    None,
                    datetime.now(UTC),
                    datetime.now(UTC),
                    datetime.now(UTC),
                    None,
                    1,
                    datetime.now(UTC),
                    datetime.now(UTC),
                )
                for a in agreements
            ],
        )
        categories = ["refrigerated_van", "meeting_room", "kitchen", "workshop"]
        kinds_of = ["association", "business", "citizen", "local_authority"]
        base = datetime(2026, 1, 1, tzinfo=UTC)
        records = [
            (
                agreement,
                base + timedelta(days=31 * month),
                str(kind),
                TERRITORY,
                (base + timedelta(days=31 * month)).date().replace(day=1),
                categories[a % 4],
                "business",
                kinds_of[a % 4],
                None if kind is ValueKind.EMISSIONS_AVOIDED else Decimal((a + month) % 997),
                UNITS[kind],
                datetime.now(UTC),
            )
            for month in range(MONTHS)
            for a, agreement in enumerate(agreements)
            for kind in kinds
        ][:rows]
        await conn.copy_records_to_table("value_ledger", records=records)
        await conn.execute("ANALYZE value_ledger")
    finally:
        await conn.close()


MONTHS = 36

RAW_SUMMARY = (
    "SELECT kind, sum(amount) AS amount FROM value_ledger WHERE territory_id = $1 GROUP BY kind"
)


async def bench_impact(report: Report, server: str, args: argparse.Namespace) -> None:
    name = f"mcvt_bench_impact_{uuid.uuid4().hex[:8]}"
    url = await create_database(server, name)
    try:
        settings = AgreementsSettings()
        service = agreements_spec(settings)
        await migrate(url, service.name, service.migrations)
        progress(f"seeding {args.ledger_rows} ledger rows")
        await seed_ledger(url, args.ledger_rows)
        pool = await create_pool(url)
        viewer = Principal(
            actor_id=str(uuid.uuid4()),
            territory_id=str(TERRITORY),
            kind="association",
            roles=frozenset(),
            token_id="bench",
            status="active",
        )
        summary = functools.partial(impact.impact, pool, TERRITORY, viewer)
        service_ms: list[float] = []
        raw_ms: list[float] = []
        checked = await summary()
        raw_total = {r["kind"]: r["amount"] for r in await pool.fetch(RAW_SUMMARY, TERRITORY)}
        assert {f.kind: f.amount for f in checked.totals} == raw_total, "summary != ledger"
        for _ in range(args.samples):
            began = time.perf_counter()
            await summary()
            service_ms.append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            async with pool.acquire() as conn:
                await conn.fetch(RAW_SUMMARY, TERRITORY)
            raw_ms.append((time.perf_counter() - began) * 1000)
        await pool.close()
        service_p99, raw_p99 = percentile(service_ms, 0.99), percentile(raw_ms, 0.99)
        report.add(
            "(2a) impact summary, service",
            f"p50 {percentile(service_ms, 0.5):.1f} ms, p99 {service_p99:.1f} ms",
            f"{args.ledger_rows:,} ledger rows, totals and three breakdowns",
        )
        report.add(
            "(2b) impact, raw GROUP BY kind",
            f"p50 {percentile(raw_ms, 0.5):.1f} ms, p99 {raw_p99:.1f} ms",
            f"{args.samples} samples each, alternated",
        )
        report.target("(2) impact p99, service / raw", service_p99 / raw_p99, 2.0, at_least=False)
    finally:
        await drop_database(server, name)


async def bench(server: str, args: argparse.Namespace) -> Report:
    report = Report()
    report.setting.append(load_average())
    await bench_impact(report, server, args)
    await bench_close(report, server, args)
    return report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.agreements", description=__doc__)
    parser.add_argument("--agreements", type=int, default=10_000)
    parser.add_argument("--ledger-rows", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=200)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    server = server_url(os.environ.get("DATABASE_URL"), _run_dir() / "bench-postgres")
    report = asyncio.run(bench(server, args))
    report.print(
        f"agreements benchmark: PostgreSQL on this machine ({os.cpu_count()} cores shared by "
        "PostgreSQL and Python)"
    )


def _run_dir() -> Path:
    path = ROOT / ".run"
    path.mkdir(exist_ok=True)
    return path


if __name__ == "__main__":
    main()
