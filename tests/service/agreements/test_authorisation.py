"""Only the parties see and act on an agreement; a facilitator of its territory reads it."""

from __future__ import annotations

from datetime import datetime

from tests.harness import Stack
from tests.scenario import Territory, new_member, new_territory
from tests.service.agreements.steps import (
    Clock,
    activate,
    agreements,
    make_deal,
    report,
    sign,
)


async def outbox_size(stack: Stack) -> int:
    return int(await stack.pool("agreements").fetchval("SELECT count(*) FROM outbox"))


async def test_a_third_actor_neither_sees_nor_acts_and_nothing_is_published(
    stack: Stack, territory: Territory, clock: Clock
) -> None:
    deal = await make_deal(stack, territory)
    stranger = await new_member(stack, territory, kind="association", name="Voisins")
    elsewhere = await new_territory(stack)
    before = await outbox_size(stack)
    client = agreements(stack)
    base = f"/v1/agreements/{deal.id}"
    for member in (stranger, elsewhere.facilitator):
        assert (await client.get(base, headers=member.headers)).status_code == 404
        assert (await sign(stack, member, deal)).status_code == 404
        for path in ("/convention", "/usage", "/statements", "/statements.csv"):
            assert (await client.get(base + path, headers=member.headers)).status_code == 404
        terminated = await client.post(
            base + "/terminate", json={"reason": "non"}, headers=member.headers
        )
        assert terminated.status_code == 404
        listed = await client.get("/v1/agreements", headers=member.headers)
        assert deal.id not in [a["id"] for a in listed.json()["items"]]
    assert await outbox_size(stack) == before

    facilitator = territory.facilitator
    assert (await client.get(base, headers=facilitator.headers)).status_code == 200
    assert (await sign(stack, facilitator, deal)).status_code == 403
    assert await outbox_size(stack) == before

    active = await activate(stack, clock, deal)
    start = datetime.fromisoformat(active["starts_at"])
    assert (await report(stack, stranger, deal, start, 1)).status_code == 404
    assert (await report(stack, facilitator, deal, start, 1)).status_code == 403


async def test_a_party_signs_once(stack: Stack, territory: Territory) -> None:
    deal = await make_deal(stack, territory)
    assert (await sign(stack, deal.provider, deal)).status_code == 200
    again = await sign(stack, deal.provider, deal)
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "terms_version"
    wrong = await sign(stack, deal.beneficiary, deal, version=2)
    assert wrong.status_code == 409, wrong.text
    stale = await agreements(stack).post(
        f"/v1/agreements/{deal.id}/sign",
        json={"terms_version": 1, "terms_hash": "0" * 64},
        headers=deal.beneficiary.headers,
    )
    assert stale.status_code == 409 and stale.json()["errors"][0]["field"] == "terms_hash"
    rows = await stack.pool("agreements").fetchval(
        "SELECT count(*) FROM signatures WHERE agreement_id = $1::uuid", deal.id
    )
    assert rows == 1
