"""Agreements killed (SIGKILL) after its scheduler claimed the closing of an agreement's period
and before the job completed: started again, it issues the period's statement once.

The agreement runs for about a minute (its need's one dated window), on the process's own clock;
the test holds the agreement's row once it is active, so the closing run, which locks it first,
waits there when its time comes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord

from contracts.agreements import StatementIssuedV1
from contracts.topics import Topic
from services.agreements.handlers import CLOSE_PERIOD
from tests.faults.jobs.steps import as_process, killed_between_claim_and_completion
from tests.harness import Databases, Stack, start_stack
from tests.scenario import new_territory
from tests.service.agreements.steps import Deal, make_deal, read, signed_by_both
from tests.support import events_of, eventually, read_topic

LEAD = timedelta(seconds=45)  # for the deal to be made and signed before its window opens
WINDOW = timedelta(minutes=1)


@pytest.fixture
async def actors_and_offers(databases: Databases, kafka: str) -> AsyncIterator[Stack]:
    async with start_stack(databases, kafka, ["actors", "offers"]) as stack:
        yield stack


def one_minute_need() -> dict[str, object]:
    opens = (datetime.now(UTC) + LEAD).replace(microsecond=0)
    closes = opens + WINDOW
    return {
        "weekly_windows": [],
        "dated_windows": [{"start": opens.isoformat(), "end": closes.isoformat()}],
        "min_duration_minutes": 1,
        "expires_at": closes.isoformat(),
    }


async def status_is(stack: Stack, deal: Deal, status: str) -> dict[str, object] | None:
    found = await read(stack, deal.provider, deal)
    return found if found["status"] == status else None


@pytest.mark.long
async def test_a_period_close_killed_after_its_claim_issues_one_statement_after_restart(
    actors_and_offers: Stack, databases: Databases, kafka: str, tmp_path: Path
) -> None:
    stack = actors_and_offers
    async with as_process(
        stack,
        databases,
        "agreements",
        tmp_path,
        scheduler_lease_s=10,
        scheduler_poll_interval_s=0.2,
        # No matching beside it: amendments, unused here, would find it out of reach.
        urls={"matching": "http://127.0.0.1:9"},
    ) as agreements:
        pool = stack.pool("agreements")
        territory = await new_territory(stack)
        deal = await make_deal(stack, territory, need_fields=one_minute_need())
        await signed_by_both(stack, deal)
        active = await eventually(lambda: status_is(stack, deal, "active"), timeout=120)
        ends_at = datetime.fromisoformat(str(active["ends_at"]))
        agreement = uuid.UUID(deal.id)

        async def its_end_passed() -> bool:
            return bool(await pool.fetchval("SELECT now() > $1", ends_at))

        await killed_between_claim_and_completion(
            agreements,
            pool,
            CLOSE_PERIOD,
            deal.id,
            "SELECT 1 FROM agreements WHERE id = $1 FOR UPDATE",
            agreement,
            waits_in="FROM agreements WHERE id = $1 FOR UPDATE",
            before_due=lambda: eventually(its_end_passed, timeout=120, interval=0.5),
        )
        assert await pool.fetchval("SELECT count(*) FROM statements") == 0

        await agreements.start()
        await eventually(lambda: status_is(stack, deal, "completed"), timeout=60)
        await eventually(
            lambda: pool.fetchval("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"),
            timeout=30,
        )
        statements = await pool.fetch(
            "SELECT id, period_start, period_end FROM statements WHERE agreement_id = $1",
            agreement,
        )
        assert len(statements) == 1, statements

        def issued(records: list[ConsumerRecord[bytes, bytes]]) -> bool:
            return bool(events_of(records, subject=deal.id, type=StatementIssuedV1.event_type))

        records = await read_topic(kafka, Topic.AGREEMENTS, until=issued, timeout=30)
        found = events_of(records, subject=deal.id, type=StatementIssuedV1.event_type)
        assert [e["data"]["statement_id"] for e in found] == [str(statements[0]["id"])]
