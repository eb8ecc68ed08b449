"""Health, readiness, and nothing lost while the broker is unreachable."""

from __future__ import annotations

import pytest

from tests.scenario import registration
from tests.support import events_of, eventually, read_topic


async def test_health_and_readiness(actors) -> None:
    assert (await actors.client.get("/healthz")).json() == {"status": "ok"}
    ready = await actors.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}


async def test_registrations_pile_up_while_the_broker_is_down_and_all_arrive(
    actors, territory, tansu, kafka
) -> None:
    if tansu is None:
        pytest.skip("needs the Tansu broker the tests start, to pause it")
    tansu.pause()
    try:
        ids = []
        for i in range(5):
            body = registration(territory.id, siret=None, name=f"Pendant la panne {i}")
            response = await actors.client.post("/v1/actors", json=body)
            assert response.status_code == 201  # the API keeps working: events wait in the outbox
            ids.append(response.json()["actor"]["id"])
        not_ready = await actors.client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["checks"]["broker"].startswith("unavailable")
        waiting = await actors.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL AND key = ANY($1::text[])"
            " AND event_type = 'mcvt.actor.registered.v1'",
            ids,
        )
        assert waiting == 5
    finally:
        tansu.resume()

    async def all_published() -> bool:
        return not await actors.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL"
        )

    await eventually(all_published, timeout=60)
    records = await read_topic(
        kafka,
        "mcvt.actors",
        until=lambda rs: all(events_of(rs, subject=actor_id) for actor_id in ids),
    )
    for actor_id in ids:
        assert [e["type"] for e in events_of(records, subject=actor_id)] == [
            "mcvt.actor.registered.v1"
        ]
