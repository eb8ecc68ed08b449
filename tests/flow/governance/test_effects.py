"""Each kind's effect, from a vote in governance to the service that applies the decision."""

from __future__ import annotations

import uuid
from typing import Any

from tests.flow.matching.steps import Flow, match_events, policy_of, proposals_for, status_of
from tests.governance_steps import (
    Assembly,
    all_vote,
    assembly,
    close_early,
    members_known,
    propose,
)
from tests.scenario import Member, declare, need, new_member, offer, registration
from tests.support import eventually


async def decided(flow: Flow, town: Assembly, **body: Any) -> dict[str, Any]:
    """Open a proposal, everyone votes yes, the facilitator closes it: adopted."""
    opened = await propose(flow.stack, town.facilitator, **body)
    await all_vote(flow.stack, town.everyone, opened["id"], "yes")
    closed = await close_early(flow.stack, town, opened["id"])
    assert closed["tally"]["outcome"] == "adopted", closed
    return closed


async def test_an_adopted_admission_makes_the_actor_active_in_actors(flow: Flow) -> None:
    stack = flow.stack
    town = await assembly(stack)
    registered = await stack.actors.post(
        "/v1/actors", json=registration(town.territory.id, siret=None, name="Atelier Bois")
    )
    assert registered.status_code == 201, registered.text
    actor_id = registered.json()["actor"]["id"]
    await members_known(stack, _member(actor_id, town), status="pending")

    await decided(flow, town, kind="admit_actor", parameters={"actor_id": actor_id})

    async def admitted() -> bool:
        found = await stack.actors.get(f"/v1/actors/{actor_id}", headers=town.facilitator.headers)
        return bool(found.json()["status"] == "active")

    await eventually(admitted)
    # ...and governance hears it back: the new member votes in the next proposal.
    await members_known(stack, _member(actor_id, town))


async def test_an_adopted_policy_change_gives_matching_the_next_version(flow: Flow) -> None:
    town = await assembly(flow.stack)
    before = await policy_of(flow, town.business)
    assert before["version"] == 1

    closed = await decided(
        flow, town, kind="change_matching_policy", parameters={"top_k": 2, "threshold": 0.25}
    )

    async def adopted() -> dict[str, Any] | None:
        policy = await policy_of(flow, town.business)
        return policy if policy["version"] == 2 else None

    policy = await eventually(adopted)
    assert policy["top_k"] == 2 and policy["threshold"] == 0.25
    assert policy["decision_id"] == closed["decision_id"]


async def test_an_allocation_confirms_the_chosen_need_for_the_contested_offer(flow: Flow) -> None:
    stack = flow.stack
    town = await assembly(stack)
    paniers = await new_member(stack, town.territory, kind="association", name="Paniers")
    epicerie = await new_member(stack, town.territory, kind="association", name="Épicerie")
    await members_known(stack, paniers, epicerie)
    # One van of 12 m³, two needs of 8 m³ at the same hours: only one can have it.
    van = await offer(stack, town.business, (await declare(stack, town.business))["id"])
    first = await need(stack, paniers)
    second = await need(stack, epicerie)
    [for_first] = await proposals_for(flow, first["id"])
    [for_second] = await proposals_for(flow, second["id"])
    assert for_first["data"]["offer_id"] == for_second["data"]["offer_id"] == van["id"]

    electorate = Assembly(town.territory, town.business, town.authority, town.citizen)
    opened = await propose(
        stack,
        town.facilitator,
        kind="allocate_common_asset",
        parameters={"offer_id": van["id"], "need_id": second["id"]},
    )
    await all_vote(stack, [*electorate.everyone, paniers, epicerie], opened["id"], "yes")
    await close_early(stack, town, opened["id"])

    chosen = await status_of(flow, epicerie, for_second["data"]["match_id"], "confirmed")
    assert chosen["need_id"] == second["id"]
    cancelled = await match_events(
        flow, type_="mcvt.match.cancelled.v1", match_id=for_first["data"]["match_id"]
    )
    assert cancelled[-1]["data"]["reason"] == "capacity_taken"


def _member(actor_id: str, town: Assembly) -> Member:
    return Member(actor_id, town.territory.id, {})


async def test_a_decision_of_a_kind_a_service_does_not_handle_changes_nothing_there(
    flow: Flow,
) -> None:
    """actors and matching take every decision off the topic and act on their kinds only."""
    stack = flow.stack
    town = await assembly(stack)
    pending = await stack.actors.post(
        "/v1/actors", json=registration(town.territory.id, siret=None, name="En attente")
    )
    pending_id = pending.json()["actor"]["id"]
    closed = await decided(
        flow,
        town,
        kind="select_for_trial",
        # Its subject is the pending actor: an admission consumer blind to kinds would admit it.
        parameters={"project_id": pending_id, "selected_ids": [str(uuid.uuid4())]},
    )
    decision_event = await stack.pool("governance").fetchval(
        "SELECT event_id FROM outbox WHERE event_type = 'mcvt.governance.decision_made.v1' "
        "AND convert_from(payload, 'UTF8')::jsonb -> 'data' ->> 'decision_id' = $1",
        closed["decision_id"],
    )

    async def taken_by_both() -> bool:
        counts = [
            await stack.pool(service).fetchval(
                "SELECT count(*) FROM inbox WHERE event_id = $1", str(decision_event)
            )
            for service in ("actors", "matching")
        ]
        return counts == [1, 1]

    await eventually(taken_by_both)
    actor = await stack.actors.get(f"/v1/actors/{pending_id}", headers=town.facilitator.headers)
    assert actor.json()["status"] == "pending"
    assert (await policy_of(flow, town.business))["version"] == 1
