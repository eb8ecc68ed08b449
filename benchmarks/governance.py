"""Benchmark of the governance service: votes with their audit appends, the tally, verification.

One run uses a fresh database on the PostgreSQL server that DATABASE_URL names (its maintenance
database), else the one on 127.0.0.1:5432, else an embedded one; the database is dropped at the
end. No broker: votes write their events to the outbox, which is what a vote costs.

(1) Votes per second on one proposal whose frozen electorate has 10,000 members, 32 in flight on
    the runtime's pool of 10 connections: `handlers.cast_vote` in its transaction (proposal and
    elector locks, the previous vote retired, the audit entry appended under the territory's
    chain lock, the vote row, the outbox row), against raw asyncpg transactions inserting the
    same three rows (vote, audit entry, outbox) with values prepared beforehand.
(2) The tally of that proposal (`handlers.tally_of`: electorate and current votes counted per
    college in PostgreSQL, then the weighted result in fractions) against a raw
    `SELECT college, choice, count(*) ... GROUP BY college, choice` of the same votes.
(3) Verification of a 100,000-entry chain (`domain.audit.verify_chain` over the stored bodies
    and hashes) against hashing the same bytes (previous hash + body) in a tight loop; and, for
    the record, the verify route's whole work (`chain.verify_territory`: reading the chain page
    by page from PostgreSQL and checking the votes against their entries).

Targets (issue 11): (1) >= 0.3 x raw; (2) <= 3 x raw; (3) <= 2 x the tight loop.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path

import asyncpg

from benchmarks.backbone import Report, load_average, postgres_setting, progress
from contracts.actors import ActorKind
from contracts.governance import Choice, Method, ProposalKind
from services.devstack.postgres import create_database, drop_database, server_url
from services.governance import handlers, store
from services.governance.app import spec as governance_spec
from services.governance.chain import verify_territory
from services.governance.domain import audit
from services.governance.domain.ballots import Draft
from services.governance.settings import GovernanceSettings
from services.runtime import clock
from services.runtime.context import Context
from services.runtime.db import create_pool, in_transaction, migrate
from services.runtime.principal import FACILITATOR, Principal

CTX = Context("/mcvt/governance")
KINDS = list(ActorKind)


async def timed(jobs: Sequence[Callable[[], Awaitable[object]]], concurrency: int) -> float:
    """Seconds to run every job, `concurrency` at a time."""
    queue = iter(jobs)

    async def worker() -> None:
        for job in queue:
            await job()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


async def members(pool: asyncpg.Pool, territory: uuid.UUID, count: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    rows = [
        (actor_id, territory, str(KINDS[i % 5]), str(KINDS[i % 5]), False, "active", 1)
        for i, actor_id in enumerate(ids)
    ]
    async with pool.acquire() as conn:
        await conn.copy_records_to_table("members", records=rows, columns=store.MEMBERS.columns)
    return ids


async def open_motion(pool: asyncpg.Pool, territory: uuid.UUID, opener: uuid.UUID) -> uuid.UUID:
    draft = Draft(
        kind=ProposalKind.FREE_MOTION,
        title="Motion",
        description="",
        method=Method.MAJORITY,
        secret=False,
        parameters={"text": "banc d'essai"},
        opens_at=None,
        closes_at=clock.now() + timedelta(hours=2),
    )
    principal = Principal(
        actor_id=str(opener),
        territory_id=str(territory),
        kind="association",
        roles=frozenset({FACILITATOR}),
        token_id="bench",
        status="active",
    )
    proposal = await in_transaction(
        pool, lambda conn: handlers.open_proposal(conn, territory, draft, principal, CTX)
    )
    assert proposal is not None
    return proposal


def voter(territory: uuid.UUID, actor_id: uuid.UUID) -> Principal:
    return Principal(
        actor_id=str(actor_id),
        territory_id=str(territory),
        kind="business",
        roles=frozenset(),
        token_id="bench",
        status="active",
    )


async def bench_votes(report: Report, pool: asyncpg.Pool, args: argparse.Namespace) -> uuid.UUID:
    territory = uuid.uuid4()
    ids = await members(pool, territory, args.members)
    proposal = await open_motion(pool, territory, ids[0])
    choices = [Choice.YES, Choice.NO, Choice.ABSTAIN]

    def vote(i: int, actor_id: uuid.UUID) -> Callable[[], Awaitable[object]]:
        principal = voter(territory, actor_id)
        return lambda: in_transaction(
            pool,
            lambda conn: handlers.cast_vote(conn, proposal, principal, choices[i % 3], CTX),
        )

    progress(f"casting {len(ids)} votes")
    seconds = await timed([vote(i, a) for i, a in enumerate(ids)], args.concurrency)
    votes_rate = len(ids) / seconds

    # The raw reference: the same three rows per vote, values prepared, in another territory.
    raw_territory, raw_proposal = uuid.uuid4(), uuid.uuid4()
    await pool.execute(
        "INSERT INTO proposals SELECT $1, $2, kind, title, description, method, secret, "
        "parameters, subject_id, weights, rules, opened_by, opens_at, closes_at "
        "FROM proposals WHERE id = $3",
        raw_proposal,
        raw_territory,
        proposal,
    )
    prepared = []
    previous = audit.GENESIS
    for i, actor_id in enumerate(ids):
        body = audit.canonical({"type": "vote_cast", "voter_id": str(actor_id), "n": i})
        digest = audit.chain_hash(previous, body)
        prepared.append((i + 1, actor_id, body, previous, digest))
        previous = digest

    def raw(row: tuple[int, uuid.UUID, bytes, str, str]) -> Callable[[], Awaitable[object]]:
        seq, actor_id, body, before, digest = row

        async def insert() -> None:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "INSERT INTO audit_entries (territory_id, seq, body, previous, hash) "
                    "VALUES ($1, $2, $3, $4, $5)",
                    raw_territory,
                    seq,
                    body,
                    before,
                    digest,
                )
                await conn.execute(
                    store.VOTES.insert_sql(),
                    raw_proposal,
                    actor_id,
                    "business",
                    "yes",
                    clock.now(),
                    True,
                    None,
                    seq,
                    digest,
                )
                await conn.execute(
                    "INSERT INTO outbox (event_id, topic, key, event_type, payload, headers) "
                    "VALUES ($1, $2, $3, $4, $5, $6)",
                    str(uuid.uuid4()),
                    "mcvt.governance",
                    str(raw_proposal),
                    "mcvt.governance.vote_cast.v1",
                    body,
                    {"content-type": "application/cloudevents+json"},
                )

        return insert

    progress(f"raw inserts of {len(prepared)} votes")
    raw_seconds = await timed([raw(row) for row in prepared], args.concurrency)
    raw_rate = len(prepared) / raw_seconds
    report.add("(1a) votes cast, cast_vote", f"{votes_rate:,.0f}/s", f"{len(ids)} members")
    report.add("(1b) raw inserts, same rows", f"{raw_rate:,.0f}/s", f"{args.concurrency} in flight")
    report.target("(1) votes / raw inserts", votes_rate / raw_rate, 0.3, at_least=True)
    return proposal


async def bench_tally(
    report: Report, pool: asyncpg.Pool, proposal_id: uuid.UUID, args: argparse.Namespace
) -> None:
    async with pool.acquire() as conn:
        proposal = await store.get_proposal(conn, proposal_id)
        assert proposal is not None

        async def ours() -> object:
            return await handlers.tally_of(conn, proposal)

        async def raw() -> object:
            return await conn.fetch(
                "SELECT college, choice, count(*) FROM votes WHERE proposal_id = $1 AND current "
                "GROUP BY college, choice",
                proposal_id,
            )

        tally = await handlers.tally_of(conn, proposal)
        assert sum(c.voters for c in tally.colleges) == args.members
        ours_s: list[float] = []
        raw_s: list[float] = []
        for _ in range(args.tally_rounds):  # alternated, so both see the same load
            for runs, job in ((ours_s, ours), (raw_s, raw)):
                start = time.perf_counter()
                await job()
                runs.append(time.perf_counter() - start)
    mine, theirs = statistics.median(ours_s), statistics.median(raw_s)
    report.add(f"(2a) tally_of, {args.members:,} votes", f"{mine * 1000:.2f} ms", "median")
    report.add("(2b) raw GROUP BY", f"{theirs * 1000:.2f} ms", "median")
    report.target("(2) tally / raw GROUP BY", mine / theirs, 3, at_least=False)


async def bench_verification(report: Report, pool: asyncpg.Pool, args: argparse.Namespace) -> None:
    territory = uuid.uuid4()
    entries: list[audit.Entry] = []
    previous = audit.GENESIS
    at = clock.now()
    for seq in range(1, args.chain + 1):
        body = audit.canonical(
            {
                "type": "proposal_closed",
                "proposal_id": str(uuid.uuid4()),
                "tally": {"outcome": "adopted", "result": f"{seq}/{seq + 1}"},
                "at": handlers.stamp(at),
            }
        )
        digest = audit.chain_hash(previous, body)
        entries.append(audit.Entry(seq, body, previous, digest))
        previous = digest
    async with pool.acquire() as conn:
        await conn.copy_records_to_table(
            "audit_entries",
            records=[(territory, e.seq, e.body, e.previous, e.hash) for e in entries],
            columns=("territory_id", "seq", "body", "previous", "hash"),
        )
        stored = store.stored(await store.audit_page(conn, territory, 0, args.chain))

    def tight() -> None:
        before = bytes(32)
        for entry in stored:
            before = hashlib.sha256(before + entry.body).digest()

    def ours() -> None:
        assert audit.verify_chain(stored) is None

    loop_s: list[float] = []
    verify_s: list[float] = []
    for _ in range(args.verify_rounds):
        for runs, job in ((loop_s, tight), (verify_s, ours)):
            start = time.perf_counter()
            job()
            runs.append(time.perf_counter() - start)
    start = time.perf_counter()
    async with pool.acquire() as conn:
        whole = await verify_territory(conn, territory)
    route_s = time.perf_counter() - start
    assert whole.valid and whole.entries == args.chain
    mine, theirs = statistics.median(verify_s), statistics.median(loop_s)
    report.add(f"(3a) verify_chain, {args.chain:,} entries", f"{mine * 1000:.0f} ms", "median")
    report.add("(3b) sha256 tight loop, same bytes", f"{theirs * 1000:.0f} ms", "median")
    report.add("(3c) verify route's work", f"{route_s * 1000:.0f} ms", "with PostgreSQL reads")
    report.target("(3) verification / tight loop", mine / theirs, 2, at_least=False)


async def bench(server: str, args: argparse.Namespace) -> Report:
    name = f"mcvt_bench_{uuid.uuid4().hex[:10]}"
    report = Report()
    url = await create_database(server, name)
    try:
        spec = governance_spec(GovernanceSettings())
        await migrate(url, spec.name, spec.migrations)
        report.setting.append(await postgres_setting(url))
        report.setting.append(load_average())
        pool = await create_pool(url)
        try:
            proposal = await bench_votes(report, pool, args)
            await bench_tally(report, pool, proposal, args)
            await bench_verification(report, pool, args)
        finally:
            await pool.close()
    finally:
        await drop_database(server, name)
    return report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--members", type=int, default=10_000, help="electorate of (1), (2)")
    parser.add_argument("--concurrency", type=int, default=32, help="votes in flight in (1)")
    parser.add_argument("--tally-rounds", type=int, default=30, help="alternated rounds of (2)")
    parser.add_argument("--chain", type=int, default=100_000, help="entries in (3)")
    parser.add_argument("--verify-rounds", type=int, default=5, help="alternated rounds of (3)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    run_dir = Path(__file__).resolve().parent.parent / ".run"
    run_dir.mkdir(exist_ok=True)
    server = server_url(os.environ.get("DATABASE_URL"), run_dir / "bench-postgres")
    report = asyncio.run(bench(server, args))
    report.print(
        "governance benchmark: PostgreSQL on this machine "
        f"({os.cpu_count()} cores shared by PostgreSQL and Python)"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
