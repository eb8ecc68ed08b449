"""Actors consuming governance decisions: inbox, dead letters, redelivery after a crash."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from contracts.envelope import new_event
from contracts.governance import DecisionMadeV1
from contracts.topics import dead_letter_topic
from services.runtime.outbox import OutboxRelay, enqueue
from tests.actors.conftest import registration
from tests.support import eventually, produce, read_topic

DLQ = dead_letter_topic("actors.governance-decisions")


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


async def test_same_event_delivered_twice_changes_state_once(actors, territory, kafka) -> None:
    actor_id = await pending_actor(actors, territory)
    event = admission(territory.id, actor_id)
    raw = event.model_dump_json().encode()
    await produce(kafka, "mcvt.governance", raw, key=event.subject.encode())
    await produce(kafka, "mcvt.governance", raw, key=event.subject.encode())

    async def both_seen() -> bool:
        return actors.app.state.runtime.consumers.processed >= 2

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
        return actors.app.state.runtime.consumers.processed >= 2

    await eventually(both_seen)
    row = await actor_row(actors, actor_id)
    assert (row["status"], row["version"]) == ("active", 2)
    assert await admitted_events(actors, actor_id) == 1


async def test_malformed_event_is_dead_lettered_and_the_next_is_processed(
    actors, territory, kafka
) -> None:
    actor_id = await pending_actor(actors, territory)
    marker = uuid.uuid4().hex
    not_json = f"not an event {marker}".encode()
    missing_fields = json.dumps(
        {"type": "mcvt.governance.decision_made.v1", "id": marker, "specversion": "1.0"}
    ).encode()
    key = territory.id.encode()  # one key: the three records share a partition, in order
    await produce(kafka, "mcvt.governance", not_json, key=key)
    await produce(kafka, "mcvt.governance", missing_fields, key=key)
    event = admission(territory.id, actor_id)
    await produce(kafka, "mcvt.governance", event.model_dump_json().encode(), key=key)

    async def admitted() -> bool:
        return (await actor_row(actors, actor_id))["status"] == "active"

    await eventually(admitted)
    letters = await read_topic(
        kafka, DLQ, until=lambda rs: sum(marker.encode() in r.value for r in rs) >= 2
    )
    ours = [r for r in letters if marker.encode() in r.value]
    assert [r.value for r in ours] == [not_json, missing_fields]
    for record in ours:
        headers = dict(record.headers)
        assert headers["dlq-error-type"] == b"ValidationError"
        assert headers["dlq-original-topic"] == b"mcvt.governance"
        assert headers["dlq-consumer"] == b"actors.governance-decisions"


async def test_admission_of_an_unknown_actor_is_dead_lettered_at_once(
    actors, territory, kafka
) -> None:
    unknown_actor = str(uuid.uuid4())
    failing = admission(territory.id, unknown_actor)
    actor_id = await pending_actor(actors, territory)
    following = admission(territory.id, actor_id)
    key = territory.id.encode()
    await produce(kafka, "mcvt.governance", failing.model_dump_json().encode(), key=key)
    await produce(kafka, "mcvt.governance", following.model_dump_json().encode(), key=key)

    async def admitted() -> bool:
        return (await actor_row(actors, actor_id))["status"] == "active"

    await eventually(admitted)
    letters = await read_topic(
        kafka, DLQ, until=lambda rs: any(failing.id.encode() in r.value for r in rs)
    )
    letter = next(r for r in letters if failing.id.encode() in r.value)
    assert dict(letter.headers)["dlq-error-type"] == b"NotFound"
    assert actors.app.state.runtime.consumers.handler_failures == 0  # a rejection is not retried
    # The rejected attempt rolled back: the inbox did not keep the event.
    assert (
        await actors.pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", failing.id)
        == 0
    )


async def test_event_a_handler_rejects_is_dead_lettered_without_retries(
    actors, territory, kafka
) -> None:
    rejected = admission(territory.id, "not-an-actor-id")
    await produce(kafka, "mcvt.governance", rejected.model_dump_json().encode(), key=b"k")
    letters = await read_topic(
        kafka, DLQ, until=lambda rs: any(rejected.id.encode() in r.value for r in rs)
    )
    letter = next(r for r in letters if rejected.id.encode() in r.value)
    assert dict(letter.headers)["dlq-error-type"] == b"InvalidInput"
    assert actors.app.state.runtime.consumers.handler_failures == 0  # a rejection is not retried
