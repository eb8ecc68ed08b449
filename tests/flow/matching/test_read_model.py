"""The read model follows the newest versions whatever the delivery, and can be rebuilt."""

from __future__ import annotations

import uuid
from typing import Any

from contracts.envelope import CloudEvent
from contracts.needs import NeedPublishedV1, NeedUpdatedV1, NeedWithdrawnV1
from contracts.offers import OfferPublishedV1, OfferUpdatedV1, OfferWithdrawnV1
from contracts.topics import Topic
from services.matching.ownership import load_territory
from tests.flow.matching.steps import Flow, adopt_policy, settled
from tests.harness import Databases, start_stack
from tests.scenario import Territory, declare, need, new_member, offer
from tests.support import eventually, produce
from tests.unit.matching.payloads import event, need_state, offer_state


async def deliver(flow: Flow, topic: str, *events: CloudEvent[Any]) -> None:
    for sent in events:
        await produce(flow.kafka, topic, sent.model_dump_json().encode(), sent.subject.encode())


async def test_older_versions_and_redeliveries_change_nothing(flow: Flow) -> None:
    ids = {name: str(uuid.uuid4()) for name in ("territory", "provider", "requester")}
    offer_id, need_id = str(uuid.uuid4()), str(uuid.uuid4())
    offers: dict[str, Any] = {
        "offer_id": offer_id,
        "provider_id": ids["provider"],
        "territory_id": ids["territory"],
    }
    needs: dict[str, Any] = {
        "need_id": need_id,
        "requester_id": ids["requester"],
        "territory_id": ids["territory"],
    }
    first = event(OfferPublishedV1, offer_state(**offers, version=1, capacity=12))
    bigger = event(OfferUpdatedV1, offer_state(**offers, version=2, capacity=20), changed=["asset"])

    # The update overtakes the publication, then arrives a second time.
    await deliver(flow, Topic.OFFERS, bigger, first, bigger)
    for applied in (bigger, first):  # the owner applies what the read model forwards later
        await settled(flow, applied.id)
    row = await flow.pool.fetchrow(
        "SELECT version, state FROM offers WHERE offer_id = $1", offer_id
    )
    assert row is not None and row["version"] == 2 and row["state"]["asset"]["capacity"] == 20
    indexed = flow.model.offers.get(offer_id)
    assert indexed is not None and (indexed.version, indexed.capacity) == (2, 20)

    published = event(NeedPublishedV1, need_state(**needs, version=1))
    await deliver(flow, Topic.NEEDS, published, published)

    async def proposed() -> list[Any]:
        return list(
            await flow.pool.fetch(
                "SELECT status, offer_version FROM matches WHERE need_id = $1", need_id
            )
        )

    await eventually(proposed)
    marker = event(NeedUpdatedV1, need_state(**needs, version=1), changed=[])  # same version
    await deliver(flow, Topic.NEEDS, published, marker)
    await settled(flow, marker.id)
    assert [tuple(r) for r in await proposed()] == [("proposed", 2)]
    inbox = await flow.pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", published.id)
    assert inbox == 1

    withdrawn = event(
        NeedWithdrawnV1,
        need_state(**needs, version=2, status="withdrawn"),
        withdrawn_by=ids["requester"],
        reason="plus besoin",
    )
    stale = event(NeedUpdatedV1, need_state(**needs, version=1, quantity=4), changed=["quantity"])
    await deliver(flow, Topic.NEEDS, withdrawn, stale)
    for applied in (withdrawn, stale):
        await settled(flow, applied.id)
    row = await flow.pool.fetchrow("SELECT version, status FROM needs WHERE need_id = $1", need_id)
    assert row is not None and tuple(row) == (2, "withdrawn")
    assert flow.model.needs.get(need_id) is None
    assert [tuple(r) for r in await proposed()] == [("cancelled", 2)]

    gone = event(
        OfferWithdrawnV1,
        offer_state(**offers, version=3, status="withdrawn"),
        withdrawn_by=ids["provider"],
        reason="vendu",
    )
    await deliver(flow, Topic.OFFERS, gone, bigger)
    await settled(flow, gone.id)
    assert flow.model.offers.get(offer_id) is None
    status = await flow.pool.fetchval("SELECT status FROM offers WHERE offer_id = $1", offer_id)
    assert status == "withdrawn"


READ_MODEL = {
    "offers": "SELECT offer_id, territory_id, provider_id, status, version, state FROM offers",
    "needs": "SELECT need_id, territory_id, requester_id, status, version, state FROM needs",
    "actors": "SELECT actor_id, territory_id, kind, status, version FROM actors",
    "policies": "SELECT territory_id, version, parameters, decision_id, adopted_at FROM policies",
}


async def snapshot(flow_or_app: Any) -> dict[str, list[tuple[Any, ...]]]:
    pool = flow_or_app.state.runtime.pool
    async with pool.acquire() as conn:
        return {
            table: sorted(tuple(str(v) for v in row) for row in await conn.fetch(sql))
            for table, sql in READ_MODEL.items()
        }


async def test_a_read_model_rebuilt_from_offset_zero_equals_the_live_one(
    flow: Flow, territory: Territory, databases: Databases
) -> None:
    stack = flow.stack
    business = await new_member(stack, territory, name="Frigo Diois")
    association = await new_member(stack, territory, kind="association", name="Paniers")
    kept = await offer(stack, business, (await declare(stack, business))["id"])
    paused = await offer(stack, business, (await declare(stack, business))["id"])
    await stack.offers.patch(
        f"/v1/offers/{kept['id']}", json={"max_distance_km": 30}, headers=business.headers
    )
    await stack.offers.post(f"/v1/offers/{paused['id']}/pause", headers=business.headers)
    open_need = await need(stack, association)
    closed_need = await need(stack, association, quantity=2)
    await stack.offers.post(f"/v1/needs/{closed_need['id']}/withdraw", headers=association.headers)
    await adopt_policy(flow, territory, top_k=2, social_priority={"association": 0.5})

    async def live_caught_up() -> bool:
        status = await flow.pool.fetchval(
            "SELECT status FROM needs WHERE need_id = $1", closed_need["id"]
        )
        return bool(status == "withdrawn")

    await eventually(live_caught_up)

    shadow_settings = {
        "jwks_url": flow.settings.jwks_url,
        "consumer_group": f"matching.rebuild.{uuid.uuid4().hex[:8]}",
        "propose_matches": False,
    }
    async with start_stack(databases, flow.kafka, ["matching"], {"matching": shadow_settings}) as s:
        shadow = s["matching"].app
        live = await snapshot(flow.app)
        assert any(row[0] == open_need["id"] for row in live["needs"])

        async def rebuilt() -> bool:
            return await snapshot(shadow) == live

        await eventually(rebuilt, timeout=60)
        # The shadow holds no index; those its database gives are the live owner's.
        pool = shadow.state.runtime.pool
        async with pool.acquire() as conn:
            rebuilt_model = await load_territory(conn, territory.id, proposing=False)
        live_model = flow.app.state.territories.held(territory.id)
        assert live_model is not None and len(shadow.state.territories) == 0
        indexed = {(o.offer_id, o.version) for o in rebuilt_model.offers}
        assert indexed == {(o.offer_id, o.version) for o in live_model.offers}
        needs = {(n.need_id, n.version, n.social_priority) for n in rebuilt_model.needs}
        assert needs == {(n.need_id, n.version, n.social_priority) for n in live_model.needs}
        assert (kept["id"], 2) in indexed and all(o[0] != paused["id"] for o in indexed)
        assert await pool.fetchval("SELECT count(*) FROM matches") == 0
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
