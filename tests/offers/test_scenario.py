"""The issue's resolution: a refrigerated van offered per use, a need for it, both as events."""

from __future__ import annotations

import uuid
from typing import Any

from services.offers.handlers import fulfil_need_by_agreement
from services.runtime.context import Context
from tests.offers.conftest import (
    DIE,
    SATURDAY,
    declare,
    events_for,
    need,
    new_member,
    offer,
    types,
)


def rebuild(events: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    """What a consumer keeps from a topic: the newest version of each aggregate's state."""
    listing: dict[str, dict[str, Any]] = {}
    for event in events:
        state = event["data"]
        known = listing.get(state[key])
        if known is None or state["version"] > known["version"]:
            listing[state[key]] = state
    return listing


async def test_van_offered_per_use_and_requested_both_rebuildable_from_events(
    stack, territory
) -> None:
    business = await new_member(stack, territory, kind="business", name="Frigo Diois")
    association = await new_member(stack, territory, kind="association", name="Paniers Solidaires")

    asset = await declare(stack, business)
    assert asset["category"] == "refrigerated_van" and asset["version"] == 1
    offered = await offer(stack, business, asset["id"])
    assert offered["status"] == "published" and offered["price"]["currency"] == "EUR"
    assert offered["asset"]["id"] == asset["id"]

    requested = await need(
        stack,
        association,
        title="Un fourgon frigorifique, samedi de 8 h à 12 h, à 15 km, 40 € max par usage",
    )
    assert requested["status"] == "open" and requested["requester_kind"] == "association"
    assert requested["location"] == DIE  # defaulted from the association's own location

    offer_events = await events_for(stack, "mcvt.offers", offered["id"], until=1)
    asset_events = await events_for(stack, "mcvt.offers", asset["id"], until=1)
    need_events = await events_for(stack, "mcvt.needs", requested["id"], until=1)
    assert types(offer_events) == ["mcvt.offer.published.v1"]
    assert types(asset_events) == ["mcvt.asset.declared.v1"]
    assert types(need_events) == ["mcvt.need.published.v1"]

    published = offer_events[0]
    assert published["territory"] == territory.id and published["source"] == "/mcvt/offers"
    state = published["data"]
    assert state["offer_id"] == offered["id"] and state["provider_id"] == business.id
    assert state["status"] == "published" and state["version"] == 1
    assert state["price"] == {"model": "per_use", "unit_price": 35.0, "currency": "EUR"}
    assert [(i["name"], i["comparator"], i["target"]) for i in state["performance"]] == [
        ("availability", "gte", 95.0),
        ("temperature", "lte", 4.0),
        ("ready_within", "lte", 2.0),
    ]
    assert state["eligible_requester_kinds"] == ["association"]
    assert state["max_distance_km"] == 25
    assert state["description"].startswith("Fourgon frigorifique avec chauffeur")
    assert state["valid_from"] and state["valid_to"]
    snapshot = state["asset"]
    assert snapshot["asset_id"] == asset["id"] and snapshot["version"] == 1
    assert (snapshot["category"], snapshot["capacity"], snapshot["unit"]) == (
        "refrigerated_van",
        12,
        "m3",
    )
    assert snapshot["features"] == ["refrigerated", "tail_lift"]
    assert snapshot["location"] == DIE
    assert snapshot["availability"]["weekly"] == [
        {"weekday": SATURDAY, "start_minute": 420, "end_minute": 780}
    ]
    assert snapshot["availability"]["closures"] == [
        {"start": "2026-12-24T00:00:00", "end": "2026-12-26T00:00:00"}
    ]
    assert snapshot["idle_share"] == 0.8

    wanted = need_events[0]["data"]
    assert wanted["requester_id"] == association.id and wanted["requester_kind"] == "association"
    assert (wanted["category"], wanted["quantity"], wanted["unit"]) == ("refrigerated_van", 8, "m3")
    assert wanted["weekly_windows"] == [
        {"weekday": SATURDAY, "start_minute": 480, "end_minute": 720}
    ]
    assert wanted["min_duration_minutes"] == 240
    assert wanted["max_distance_km"] == 15 and wanted["location"] == DIE
    assert wanted["budget"] == {
        "max_unit_price": 40.0,
        "accepted_price_models": ["per_use"],
        "accepts_time_credits": False,
    }
    assert wanted["required_features"] == ["refrigerated"]
    assert wanted["status"] == "open" and wanted["version"] == 1 and wanted["expires_at"]

    # A consumer that saw only the events lists what the API lists, field for field.
    offers_page = await stack.offers.get("/v1/offers", headers=association.headers)
    needs_page = await stack.offers.get("/v1/needs", headers=business.headers)
    from_events = rebuild(offer_events, "offer_id")
    listed = {item["id"]: item for item in offers_page.json()["items"]}
    assert set(listed) == set(from_events)
    for offer_id, item in listed.items():
        rebuilt = from_events[offer_id]
        for field in ("title", "description", "status", "version", "performance", "price"):
            assert rebuilt[field] == item[field], field
        assert rebuilt["asset"]["location"] == item["asset"]["location"]
        assert rebuilt["asset"]["availability"] == item["asset"]["availability"]
    from_events = rebuild(need_events, "need_id")
    listed = {item["id"]: item for item in needs_page.json()["items"]}
    assert set(listed) == set(from_events)
    for need_id, item in listed.items():
        rebuilt = from_events[need_id]
        for field in (
            "category",
            "quantity",
            "unit",
            "weekly_windows",
            "budget",
            "version",
            "urgency",
        ):
            assert rebuilt[field] == item[field], field


async def test_every_change_bumps_the_version_and_publishes_the_full_state(
    stack, territory
) -> None:
    business = await new_member(stack, territory)
    asset = await declare(stack, business)
    offered = await offer(stack, business, asset["id"])

    changed = await stack.offers.patch(
        f"/v1/offers/{offered['id']}",
        json={"price": {"model": "per_use", "unit_price": 30}, "max_distance_km": 30},
        headers=business.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2

    unchanged = await stack.offers.patch(
        f"/v1/offers/{offered['id']}", json={"max_distance_km": 30}, headers=business.headers
    )
    assert unchanged.json()["version"] == 2  # nothing changed: no new version, no event

    moved = await stack.offers.patch(
        f"/v1/assets/{asset['id']}",
        json={"capacity": 10, "idle_share": 0.9},
        headers=business.headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["version"] == 2

    paused = await stack.offers.post(f"/v1/offers/{offered['id']}/pause", headers=business.headers)
    resumed = await stack.offers.post(
        f"/v1/offers/{offered['id']}/publish", headers=business.headers
    )
    withdrawn = await stack.offers.post(
        f"/v1/offers/{offered['id']}/withdraw", json={"reason": "vendu"}, headers=business.headers
    )
    assert [r.json()["status"] for r in (paused, resumed, withdrawn)] == [
        "paused",
        "published",
        "withdrawn",
    ]
    again = await stack.offers.post(f"/v1/offers/{offered['id']}/publish", headers=business.headers)
    assert again.status_code == 409

    events = await events_for(stack, "mcvt.offers", offered["id"], until=6)
    assert types(events) == [
        "mcvt.offer.published.v1",
        "mcvt.offer.updated.v1",
        "mcvt.offer.updated.v1",
        "mcvt.offer.paused.v1",
        "mcvt.offer.published.v1",
        "mcvt.offer.withdrawn.v1",
    ]
    assert [e["data"]["version"] for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[1]["data"]["changed"] == ["max_distance_km", "price"]
    assert events[1]["data"]["price"]["unit_price"] == 30
    # The asset change reaches the offer's consumers through the offer's own events.
    assert events[2]["data"]["changed"] == ["asset"]
    assert events[2]["data"]["asset"]["capacity"] == 10
    assert events[2]["data"]["asset"]["version"] == 2
    assert events[3]["data"]["paused_by"] == business.id
    assert (
        events[5]["data"]["withdrawn_by"] == business.id and events[5]["data"]["reason"] == "vendu"
    )
    asset_events = await events_for(stack, "mcvt.offers", asset["id"], until=2)
    assert types(asset_events) == ["mcvt.asset.declared.v1", "mcvt.asset.updated.v1"]
    assert asset_events[1]["data"]["changed"] == ["capacity", "idle_share"]


async def test_a_draft_is_announced_then_published(stack, territory) -> None:
    business = await new_member(stack, territory)
    asset = await declare(stack, business)
    drafted = await offer(stack, business, asset["id"], publish=False)
    assert drafted["status"] == "draft"
    published = await stack.offers.post(
        f"/v1/offers/{drafted['id']}/publish", headers=business.headers
    )
    assert published.status_code == 200 and published.json()["status"] == "published"
    events = await events_for(stack, "mcvt.offers", drafted["id"], until=2)
    assert types(events) == ["mcvt.offer.drafted.v1", "mcvt.offer.published.v1"]
    assert [e["data"]["status"] for e in events] == ["draft", "published"]


async def test_needs_change_and_are_fulfilled_by_their_requester(stack, territory) -> None:
    association = await new_member(stack, territory, kind="association", name="Repair Café")
    requested = await need(stack, association)
    changed = await stack.offers.patch(
        f"/v1/needs/{requested['id']}",
        json={
            "urgency": "high",
            "budget": {"max_unit_price": 45, "accepted_price_models": ["per_use", "free"]},
        },
        headers=association.headers,
    )
    assert changed.status_code == 200, changed.text
    fulfilled = await stack.offers.post(
        f"/v1/needs/{requested['id']}/fulfil",
        json={"agreement_id": "agr-1"},
        headers=association.headers,
    )
    assert fulfilled.status_code == 200 and fulfilled.json()["status"] == "fulfilled"
    twice = await stack.offers.post(
        f"/v1/needs/{requested['id']}/fulfil", headers=association.headers
    )
    assert twice.status_code == 409
    events = await events_for(stack, "mcvt.needs", requested["id"], until=3)
    assert types(events) == [
        "mcvt.need.published.v1",
        "mcvt.need.updated.v1",
        "mcvt.need.fulfilled.v1",
    ]
    assert events[1]["data"]["changed"] == ["budget", "urgency"]
    assert events[2]["data"]["fulfilled_by"] == association.id
    assert events[2]["data"]["agreement_id"] == "agr-1"
    assert [e["data"]["version"] for e in events] == [1, 2, 3]


async def test_an_agreement_marks_a_need_fulfilled_once(stack, territory) -> None:
    association = await new_member(stack, territory, kind="association", name="Paniers")
    requested = await need(stack, association)
    ctx = Context("/mcvt/offers", correlation_id="flow-agr-7", causation_id="agreement-event-7")
    for expected in ("fulfilled", None):  # the second delivery finds the need fulfilled already
        async with stack.offers_pool.acquire() as conn, conn.transaction():
            done = await fulfil_need_by_agreement(conn, uuid.UUID(requested["id"]), "agr-7", ctx)
        assert (done.status if done else None) == expected
    events = await events_for(stack, "mcvt.needs", requested["id"], until=2)
    assert types(events) == ["mcvt.need.published.v1", "mcvt.need.fulfilled.v1"]
    fulfilled = events[1]
    assert (
        fulfilled["data"]["agreement_id"] == "agr-7" and fulfilled["data"]["fulfilled_by"] is None
    )
    assert fulfilled["causationid"] == "agreement-event-7"
    assert fulfilled["correlationid"] == "flow-agr-7"
