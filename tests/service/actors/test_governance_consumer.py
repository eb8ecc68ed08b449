"""Actors consuming governance decisions: admission by decision, redelivery of an admission.

How the consumer retries and dead-letters is the runtime's and is tested in tests/runtime.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from contracts.envelope import new_event
from contracts.governance import DecisionMadeV1
from services.actors.consumers import on_decision
from services.runtime.context import Context
from services.runtime.errors import InvalidInput, NotFound
from services.runtime.outbox import OutboxRelay, enqueue
from tests.scenario import registration
from tests.support import eventually, produce


def admission(territory_id: str, actor_id: str | None):
    decision = DecisionMadeV1(
        decision_id=str(uuid.uuid4()),
        proposal_id=str(uuid.uuid4()),
        territory_id=territory_id,
        kind="admit_actor",
        outcome="adopted",
        subject_id=actor_id,
        decided_at=datetime.now(UTC),
    )
    return new_event(
        decision, subject=decision.proposal_id, territory=territory_id, source="/mcvt/governance"
    )


async def pending_actor(actors, territory) -> str:
    response = await actors.client.post("/v1/actors", json=registration(territory.id, siret=None))
    assert response.status_code == 201, response.text
    return response.json()["actor"]["id"]


async def admitted_events(actors, actor_id: str) -> int:
    return await actors.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE key = $1 AND event_type = 'mcvt.actor.admitted.v1'",
        actor_id,
    )


async def actor_row(actors, actor_id: str):
    return await actors.pool.fetchrow(
        "SELECT status, version FROM actors WHERE id = $1", uuid.UUID(actor_id)
    )


def processed(actors) -> int:
    """Events the shared service's consumers handled so far (the tests wait for their own)."""
    count: int = actors.app.state.runtime.consumers.processed
    return count


async def test_same_event_delivered_twice_changes_state_once(actors, territory, kafka) -> None:
    actor_id = await pending_actor(actors, territory)
    event = admission(territory.id, actor_id)
    raw = event.model_dump_json().encode()
    before = processed(actors)
    await produce(kafka, "mcvt.governance", raw, key=event.subject.encode())
    await produce(kafka, "mcvt.governance", raw, key=event.subject.encode())

    async def both_seen() -> bool:
        return actors.app.state.runtime.consumers.processed >= before + 2

    await eventually(both_seen)
    row = await actor_row(actors, actor_id)
    assert (row["status"], row["version"]) == ("active", 2)
    assert await admitted_events(actors, actor_id) == 1
    inbox = await actors.pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event.id)
    assert inbox == 1


async def test_relay_killed_after_ack_republishes_and_consumer_applies_once(
    actors,
    territory,
    kafka,
    outbox_pool,
    producer,
) -> None:
    actor_id = await pending_actor(actors, territory)
    event = admission(territory.id, actor_id)
    before = processed(actors)
    async with outbox_pool.acquire() as conn:
        await enqueue(conn, event)

    class Killed(Exception):
        pass

    async def killed(rows) -> None:
        raise Killed

    async with outbox_pool.acquire() as conn:
        with pytest.raises(Killed):
            await OutboxRelay(outbox_pool, producer, before_mark=killed).drain_once(conn)
        # After the restart, the row is still unmarked and goes out again.
        assert await OutboxRelay(outbox_pool, producer).drain_once(conn) == 1

    async def both_seen() -> bool:
        return actors.app.state.runtime.consumers.processed >= before + 2

    await eventually(both_seen)
    row = await actor_row(actors, actor_id)
    assert (row["status"], row["version"]) == ("active", 2)
    assert await admitted_events(actors, actor_id) == 1


@pytest.mark.parametrize("subject_id", ["not-an-actor-id", None])
async def test_an_admission_that_names_no_actor_is_rejected(actors, territory, subject_id) -> None:
    """A rejection (a DomainError), so the consumer dead-letters it at once without retrying:
    the retry policy itself is tested in tests/runtime."""
    event = admission(territory.id, subject_id)
    async with actors.pool.acquire() as conn, conn.transaction():
        with pytest.raises(InvalidInput):
            await on_decision(conn, event, Context("/mcvt/actors").caused_by(event))


async def test_an_admission_of_an_unknown_actor_is_rejected(actors, territory) -> None:
    event = admission(territory.id, str(uuid.uuid4()))
    async with actors.pool.acquire() as conn, conn.transaction():
        with pytest.raises(NotFound):
            await on_decision(conn, event, Context("/mcvt/actors").caused_by(event))
