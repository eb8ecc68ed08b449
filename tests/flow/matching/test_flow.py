"""Offers and needs published at the offers service become matches, over the real broker."""

from __future__ import annotations

import asyncio
from typing import Any

from services.matching import ownership
from services.matching.model import DEFAULT_POLICY, PARTS
from tests.flow.matching.steps import (
    Flow,
    accept,
    adopt_policy,
    get_match,
    indexed,
    match_events,
    proposals_for,
    status_of,
)
from tests.scenario import Territory, declare, events_for, need, new_member, offer
from tests.support import eventually

SUSPENDED = "mcvt.actor.suspended.v1"
PAUSED = "mcvt.offer.paused.v1"


async def test_offer_and_need_published_propose_a_match_with_its_breakdown(
    flow: Flow, territory: Territory
) -> None:
    stack = flow.stack
    business = await new_member(stack, territory, name="Frigo Diois")
    association = await new_member(stack, territory, kind="association", name="Paniers")
    asset = await declare(stack, business)
    published = await offer(stack, business, asset["id"])
    await indexed(flow, offer_id=published["id"])
    requested = await need(stack, association)

    proposed = (await proposals_for(flow, requested["id"]))[0]
    need_event = (await events_for(stack, "mcvt.needs", requested["id"], until=1))[0]
    data = proposed["data"]
    assert proposed["subject"] == data["match_id"]
    assert proposed["causationid"] == need_event["id"]
    assert proposed["correlationid"] == need_event["correlationid"]
    assert (data["offer_id"], data["provider_id"]) == (published["id"], business.id)
    assert (data["need_id"], data["requester_id"]) == (requested["id"], association.id)
    assert data["status"] == "proposed" and data["version"] == 1 and data["quantity"] == 8
    score = data["score"]
    assert set(score["parts"]) == set(PARTS)
    assert all(0 <= value <= 1 for value in score["parts"].values())
    assert score["weights"] == dict(DEFAULT_POLICY.weights)
    assert score["policy_version"] == 1 and score["total"] >= DEFAULT_POLICY.threshold
    weighted = sum(score["weights"][p] * score["parts"][p] for p in PARTS)
    assert abs(score["total"] - weighted / sum(score["weights"].values())) < 1e-9
    assert score["parts"]["distance"] == 1.0  # same place
    assert score["parts"]["features"] == 1.0  # refrigerated, as asked

    for member, party in ((business, "provider"), (association, "requester")):
        response = await get_match(flow, member, data["match_id"])
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["my_party"] == party and body["score"] == score
        listed = await flow.matching.get("/v1/matches?status=proposed", headers=member.headers)
        assert [m["id"] for m in listed.json()["items"]] == [data["match_id"]]


async def test_a_new_offer_is_proposed_to_open_needs(flow: Flow, territory: Territory) -> None:
    stack = flow.stack
    association = await new_member(stack, territory, kind="association", name="Resto du cœur")
    business = await new_member(stack, territory, name="Frigo Diois")
    requested = await need(stack, association)
    await indexed(flow, need_id=requested["id"])
    asset = await declare(stack, business)
    published = await offer(stack, business, asset["id"])

    proposed = (await proposals_for(flow, requested["id"]))[0]
    offer_event = (await events_for(stack, "mcvt.offers", published["id"], until=1))[0]
    assert proposed["data"]["offer_id"] == published["id"]
    assert proposed["causationid"] == offer_event["id"]


async def test_both_parties_accept_in_either_order_then_it_is_confirmed(
    flow: Flow, territory: Territory
) -> None:
    stack = flow.stack
    business = await new_member(stack, territory, name="Frigo Diois")
    association = await new_member(stack, territory, kind="association", name="Paniers")
    asset = await declare(stack, business)
    await offer(stack, business, asset["id"])
    requested = await need(stack, association)
    match_id = (await proposals_for(flow, requested["id"]))[0]["data"]["match_id"]

    first = await accept(flow, association, match_id)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "accepted" and first.json()["accepted_by"] == ["requester"]
    again = await accept(flow, association, match_id)
    assert again.status_code == 200 and again.json()["version"] == first.json()["version"]
    second = await accept(flow, business, match_id)
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["status"] == "confirmed" and body["confirmed_at"] is not None
    assert sorted(body["accepted_by"]) == ["provider", "requester"]

    events = await match_events(flow, until=4, match_id=match_id)
    assert [(e["type"], e["data"]["version"]) for e in events] == [
        ("mcvt.match.proposed.v1", 1),
        ("mcvt.match.accepted.v1", 2),
        ("mcvt.match.accepted.v1", 3),
        ("mcvt.match.confirmed.v1", 4),
    ]
    assert [e["data"]["by"] for e in events[1:3]] == ["requester", "provider"]
    assert events[3]["data"]["status"] == "confirmed"

    late = await flow.matching.post(f"/v1/matches/{match_id}/decline", headers=association.headers)
    assert late.status_code == 409
    assert late.headers["content-type"] == "application/problem+json"


async def test_only_the_parties_see_a_match_and_only_the_requester_its_candidates(
    flow: Flow, territory: Territory
) -> None:
    stack = flow.stack
    business = await new_member(stack, territory, name="Frigo Diois")
    association = await new_member(stack, territory, kind="association", name="Paniers")
    outsider = await new_member(stack, territory, kind="association", name="Curieux")
    asset = await declare(stack, business)
    published = await offer(stack, business, asset["id"])
    requested = await need(stack, association)
    match_id = (await proposals_for(flow, requested["id"]))[0]["data"]["match_id"]

    for who in (outsider, territory.facilitator):
        assert (await get_match(flow, who, match_id)).status_code == 404
        assert (await accept(flow, who, match_id)).status_code == 404
        declined = await flow.matching.post(f"/v1/matches/{match_id}/decline", headers=who.headers)
        assert declined.status_code == 404
        listed = await flow.matching.get("/v1/matches", headers=who.headers)
        assert listed.status_code == 200 and listed.json()["items"] == []
    assert (await flow.matching.get(f"/v1/matches/{match_id}")).status_code == 401

    url = f"/v1/needs/{requested['id']}/candidates"
    for who in (outsider, business):
        assert (await flow.matching.get(url, headers=who.headers)).status_code == 404
    explained = await flow.matching.get(url, headers=association.headers)
    assert explained.status_code == 200, explained.text
    body = explained.json()
    assert body["policy_version"] == 1 and body["threshold"] == DEFAULT_POLICY.threshold
    [first] = body["items"]
    assert (first["rank"], first["offer_id"], first["title"]) == (
        1,
        published["id"],
        published["title"],
    )
    assert set(first["score"]["parts"]) == set(PARTS)
    assert first["match"] == {"match_id": match_id, "status": "proposed"}


async def test_withdrawing_an_offer_waits_for_its_booking_then_cancels_its_open_matches(
    flow: Flow, territory: Territory
) -> None:
    stack = flow.stack
    business = await new_member(stack, territory, name="Frigo Diois")
    first = await new_member(stack, territory, kind="association", name="Paniers")
    second = await new_member(stack, territory, kind="association", name="Épicerie")
    asset = await declare(stack, business)
    published = await offer(stack, business, asset["id"])
    confirmed_need = await need(stack, first, quantity=4)
    open_need = await need(stack, second, quantity=4)
    confirmed_id = (await proposals_for(flow, confirmed_need["id"]))[0]["data"]["match_id"]
    open_id = (await proposals_for(flow, open_need["id"]))[0]["data"]["match_id"]
    for member in (business, first):
        assert (await accept(flow, member, confirmed_id)).status_code == 200
    assert (await accept(flow, business, open_id)).json()["status"] == "accepted"

    withdraw_url = f"/v1/offers/{published['id']}/withdraw"

    async def booked() -> bool:
        response = await stack.offers.get(
            f"/v1/needs/{confirmed_need['id']}", headers=first.headers
        )
        return bool(response.json()["status"] == "matched")

    # Once offers has heard of the confirmation (the need is matched), the booking holds the
    # offer: it cannot be withdrawn until a party ends it.
    await eventually(booked)
    refused = await stack.offers.post(withdraw_url, headers=business.headers)
    assert refused.status_code == 409, refused.text
    assert confirmed_id in refused.json()["detail"]
    ended = await flow.matching.post(f"/v1/matches/{confirmed_id}/cancel", headers=first.headers)
    assert ended.status_code == 200, ended.text

    async def withdrawn() -> bool:
        response = await stack.offers.post(withdraw_url, headers=business.headers)
        return response.status_code == 200

    await eventually(withdrawn)
    cancelled = await match_events(flow, type_="mcvt.match.cancelled.v1", match_id=open_id, until=1)
    assert cancelled[-1]["data"]["reason"] == "offer_withdrawn"
    body = await status_of(flow, second, open_id, "cancelled")
    assert body["reason"] == "offer_withdrawn"
    explained = await flow.matching.get(
        f"/v1/needs/{open_need['id']}/candidates", headers=second.headers
    )
    assert explained.json()["items"] == []


async def two_vans(flow: Flow, territory: Territory) -> tuple[dict[str, Any], dict[str, Any]]:
    """A best van in Die and a lesser one (dearer, busier) a few km away, both 12 m³."""
    stack = flow.stack
    best_owner = await new_member(stack, territory, name="Frigo Diois")
    other_owner = await new_member(stack, territory, name="Transports Saillans")
    best = await offer(stack, best_owner, (await declare(stack, best_owner))["id"])
    near = {"lat": 44.7000, "lon": 5.3000, "commune": "Saillans"}  # about 8 km away
    other_asset = await declare(stack, other_owner, location=near, idle_share=0.1)
    other = await offer(
        stack, other_owner, other_asset["id"], price={"model": "per_use", "unit_price": 39}
    )
    await indexed(flow, offer_id=best["id"])
    await indexed(flow, offer_id=other["id"])
    return {**best, "owner": best_owner}, {**other, "owner": other_owner}


async def test_declining_proposes_the_next_candidate(flow: Flow, territory: Territory) -> None:
    await adopt_policy(flow, territory, top_k=1)
    best, other = await two_vans(flow, territory)
    association = await new_member(flow.stack, territory, kind="association", name="Paniers")
    requested = await need(flow.stack, association)
    [first] = await proposals_for(flow, requested["id"])
    assert first["data"]["offer_id"] == best["id"]

    declined = await flow.matching.post(
        f"/v1/matches/{first['data']['match_id']}/decline",
        json={"reason": "trop cher"},
        headers=association.headers,
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "declined" and declined.json()["reason"] == "trop cher"

    proposals = await proposals_for(flow, requested["id"], until=2)
    assert [p["data"]["offer_id"] for p in proposals] == [best["id"], other["id"]]
    events = await match_events(flow, match_id=first["data"]["match_id"], until=2)
    assert events[-1]["type"] == "mcvt.match.declined.v1"
    assert events[-1]["data"]["by"] == "requester"

    # The requester's matches, a page at a time, newest first; or only the declined ones.
    headers = association.headers
    page = (await flow.matching.get("/v1/matches?limit=1", headers=headers)).json()
    assert [m["offer_id"] for m in page["items"]] == [other["id"]]
    cursor = page["next_cursor"]
    rest = (await flow.matching.get(f"/v1/matches?limit=1&cursor={cursor}", headers=headers)).json()
    assert [m["offer_id"] for m in rest["items"]] == [best["id"]] and rest["next_cursor"] is None
    declined_only = await flow.matching.get("/v1/matches?status=declined", headers=headers)
    assert [m["status"] for m in declined_only.json()["items"]] == ["declined"]
    bad = await flow.matching.get("/v1/matches?cursor=nope", headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


async def test_concurrent_confirmations_of_the_last_capacity_one_wins_one_gets_409(
    flow: Flow, territory: Territory
) -> None:
    await adopt_policy(flow, territory, top_k=1)
    best, other = await two_vans(flow, territory)
    provider = best["owner"]
    requesters = [
        await new_member(flow.stack, territory, kind="association", name=name)
        for name in ("Paniers", "Épicerie")
    ]
    needs = [await need(flow.stack, r) for r in requesters]  # 8 m³ each, in 12 m³
    match_ids = []
    for requested in needs:
        [proposed] = await proposals_for(flow, requested["id"])
        assert proposed["data"]["offer_id"] == best["id"]
        match_ids.append(proposed["data"]["match_id"])
    for match_id in match_ids:
        assert (await accept(flow, provider, match_id)).status_code == 200

    responses = await asyncio.gather(
        *(accept(flow, r, m) for r, m in zip(requesters, match_ids, strict=True))
    )
    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
    loser = next(i for i, r in enumerate(responses) if r.status_code == 409)
    winner = 1 - loser
    assert responses[loser].headers["content-type"] == "application/problem+json"
    assert responses[winner].json()["status"] == "confirmed"
    lost = await status_of(flow, requesters[loser], match_ids[loser], "cancelled")
    assert lost["reason"] == "capacity_taken"

    rematched = await proposals_for(flow, needs[loser]["id"], until=2)
    assert [p["data"]["offer_id"] for p in rematched] == [best["id"], other["id"]]
    confirmed = await flow.pool.fetchval(
        "SELECT count(*) FROM matches WHERE offer_id = $1 AND status = 'confirmed'", best["id"]
    )
    assert confirmed == 1


async def test_a_proposal_expires_after_the_policy_s_time_to_live(
    flow: Flow, territory: Territory
) -> None:
    await adopt_policy(flow, territory, top_k=1, ttl_hours=1.5 / 3600)
    best, other = await two_vans(flow, territory)
    association = await new_member(flow.stack, territory, kind="association", name="Paniers")
    requested = await need(flow.stack, association)
    [first] = await proposals_for(flow, requested["id"])

    expired = await match_events(
        flow, type_="mcvt.match.expired.v1", match_id=first["data"]["match_id"]
    )
    assert expired[-1]["data"]["status"] == "expired"
    proposals = await proposals_for(flow, requested["id"], until=2)
    assert [p["data"]["offer_id"] for p in proposals][:2] == [best["id"], other["id"]]

    async def expired_in_database() -> bool:
        status = await flow.pool.fetchval(
            "SELECT status FROM matches WHERE id = $1::uuid", first["data"]["match_id"]
        )
        return bool(status == "expired")

    await eventually(expired_in_database)


async def test_suspending_the_provider_cancels_its_open_matches(
    flow: Flow, territory: Territory
) -> None:
    stack = flow.stack
    business = await new_member(stack, territory, name="Frigo Diois")
    association = await new_member(stack, territory, kind="association", name="Paniers")
    published = await offer(stack, business, (await declare(stack, business))["id"])
    await indexed(flow, offer_id=published["id"])
    requested = await need(stack, association)
    match_id = (await proposals_for(flow, requested["id"]))[0]["data"]["match_id"]

    # Hold the offers service's own reaction (pausing the offer, whose event would cancel the
    # match too): its handler waits on the outbox table until the lock is released, so only
    # matching's reaction to the actor's suspension can cancel the match meanwhile.
    async with stack.pool("offers").acquire() as offers, offers.transaction():
        await offers.execute("LOCK TABLE outbox IN SHARE MODE")
        suspended = await stack.actors.post(
            f"/v1/actors/{business.id}/suspend",
            json={"reason": "cotisation impayée"},
            headers=territory.facilitator.headers,
        )
        assert suspended.status_code == 200, suspended.text
        events = await match_events(flow, type_="mcvt.match.cancelled.v1", match_id=match_id)
    [suspension] = [
        e
        for e in await events_for(stack, "mcvt.actors", business.id, until=1, type_=SUSPENDED)
        if e["type"] == SUSPENDED
    ]
    [cancelled] = [e for e in events if e["type"] == "mcvt.match.cancelled.v1"]
    assert cancelled["data"]["reason"] == "actor_suspended"
    assert cancelled["causationid"] == suspension["id"]
    body = await status_of(flow, association, match_id, "cancelled")
    assert body["reason"] == "actor_suspended"

    # Once matching has applied the offer's pause as well, the match was still cancelled once.
    paused = await events_for(stack, "mcvt.offers", published["id"], until=1, type_=PAUSED)
    [pause] = [e for e in paused if e["type"] == PAUSED]

    async def pause_applied() -> bool:
        return bool(
            await flow.pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", pause["id"])
        )

    await eventually(pause_applied)
    events = await match_events(flow, type_="mcvt.match.cancelled.v1", match_id=match_id)
    assert len([e for e in events if e["type"] == "mcvt.match.cancelled.v1"]) == 1
    accepted = await accept(flow, association, match_id)
    assert accepted.status_code == 409


async def test_an_acceptance_waits_for_the_territory_s_lock(
    flow: Flow, territory: Territory
) -> None:
    """A confirmation ends proposals of other offers and needs: it takes the territory's lock
    first, as the proposers do, or two confirmations (or a confirmation and a proposer) taking
    each other's match rows in opposite orders deadlock, and the loser's caller gets a 500."""
    await adopt_policy(flow, territory, top_k=1)
    best, _ = await two_vans(flow, territory)
    requester = await new_member(flow.stack, territory, kind="association", name="Paniers")
    requested = await need(flow.stack, requester)
    [proposed] = await proposals_for(flow, requested["id"])
    match_id = proposed["data"]["match_id"]
    assert (await accept(flow, best["owner"], match_id)).status_code == 200

    async with flow.pool.acquire() as conn, conn.transaction():
        await ownership.lock(conn, territory.id)
        confirming = asyncio.create_task(accept(flow, requester, match_id))
        await asyncio.sleep(1.0)
        assert not confirming.done()  # held behind the territory's lock
    confirmed = await asyncio.wait_for(confirming, 30)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
