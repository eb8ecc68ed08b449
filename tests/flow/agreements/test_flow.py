"""From published offer and need to a completed agreement, over the real broker: the match, the
agreement, its signatures, usage, statement and impact, the need fulfilled, and the freed slot
proposed to another need."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from contracts.topics import Topic
from tests.flow.matching.steps import Flow, accept, indexed, proposals_for, status_of
from tests.harness import Stack
from tests.scenario import Member, Territory, declare, need, new_member, offer
from tests.service.agreements.steps import (
    Clock,
    Deal,
    activate,
    agreement_of,
    agreements,
    close_period,
    decide,
    deliveries,
    read,
    report,
    sign,
    status_is,
)
from tests.support import events_of, eventually, produce, read_topic

HOURLY_NEED: dict[str, Any] = {
    "budget": {"max_unit_price": 40, "accepted_price_models": ["per_hour"]},
}
HOURLY_OFFER: dict[str, Any] = {
    "price": {"model": "per_hour", "unit_price": 12},
    "clause": {"fixed_percent": 50, "variable_floor_percent": 20, "notice_days": 0},
}


def expiring(days: int) -> dict[str, Any]:
    return {**HOURLY_NEED, "expires_at": (datetime.now(UTC) + timedelta(days=days)).isoformat()}


async def confirmed_deal(flow: Flow, territory: Territory) -> tuple[Deal, dict[str, Any]]:
    """A van offered, a need for 8 of its 12 m³ matched and confirmed: its agreement."""
    stack = flow.stack
    business = await new_member(stack, territory, name="Frigo Diois")
    association = await new_member(stack, territory, kind="association", name="Paniers")
    asset = await declare(stack, business)
    offered = await offer(stack, business, asset["id"], **HOURLY_OFFER)
    await indexed(flow, offer_id=offered["id"])
    wanted = await need(stack, association, **expiring(20))
    [proposal] = await proposals_for(flow, wanted["id"])
    match_id = proposal["data"]["match_id"]
    for member in (business, association):
        assert (await accept(flow, member, match_id)).status_code == 200
    await status_of(flow, business, match_id, "confirmed")
    found = await agreement_of(stack, business, match_id)
    deal = Deal(territory, business, association, offered, wanted, match_id, found)
    return deal, asset


async def need_status(stack: Stack, member: Member, need_id: str) -> str:
    response = await stack.offers.get(f"/v1/needs/{need_id}", headers=member.headers)
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


async def money_exchanged(stack: Stack, deal: Deal) -> Decimal:
    response = await agreements(stack).get(
        f"/v1/territories/{deal.territory.id}/impact", headers=deal.provider.headers
    )
    assert response.status_code == 200, response.text
    found = [f for f in response.json()["totals"] if f["kind"] == "money_exchanged"]
    return Decimal(found[0]["amount"]) if found else Decimal(0)


async def test_an_agreement_from_match_to_completion_frees_the_slot_for_another_need(
    flow: Flow, territory: Territory, clock: Clock
) -> None:
    stack = flow.stack
    deal, asset = await confirmed_deal(flow, territory)
    assert deal.agreement["status"] == "draft"
    other = await new_member(stack, territory, kind="association", name="Épicerie solidaire")
    waiting = await need(stack, other, **expiring(40))  # 8 m³ more: the van has 4 left
    await indexed(flow, need_id=waiting["id"])
    pairs = "SELECT count(*) FROM matches WHERE need_id = $1"
    assert await flow.pool.fetchval(pairs, waiting["id"]) == 0  # no room while booked
    assert await money_exchanged(stack, deal) == 0

    active = await activate(stack, clock, deal)
    await eventually(
        lambda: _is(need_status(stack, deal.beneficiary, deal.need["id"]), "fulfilled")
    )

    start = datetime.fromisoformat(active["starts_at"])
    sent = await report(stack, deal.provider, deal, start, 4)
    assert sent.status_code == 201, sent.text
    assert (
        await decide(stack, deal.beneficiary, deal, sent.json()["id"], "confirm")
    ).status_code == 200

    async def measured() -> float | None:
        found = await stack.offers.get(f"/v1/assets/{asset['id']}", headers=deal.provider.headers)
        share: float | None = found.json()["measured_idle_share"]
        return share

    # The van opens 6 h each Saturday: 4 h used of the 24 h of the four weeks before.
    assert abs(await eventually(measured) - (1 - 4 / 24)) < 1e-3
    [statement] = await close_period(stack, clock, deal)
    # 4 h at 12 €, half fixed; no indicator measured, so the variable half falls to its floor.
    assert statement["total_amount"] == 2400 + 480
    assert await money_exchanged(stack, deal) == 2880

    while (await read(stack, deal.provider, deal))["status"] == "active":
        await close_period(stack, clock, deal)
    assert (await status_is(stack, deal, "completed"))["status"] == "completed"

    ended = await status_of(flow, deal.provider, deal.match_id, "ended")
    assert ended["status"] == "ended"
    [freed] = await proposals_for(flow, waiting["id"])
    assert freed["data"]["offer_id"] == deal.offer["id"]


async def _is(found: Any, expected: str) -> bool:
    return bool(await found == expected)


async def test_the_same_confirmation_delivered_again_makes_no_second_agreement(
    flow: Flow, territory: Territory
) -> None:
    stack = flow.stack
    deal, _ = await confirmed_deal(flow, territory)
    records = await read_topic(
        stack.kafka,
        Topic.MATCHES,
        until=lambda r: bool(events_of(r, subject=deal.match_id, type="mcvt.match.confirmed.v1")),
    )
    [raw] = [
        r.value
        for r in records
        if r.value and b"mcvt.match.confirmed.v1" in r.value and deal.match_id.encode() in r.value
    ]
    before = await deliveries(stack, "mcvt.match.confirmed.v1")
    await produce(stack.kafka, Topic.MATCHES, raw, key=deal.match_id.encode())
    await eventually(
        lambda: _at_least(deliveries(stack, "mcvt.match.confirmed.v1"), before + 1), timeout=30
    )
    count = await stack.pool("agreements").fetchval(
        "SELECT count(*) FROM agreements WHERE match_id = $1::uuid", deal.match_id
    )
    assert count == 1


async def _at_least(count: Any, expected: float) -> bool:
    return bool(await count >= expected)


async def test_an_amendment_the_asset_cannot_take_is_refused_one_it_can_is_rebooked(
    flow: Flow, territory: Territory, clock: Clock
) -> None:
    stack = flow.stack
    deal, _ = await confirmed_deal(flow, territory)
    await activate(stack, clock, deal)
    path = f"/v1/agreements/{deal.id}/amendments"
    too_much = await agreements(stack).post(
        path, json={"quantity": 13}, headers=deal.beneficiary.headers
    )
    assert too_much.status_code == 409, too_much.text
    assert too_much.json()["errors"][0]["field"] == "quantity"

    more = await agreements(stack).post(
        path, json={"quantity": 10}, headers=deal.beneficiary.headers
    )
    assert more.status_code == 201, more.text
    assert more.json()["pending_version"] == 2 and more.json()["terms_version"] == 1
    for member in (deal.beneficiary, deal.provider):
        assert (await sign(stack, member, deal, version=2)).status_code == 200
    amended = await read(stack, deal.provider, deal)
    assert amended["terms_version"] == 2 and amended["pending_version"] is None
    assert [v["terms"]["quantity"] for v in amended["versions"]] == [8, 10]

    async def rebooked() -> bool:
        quantity = await flow.pool.fetchval(
            "SELECT quantity FROM matches WHERE id = $1::uuid", deal.match_id
        )
        return bool(quantity == 10)

    await eventually(rebooked)
