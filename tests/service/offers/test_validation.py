"""Bad input gets a 4xx problem naming the field at fault, and publishes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.scenario import (
    declare,
    need,
    need_for,
    new_member,
    offer,
    offer_on,
    outbox_count,
    van,
)

BACKWARDS_SLOT = {"weekday": 5, "start_minute": 600, "end_minute": 480}
BACKWARDS_WINDOW = {"start": "2026-07-04T12:00:00+02:00", "end": "2026-07-04T08:00:00+02:00"}
PAST = (datetime.now(UTC) - timedelta(days=1)).isoformat()


def fields(response: httpx.Response) -> list[str]:
    """Fields named by a problem response."""
    return [error["field"] for error in response.json().get("errors", [])]


ASSET_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown category", van(category="spaceship"), "category"),
    ("unit not fitting the category", van(unit="seat"), "unit"),
    ("zero capacity", van(capacity=0), "capacity"),
    ("negative capacity", van(capacity=-3), "capacity"),
    ("latitude out of range", van(location={"lat": 91, "lon": 5}), "location.lat"),
    ("longitude out of range", van(location={"lat": 44, "lon": -181}), "location.lon"),
    (
        "weekly slot ending before it starts",
        van(availability={"weekly": [BACKWARDS_SLOT]}),
        "availability.weekly.0.end_minute",
    ),
    (
        "closure ending before it starts",
        van(availability={"closures": [BACKWARDS_WINDOW]}),
        "availability.closures.0.end",
    ),
    ("idle share above 1", van(idle_share=1.5), "idle_share"),
    ("unknown field", van(colour="blue"), "colour"),
    (
        "unknown nested field",
        van(location={"lat": 44, "lon": 5, "altitude": 400}),
        "location.altitude",
    ),
]

OFFER_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown price model", {"price": {"model": "barter", "unit_price": 1}}, "price.model"),
    (
        "validity ending before it starts",
        {"valid_from": "2027-01-10T00:00:00+00:00", "valid_to": "2027-01-01T00:00:00+00:00"},
        "valid_to",
    ),
    ("validity already over", {"valid_to": PAST}, "valid_to"),
    ("free offer with a price", {"price": {"model": "free", "unit_price": 5}}, "price.unit_price"),
    (
        "time credits paid in euros",
        {"price": {"model": "time_credits", "unit_price": 2, "currency": "EUR"}},
        "price.currency",
    ),
    ("negative distance", {"max_distance_km": -1}, "max_distance_km"),
    (
        "unknown requester kind",
        {"eligible_requester_kinds": ["alien"]},
        "eligible_requester_kinds.0",
    ),
    ("unknown field", {"discount": 10}, "discount"),
]

NEED_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown category", need_for(category="spaceship"), "category"),
    ("unit not fitting the category", need_for(unit="seat"), "unit"),
    ("zero quantity", need_for(quantity=0), "quantity"),
    ("negative quantity", need_for(quantity=-2), "quantity"),
    (
        "weekly window ending before it starts",
        need_for(weekly_windows=[BACKWARDS_SLOT]),
        "weekly_windows.0.end_minute",
    ),
    (
        "dated window ending before it starts",
        need_for(dated_windows=[BACKWARDS_WINDOW]),
        "dated_windows.0.end",
    ),
    ("no window at all", need_for(weekly_windows=[]), "weekly_windows"),
    ("use longer than every window", need_for(min_duration_minutes=300), "min_duration_minutes"),
    ("latitude out of range", need_for(location={"lat": -95, "lon": 5}), "location.lat"),
    (
        "unknown accepted price model",
        need_for(budget={"accepted_price_models": ["barter"]}),
        "budget.accepted_price_models.0",
    ),
    ("expiry in the past", need_for(expires_at=PAST), "expires_at"),
    ("unknown field", need_for(colour="blue"), "colour"),
]


@pytest.fixture
async def member(stack, territory):
    return await new_member(stack, territory, kind="association", name="Validateurs")


@pytest.mark.parametrize(("case", "body", "field"), ASSET_CASES, ids=[c[0] for c in ASSET_CASES])
async def test_asset_declarations_are_validated(stack, member, case, body, field) -> None:
    before = await outbox_count(stack)
    response = await stack.offers.post("/v1/assets", json=body, headers=member.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in fields(response), response.text
    assert await outbox_count(stack) == before


@pytest.mark.parametrize(("case", "changes", "field"), OFFER_CASES, ids=[c[0] for c in OFFER_CASES])
async def test_offers_are_validated(stack, member, case, changes, field) -> None:
    asset = await declare(stack, member)
    before = await outbox_count(stack)
    response = await stack.offers.post(
        "/v1/offers", json=offer_on(asset["id"], **changes), headers=member.headers
    )
    assert response.status_code == 422, response.text
    assert field in fields(response), response.text
    assert await outbox_count(stack) == before


@pytest.mark.parametrize(("case", "body", "field"), NEED_CASES, ids=[c[0] for c in NEED_CASES])
async def test_needs_are_validated(stack, member, case, body, field) -> None:
    before = await outbox_count(stack)
    response = await stack.offers.post("/v1/needs", json=body, headers=member.headers)
    assert response.status_code == 422, response.text
    assert field in fields(response), response.text
    assert await outbox_count(stack) == before


async def test_changes_are_validated_like_creations(stack, member) -> None:
    asset = await declare(stack, member)
    offered = await offer(stack, member, asset["id"])
    requested = await need(stack, member)
    before = await outbox_count(stack)
    cases = [
        (f"/v1/assets/{asset['id']}", {"unit": "seat"}, "unit"),
        (f"/v1/assets/{asset['id']}", {"category": "meeting_room"}, "unit"),
        (f"/v1/assets/{asset['id']}", {"title": None}, "title"),
        (f"/v1/assets/{asset['id']}", {"capacity": 0}, "capacity"),
        (f"/v1/offers/{offered['id']}", {"price": {"model": "barter"}}, "price.model"),
        (f"/v1/offers/{offered['id']}", {"valid_to": PAST}, "valid_to"),
        (f"/v1/offers/{offered['id']}", {"asset_id": asset["id"]}, "asset_id"),
        (f"/v1/needs/{requested['id']}", {"category": "spaceship"}, "category"),
        (f"/v1/needs/{requested['id']}", {"quantity": -1}, "quantity"),
        (
            f"/v1/needs/{requested['id']}",
            {"weekly_windows": [BACKWARDS_SLOT]},
            "weekly_windows.0.end_minute",
        ),
    ]
    for url, body, field in cases:
        response = await stack.offers.patch(url, json=body, headers=member.headers)
        assert response.status_code == 422, (url, body, response.text)
        assert field in fields(response), (url, body, response.text)
    assert await outbox_count(stack) == before


async def test_listing_parameters_are_validated(stack, member) -> None:
    cases = [
        ({"category": "spaceship"}, "category"),
        ({"lat": 44.7, "radius_km": 10}, "lon"),
        ({"lat": 100, "lon": 5, "radius_km": 10}, "lat"),
        ({"limit": 101}, "limit"),
        ({"limit": 0}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"status": "sleeping"}, "status"),
    ]
    for path in ("/v1/offers", "/v1/needs"):
        for params, field in cases:
            response = await stack.offers.get(path, params=params, headers=member.headers)
            assert response.status_code == 422, (path, params, response.text)
            assert field in fields(response), (path, params, response.text)
