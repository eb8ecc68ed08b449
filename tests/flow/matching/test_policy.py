"""The matching policy changes only by a governance decision, and a change re-matches."""

from __future__ import annotations

import json

from aiokafka import ConsumerRecord

from contracts.topics import dead_letter_topic
from services.matching.model import DEFAULT_POLICY
from tests.flow.matching.steps import (
    Flow,
    adopt_policy,
    decision,
    match_events,
    policy_of,
    proposals_for,
    publish_decision,
)
from tests.scenario import Territory, declare, need, new_member, offer
from tests.support import eventually, read_topic


async def test_a_decision_gives_the_next_policy_version_and_re_proposes_under_it(
    flow: Flow, territory: Territory
) -> None:
    stack = flow.stack
    business = await new_member(stack, territory, name="Frigo Diois")
    association = await new_member(stack, territory, kind="association", name="Paniers")
    await offer(stack, business, (await declare(stack, business))["id"])
    requested = await need(stack, association)
    [old] = await proposals_for(flow, requested["id"])
    assert old["data"]["score"]["policy_version"] == 1
    assert old["data"]["score"]["parts"]["social_priority"] == 0.0
    initial = await policy_of(flow, association)
    assert initial["version"] == 1 and initial["decision_id"] is None
    assert initial["weights"] == dict(DEFAULT_POLICY.weights) and initial["top_k"] == 5

    policy = await adopt_policy(
        flow, territory, threshold=0.3, top_k=2, ttl_hours=48, social_priority={"association": 1}
    )
    assert policy["version"] == 2 and policy["decision_id"] is not None
    assert (policy["threshold"], policy["top_k"], policy["ttl_hours"]) == (0.3, 2, 48)
    assert policy["social_priority"] == {"association": 1.0}
    assert policy["weights"] == dict(DEFAULT_POLICY.weights)

    cancelled = await match_events(
        flow, type_="mcvt.match.cancelled.v1", match_id=old["data"]["match_id"]
    )
    assert cancelled[-1]["data"]["reason"] == "policy_changed"
    [renewed] = [
        p["data"]
        for p in await proposals_for(flow, requested["id"], until=2)
        if p["data"]["match_id"] != old["data"]["match_id"]
    ]
    assert renewed["offer_id"] == old["data"]["offer_id"]
    assert renewed["score"]["policy_version"] == 2
    assert renewed["score"]["parts"]["social_priority"] == 1.0
    assert renewed["score"]["total"] > old["data"]["score"]["total"]


async def test_rejected_or_invalid_decisions_change_nothing(
    flow: Flow, territory: Territory
) -> None:
    await adopt_policy(flow, territory, top_k=3)
    await publish_decision(flow, decision(territory.id, {"top_k": 1}, outcome="rejected"))
    await publish_decision(flow, decision(territory.id, {"top_k": 1}, kind="free_motion"))
    invalid = await publish_decision(flow, decision(territory.id, {"top_k": 0}))
    unknown = await publish_decision(flow, decision(territory.id, {"charm": 1}))

    def dead(records: list[ConsumerRecord[bytes, bytes]]) -> bool:
        # Other tests put records that are not even JSON on mcvt.governance: they land here too.
        ids = {json.loads(r.value).get("id") for r in records if (r.value or b"").startswith(b"{")}
        return {invalid, unknown} <= ids

    letters = await read_topic(
        flow.kafka, dead_letter_topic(flow.settings.consumer_group), until=dead
    )
    assert dead(letters)
    policy = await policy_of(flow, territory.facilitator)
    assert policy["version"] == 2 and policy["top_k"] == 3


async def test_a_re_match_shares_contested_capacity_out_by_allocation(
    flow: Flow, territory: Territory
) -> None:
    """Three 8 m³ needs and one 12 m³ van: published one by one, each is proposed the van; after
    a policy change the batch re-match proposes it to one only, the best."""
    stack = flow.stack
    business = await new_member(stack, territory, name="Frigo Diois")
    van = await offer(stack, business, (await declare(stack, business))["id"])
    requesters = [
        await new_member(stack, territory, kind="association", name=f"Association {n}")
        for n in range(3)
    ]
    asked = [
        ["refrigerated", "tail_lift"],  # the van has both
        ["refrigerated", "with_driver"],
        ["refrigerated", "with_driver", "wheelchair_accessible"],
    ]
    needs = [
        await need(stack, r, required_features=f) for r, f in zip(requesters, asked, strict=True)
    ]
    for requested in needs:
        await proposals_for(flow, requested["id"])

    await adopt_policy(flow, territory, top_k=1)

    async def proposed_under_v2() -> list[str] | None:
        rows = await flow.pool.fetch(
            """SELECT need_id FROM matches WHERE offer_id = $1 AND status = 'proposed'
               AND policy_version = 2""",
            van["id"],
        )
        old = await flow.pool.fetchval(
            "SELECT count(*) FROM matches WHERE offer_id = $1 AND status = 'cancelled'", van["id"]
        )
        return [row["need_id"] for row in rows] if old == 3 else None

    # The first need has every feature it asks for: it scores best.
    assert await eventually(proposed_under_v2) == [needs[0]["id"]]

    forbidden = await flow.matching.post("/v1/rematch", headers=requesters[0].headers)
    assert forbidden.status_code == 403
    again = await flow.matching.post("/v1/rematch", headers=territory.facilitator.headers)
    assert again.status_code == 200, again.text
    assert again.json() == {
        "policy_version": 2,
        "needs": 3,
        "proposed": 0,  # 4 m³ are left of the van: not enough for another 8 m³ need
        "cancelled": 0,
        "rounds": 0,
    }
