"""Governance killed (SIGKILL) after its scheduler claimed a proposal's closing job and before
the job completed: started again, it closes the proposal once, with one decision.

The test holds the proposal's row, so the closing run, which locks it first, waits there; the
proposal's closing time is brought forward in its database (the shortest vote lasts a minute)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord

from contracts.governance import DecisionMadeV1, ProposalClosedV1
from contracts.topics import Topic
from services.governance.handlers import CLOSE_JOB
from tests.faults.jobs.steps import as_process, killed_between_claim_and_completion
from tests.governance_steps import all_vote, assembly, in_minutes, propose
from tests.harness import Databases, Stack
from tests.support import events_of, eventually, read_topic


@pytest.mark.long
async def test_a_closing_killed_after_its_claim_closes_once_after_restart(
    actors: Stack, databases: Databases, kafka: str, tmp_path: Path
) -> None:
    async with as_process(
        actors,
        databases,
        "governance",
        tmp_path,
        scheduler_lease_s=10,
        scheduler_poll_interval_s=0.2,
    ) as governance:
        pool = actors.pool("governance")
        town = await assembly(actors)
        opened = await propose(actors, town.facilitator, closes_at=in_minutes(1.5))
        proposal_id = opened["id"]
        await all_vote(actors, town.everyone, proposal_id, "yes")
        # Its minute passes.
        await pool.execute(
            "UPDATE proposals SET closes_at = now() WHERE id = $1", uuid.UUID(proposal_id)
        )

        await killed_between_claim_and_completion(
            governance,
            pool,
            CLOSE_JOB,
            proposal_id,
            "SELECT 1 FROM proposals WHERE id = $1 FOR UPDATE",
            uuid.UUID(proposal_id),
            waits_in="FROM proposals WHERE id = $1 FOR UPDATE",
        )
        assert (
            await pool.fetchval(
                "SELECT status FROM proposals WHERE id = $1", uuid.UUID(proposal_id)
            )
            != "closed"
        )

        await governance.start()

        async def closed() -> bool:
            return bool(
                await pool.fetchval(
                    """SELECT status = 'closed' FROM proposals WHERE id = $1""",
                    uuid.UUID(proposal_id),
                )
            ) and bool(
                await pool.fetchval("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL")
            )

        await eventually(closed, timeout=60)
        assert (
            await pool.fetchval(
                "SELECT count(*) FROM scheduled_jobs WHERE kind = $1 AND key = $2",
                CLOSE_JOB,
                proposal_id,
            )
            == 0
        )

        def both(records: list[ConsumerRecord[bytes, bytes]]) -> bool:
            return bool(events_of(records, subject=proposal_id, type=ProposalClosedV1.event_type))

        records = await read_topic(kafka, Topic.GOVERNANCE, until=both, timeout=30)
        decisions = [
            e
            for e in events_of(records, type=DecisionMadeV1.event_type)
            if e["data"]["proposal_id"] == proposal_id
        ]
        closings = events_of(records, subject=proposal_id, type=ProposalClosedV1.event_type)
        assert (len(closings), len(decisions)) == (1, 1), (closings, decisions)
        decision_id = await pool.fetchval(
            "SELECT decision_id FROM proposals WHERE id = $1", uuid.UUID(proposal_id)
        )
        assert decisions[0]["data"]["decision_id"] == str(decision_id)
