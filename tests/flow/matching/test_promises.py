"""The marketplace keeps its promises: a confirmed booking holds through every change until a
party cancels it, a need's status follows its matches, an offer is proposed only inside its
validity, and a facilitator pairs by hand what the engine left alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.flow.matching.steps import (
    Flow,
    accept,
    indexed,
    match_events,
    proposals_for,
    status_of,
)
from tests.scenario import SATURDAY, Member, Territory, declare, need, new_member, offer
from tests.support import eventually


def paris(day: date, hour: int, minute: int = 0) -> str:
    """A wall-clock time of the territory, with its offset, as the API takes date-times."""
    return datetime.combine(day, time(hour, minute), ZoneInfo("Europe/Paris")).isoformat()


async def _need_status(flow: Flow, member: Member, need_id: str, status: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        response = await flow.stack.offers.get(f"/v1/needs/{need_id}", headers=member.headers)
        assert response.status_code == 200, response.text
        body = dict(response.json())
        return body if body["status"] == status else None

    return dict(await eventually(check))


def _refused(response: httpx.Response, match_id: str) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert match_id in response.json()["detail"]


async def _confirmed(flow: Flow, business: Member, association: Member, need_id: str) -> str:
    match_id = str((await proposals_for(flow, need_id))[0]["data"]["match_id"])
    for party in (association, business):
        response = await accept(flow, party, match_id)
        assert response.status_code == 200, response.text
    await status_of(flow, association, match_id, "confirmed")
    return match_id


async def test_a_confirmed_booking_holds_through_every_change_until_a_party_cancels_it(
    flow: Flow, territory: Territory
) -> None:
    stack = flow.stack
    business = await new_member(stack, territory, name="Frigo Diois")
    association = await new_member(stack, territory, kind="association", name="Paniers")
    neighbour = await new_member(stack, territory, kind="association", name="Voisins")
    asset = await declare(stack, business)
    published = await offer(stack, business, asset["id"])
    await indexed(flow, offer_id=published["id"])
    requested = await need(stack, association)
    match_id = await _confirmed(flow, business, association, requested["id"])

    # The need follows its match: matched, and no longer among the open needs others see.
    await _need_status(flow, association, requested["id"], "matched")
    listed = await stack.offers.get("/v1/needs?status=open", headers=neighbour.headers)
    assert requested["id"] not in [n["id"] for n in listed.json()["items"]]

    offers, headers = stack.offers, business.headers
    asset_url, offer_url = f"/v1/assets/{asset['id']}", f"/v1/offers/{published['id']}"
    _refused(await offers.patch(asset_url, json={"capacity": 6}, headers=headers), match_id)
    sunday = {"weekly": [{"weekday": 6, "start_minute": 420, "end_minute": 780}]}
    moved = await offers.patch(asset_url, json={"availability": sunday}, headers=headers)
    _refused(moved, match_id)
    closing = datetime.now(UTC).date() + timedelta(
        days=(SATURDAY - datetime.now(UTC).weekday()) % 7 + 7
    )
    closed: dict[str, Any] = {
        "weekly": [{"weekday": SATURDAY, "start_minute": 420, "end_minute": 780}],
        "closures": [{"start": paris(closing, 0, 0), "end": paris(closing, 23, 59)}],
    }
    _refused(
        await offers.patch(asset_url, json={"availability": closed}, headers=headers), match_id
    )
    _refused(await offers.post(f"{offer_url}/pause", headers=headers), match_id)
    _refused(await offers.post(f"{offer_url}/withdraw", headers=headers), match_id)
    repriced = {"price": {"model": "per_use", "unit_price": 50}}
    _refused(await offers.patch(offer_url, json=repriced, headers=headers), match_id)
    need_url = f"/v1/needs/{requested['id']}"
    more = await offers.patch(need_url, json={"quantity": 10}, headers=association.headers)
    _refused(more, match_id)
    friday = {"weekly_windows": [{"weekday": 4, "start_minute": 480, "end_minute": 720}]}
    _refused(await offers.patch(need_url, json=friday, headers=association.headers), match_id)
    _refused(await offers.post(f"{need_url}/withdraw", headers=association.headers), match_id)
    # What keeps the booking whole is allowed.
    bigger = await offers.patch(asset_url, json={"capacity": 20}, headers=headers)
    assert bigger.status_code == 200, bigger.text

    # Only a party ends the booking; then the need is open again and the asset free to change.
    outsider = await flow.matching.post(f"/v1/matches/{match_id}/cancel", headers=neighbour.headers)
    assert outsider.status_code == 404
    cancelled = await flow.matching.post(
        f"/v1/matches/{match_id}/cancel", headers=association.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    again = await flow.matching.post(f"/v1/matches/{match_id}/cancel", headers=business.headers)
    assert again.status_code == 409
    events = await match_events(flow, until=1, type_="mcvt.match.cancelled.v1", match_id=match_id)
    ended = next(e for e in events if e["type"] == "mcvt.match.cancelled.v1")["data"]
    assert (ended["reason"], ended["by"]) == ("by_party", "requester")
    await _need_status(flow, association, requested["id"], "open")

    async def shrinks() -> bool:
        response = await offers.patch(asset_url, json={"capacity": 6}, headers=headers)
        return response.status_code == 200

    await eventually(shrinks)


async def test_an_offer_is_proposed_only_for_needs_inside_its_validity(
    flow: Flow, territory: Territory
) -> None:
    stack = flow.stack
    business = await new_member(stack, territory, name="Frigo Diois")
    association = await new_member(stack, territory, kind="association", name="Paniers")
    now = datetime.now(UTC)
    short = await offer(
        stack, business, (await declare(stack, business))["id"],
        valid_to=(now + timedelta(days=2)).isoformat(),
    )  # fmt: skip
    spring = await offer(
        stack, business, (await declare(stack, business))["id"],
        valid_from=(now + timedelta(days=120)).isoformat(),
        valid_to=(now + timedelta(days=300)).isoformat(),
    )  # fmt: skip
    lasting = await offer(stack, business, (await declare(stack, business))["id"])
    for published in (short, spring, lasting):
        await indexed(flow, offer_id=published["id"])
    day = (now + timedelta(days=15)).date()
    day += timedelta(days=(SATURDAY - day.weekday()) % 7)
    window = {"start": paris(day, 8), "end": paris(day, 12)}
    requested = await need(stack, association, weekly_windows=[], dated_windows=[window])

    proposed = await proposals_for(flow, requested["id"])
    assert {p["data"]["offer_id"] for p in proposed} == {lasting["id"]}
    candidates = await flow.matching.get(
        f"/v1/needs/{requested['id']}/candidates", headers=association.headers
    )
    assert [c["offer_id"] for c in candidates.json()["items"]] == [lasting["id"]]


async def test_a_facilitator_lists_the_need_left_alone_and_pairs_it_by_hand(
    flow: Flow, territory: Territory
) -> None:
    stack = flow.stack
    facilitator = territory.facilitator
    business = await new_member(stack, territory, name="Frigo Diois")
    association = await new_member(stack, territory, kind="association", name="Paniers")
    asset = await declare(stack, business)
    published = await offer(stack, business, asset["id"])
    await indexed(flow, offer_id=published["id"])
    # 35 € per use is over this need's budget: the engine proposes nothing.
    budget = {"max_unit_price": 20, "accepted_price_models": ["per_use"]}
    requested = await need(stack, association, budget=budget)
    too_big = await need(stack, association, quantity=30, budget=budget)
    await indexed(flow, need_id=requested["id"])
    await indexed(flow, need_id=too_big["id"])

    unmatched = await flow.matching.get("/v1/needs/unmatched", headers=facilitator.headers)
    assert unmatched.status_code == 200, unmatched.text
    assert {n["need_id"] for n in unmatched.json()} == {requested["id"], too_big["id"]}
    members = await flow.matching.get("/v1/needs/unmatched", headers=association.headers)
    assert members.status_code == 403

    pair = {"need_id": requested["id"], "offer_id": published["id"]}
    by_member = await flow.matching.post("/v1/matches", json=pair, headers=business.headers)
    assert by_member.status_code == 403
    oversized = {"need_id": too_big["id"], "offer_id": published["id"]}
    refused = await flow.matching.post("/v1/matches", json=oversized, headers=facilitator.headers)
    assert refused.status_code == 409 and "capacity" in refused.json()["detail"]
    made = await flow.matching.post("/v1/matches", json=pair, headers=facilitator.headers)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["origin"] == "facilitator" and body["my_party"] is None
    assert "à la main" in body["explanation"] and body["status"] == "proposed"
    twice = await flow.matching.post("/v1/matches", json=pair, headers=facilitator.headers)
    assert twice.status_code == 409

    proposed = (await proposals_for(flow, requested["id"]))[0]["data"]
    assert proposed["origin"] == "facilitator" and proposed["match_id"] == body["id"]
    match_id = await _confirmed(flow, business, association, requested["id"])
    assert match_id == body["id"]
    seen = await flow.matching.get(f"/v1/matches/{match_id}", headers=association.headers)
    assert seen.json()["origin"] == "facilitator" and seen.json()["my_party"] == "requester"
    left = await flow.matching.get("/v1/needs/unmatched", headers=facilitator.headers)
    assert {n["need_id"] for n in left.json()} == {too_big["id"]}
