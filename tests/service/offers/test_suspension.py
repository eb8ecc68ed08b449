"""Suspending an actor at the actors service pauses its offers and withdraws its needs, through the
real broker: actors' outbox relay → mcvt.actors → offers' consumer → offers' outbox → topics."""

from __future__ import annotations

import uuid

from contracts.actors import ActorRegisteredV1
from contracts.envelope import new_event
from tests.scenario import (
    declare,
    events_for,
    known_to_offers,
    need,
    new_member,
    offer,
    types,
    van,
)
from tests.support import eventually, produce


async def test_suspension_cascades_to_offers_and_needs(stack, territory) -> None:
    business = await new_member(stack, territory, name="Frigo Diois")
    bystander = await new_member(stack, territory, kind="association", name="Paniers")
    asset = await declare(stack, business)
    first = await offer(stack, business, asset["id"])
    second = await offer(stack, business, asset["id"], title="Deuxième offre")
    draft = await offer(stack, business, asset["id"], publish=False)
    paused = await offer(stack, business, asset["id"], title="Déjà en pause")
    await stack.offers.post(f"/v1/offers/{paused['id']}/pause", headers=business.headers)
    own_need = await need(stack, business)
    fulfilled = await need(stack, business)
    await stack.offers.post(f"/v1/needs/{fulfilled['id']}/fulfil", headers=business.headers)
    other_need = await need(stack, bystander)

    suspended = await stack.actors.post(
        f"/v1/actors/{business.id}/suspend",
        json={"reason": "fraude"},
        headers=territory.facilitator.headers,
    )
    assert suspended.status_code == 200, suspended.text
    actor_events = await events_for(
        stack, "mcvt.actors", business.id, until=1, type_="mcvt.actor.suspended.v1"
    )
    suspension = next(e for e in actor_events if e["type"] == "mcvt.actor.suspended.v1")
    # Who did it travels with the flow: the facilitator's request began it.
    assert suspension["actorid"] == territory.facilitator.id

    for published in (first, second):
        events = await events_for(stack, "mcvt.offers", published["id"], until=2)
        assert types(events) == ["mcvt.offer.published.v1", "mcvt.offer.paused.v1"]
        pause = events[1]
        assert pause["causationid"] == suspension["id"]
        assert pause["correlationid"] == suspension["correlationid"]
        assert pause["actorid"] == territory.facilitator.id
        assert pause["data"]["status"] == "paused" and pause["data"]["version"] == 2
        assert pause["data"]["paused_by"] is None
        assert pause["data"]["reason"] == "provider suspended: fraude"
    events = await events_for(stack, "mcvt.needs", own_need["id"], until=2)
    assert types(events) == ["mcvt.need.published.v1", "mcvt.need.withdrawn.v1"]
    assert events[1]["causationid"] == suspension["id"]
    assert events[1]["actorid"] == territory.facilitator.id
    assert events[1]["data"]["withdrawn_by"] is None
    assert events[1]["data"]["reason"] == "requester suspended: fraude"

    # Only live aggregates of the suspended actor were touched, each once.
    for untouched, topic, expected in [
        (draft, "mcvt.offers", ["mcvt.offer.drafted.v1"]),
        (paused, "mcvt.offers", ["mcvt.offer.published.v1", "mcvt.offer.paused.v1"]),
        (fulfilled, "mcvt.needs", ["mcvt.need.published.v1", "mcvt.need.fulfilled.v1"]),
        (other_need, "mcvt.needs", ["mcvt.need.published.v1"]),
    ]:
        assert (
            types(await events_for(stack, topic, untouched["id"], until=len(expected))) == expected
        )
    for url, status in [
        (f"/v1/offers/{first['id']}", "paused"),
        (f"/v1/offers/{second['id']}", "paused"),
        (f"/v1/offers/{draft['id']}", "draft"),
        (f"/v1/needs/{own_need['id']}", "withdrawn"),
        (f"/v1/needs/{other_need['id']}", "open"),
    ]:
        response = await stack.offers.get(url, headers=territory.facilitator.headers)
        assert response.json()["status"] == status, url

    # Its token is still unexpired, but the suspended actor changes nothing here any more.
    await known_to_offers(stack, business.id, "suspended")
    refused = [
        await stack.offers.post("/v1/assets", json=van(), headers=business.headers),
        await stack.offers.post(f"/v1/offers/{first['id']}/publish", headers=business.headers),
    ]
    assert [r.status_code for r in refused] == [403, 403]

    # Reinstated, it resumes its offers itself.
    reinstated = await stack.actors.post(
        f"/v1/actors/{business.id}/reinstate", headers=territory.facilitator.headers
    )
    assert reinstated.status_code == 200
    await known_to_offers(stack, business.id, "active")
    resumed = await stack.offers.post(f"/v1/offers/{first['id']}/publish", headers=business.headers)
    assert resumed.status_code == 200 and resumed.json()["version"] == 3


async def test_late_and_repeated_actor_events_change_nothing(stack, territory) -> None:
    business = await new_member(stack, territory)  # registered (v1) then admitted (v2)
    stale = ActorRegisteredV1(
        actor_id=business.id,
        territory_id=territory.id,
        kind="business",
        name="Frigo Diois",
        status="pending",
        version=1,
    )
    late = new_event(stale, subject=business.id, territory=territory.id, source="/mcvt/actors")
    raw = late.model_dump_json().encode()
    await produce(stack.kafka, "mcvt.actors", raw, key=business.id.encode())

    async def consumed() -> bool:
        return bool(
            await stack.pool("offers").fetchval(
                "SELECT true FROM inbox WHERE event_id = $1", late.id
            )
        )

    await eventually(consumed)
    row = await stack.pool("offers").fetchrow(
        "SELECT status, version FROM actors WHERE actor_id = $1", uuid.UUID(business.id)
    )
    assert (row["status"], row["version"]) == ("active", 2)
    asset = await declare(stack, business)  # still allowed: the late event did not demote it
    assert asset["version"] == 1
