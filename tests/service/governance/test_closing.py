"""Closing by itself: a proposal whose closing time passed while the service was stopped closes
when it is back; decisions that change colleges and rules apply in governance and go out."""

from __future__ import annotations

import json
import uuid

import asyncpg

from services.governance.app import build_app
from services.governance.settings import GovernanceSettings
from tests.governance_steps import all_vote, assembly, client, close_early, proposal, propose
from tests.harness import Databases, Stack
from tests.support import asgi_client, eventually


async def test_a_proposal_due_while_the_service_was_down_closes_after_restart(
    stack: Stack, databases: Databases
) -> None:
    town = await assembly(stack)
    url = await databases.for_service("governance")
    base = stack["governance"].settings.model_dump()
    settings = GovernanceSettings(
        **{
            **base,
            "database_url": url,
            # Groups of its own: sharing one with the stack's governance (another database)
            # would split the events between the two and rebalance the group under both.
            "members_consumer_group": f"governance.members.{uuid.uuid4().hex[:8]}",
            "access_consumer_group": f"governance.access.{uuid.uuid4().hex[:8]}",
            "agreements_consumer_group": f"governance.agreements.{uuid.uuid4().hex[:8]}",
        }
    )
    app = build_app(settings)
    async with asgi_client(app) as first:
        pool = app.state.runtime.pool

        async def knows_everyone() -> bool:
            return bool(
                await pool.fetchval(
                    """SELECT count(*) = 4 FROM members WHERE actor_id = ANY($1::uuid[])
                       AND status = 'active'""",
                    [uuid.UUID(m.id) for m in town.everyone],
                )
            ) and bool(
                await pool.fetchval(
                    "SELECT count(*) = 4 FROM access_actors WHERE actor_id = ANY($1::uuid[])",
                    [uuid.UUID(m.id) for m in town.everyone],
                )
            )

        await eventually(knows_everyone)
        opened = await first.post(
            "/v1/proposals",
            json={"kind": "free_motion", "title": "Motion", "closes_at": "2030-01-01T00:00:00Z"},
            headers=town.facilitator.headers,
        )
        assert opened.status_code == 422  # more than 90 days away
        opened = await first.post(
            "/v1/proposals", json=proposal(), headers=town.facilitator.headers
        )
        assert opened.status_code == 201, opened.text
        proposal_id = opened.json()["id"]
        for member in town.everyone:
            cast = await first.post(
                f"/v1/proposals/{proposal_id}/votes",
                json={"choice": "yes"},
                headers=member.headers,
            )
            assert cast.status_code == 200, cast.text

    # Stopped: the closing time passes meanwhile (moved into the past, with its job).
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "UPDATE proposals SET closes_at = now() - interval '1 minute' WHERE id = $1",
            uuid.UUID(proposal_id),
        )
        moved = await conn.execute(
            """UPDATE scheduled_jobs SET due_at = now() - interval '1 minute'
               WHERE kind = 'governance.close' AND key = $1""",
            proposal_id,
        )
        assert moved == "UPDATE 1"
        assert await conn.fetchval("SELECT status FROM proposals") == "open"
    finally:
        await conn.close()

    app = build_app(settings)
    async with asgi_client(app) as second:
        pool = app.state.runtime.pool

        async def closed() -> bool:
            return bool(await pool.fetchval("SELECT status = 'closed' FROM proposals"))

        await eventually(closed)
        shown = await second.get(f"/v1/proposals/{proposal_id}", headers=town.citizen.headers)
        assert shown.json()["tally"]["outcome"] == "adopted"
        assert shown.json()["closed_early"] is False
        assert (
            await pool.fetchval(
                "SELECT count(*) FROM outbox WHERE event_type = 'mcvt.governance.decision_made.v1'"
            )
            == 1
        )


async def test_adopted_colleges_and_rules_change_in_governance_and_go_out(stack: Stack) -> None:
    town = await assembly(stack)
    territory = town.territory.id
    before = await client(stack).get(
        f"/v1/territories/{territory}/colleges", headers=town.business.headers
    )
    assert before.json()["weights"] == {
        "association": 20,
        "business": 20,
        "citizen": 20,
        "local_authority": 20,
        "research_training": 20,
    }
    assert before.json()["members"]["citizen"] == 1
    weights = {
        "association": 25,
        "business": 25,
        "citizen": 30,
        "local_authority": 15,
        "research_training": 5,
    }
    colleges = await propose(
        stack,
        town.facilitator,
        kind="change_colleges",
        method="two_thirds",
        parameters={"weights": weights},
    )
    rules = await propose(
        stack,
        town.facilitator,
        kind="change_territory_rules",
        parameters={"quorum_weight_percent": 60, "offers_visible_to_other_territories": True},
    )
    for opened in (colleges, rules):
        await all_vote(stack, town.everyone, opened["id"], "yes")
        await close_early(stack, town, opened["id"])

    after = await client(stack).get(
        f"/v1/territories/{territory}/colleges", headers=town.business.headers
    )
    assert after.json()["weights"] == weights and after.json()["version"] == 2
    now = await client(stack).get(
        f"/v1/territories/{territory}/rules", headers=town.citizen.headers
    )
    assert now.json() == {
        "territory_id": territory,
        "version": 2,
        "public_asset_agreements_need_approval": True,
        "college_quorum_percent": 50,
        "quorum_weight_percent": 60,
        "time_credit_floor": -20,
        "offers_visible_to_other_territories": True,
    }
    rows = await stack.pool("governance").fetch(
        "SELECT event_type, payload FROM outbox WHERE key = $1 ORDER BY seq", territory
    )
    sent = {row["event_type"]: json.loads(row["payload"])["data"] for row in rows}
    assert sent["mcvt.governance.colleges_changed.v1"]["weights"] == weights
    rules_sent = sent["mcvt.governance.territory_rules_changed.v1"]
    assert rules_sent["quorum_weight_percent"] == 60 and rules_sent["version"] == 2

    # The next proposal is tallied under the new weights, frozen when it opened.
    later = await propose(stack, town.facilitator)
    assert later["college_weights"] == weights
    other = await assembly(stack)
    assert (
        await client(stack).get(
            f"/v1/territories/{territory}/rules", headers=other.business.headers
        )
    ).status_code == 403
