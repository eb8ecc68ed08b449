"""An agreement's life over HTTP: made from a confirmed match, signed, started, reported on."""

from __future__ import annotations

from tests.harness import Stack
from tests.scenario import Territory
from tests.service.agreements.steps import Clock, activate, make_deal, read


async def test_a_confirmed_match_becomes_a_draft_with_the_matched_terms(
    stack: Stack, territory: Territory
) -> None:
    deal = await make_deal(stack, territory)
    found = deal.agreement
    assert found["status"] == "draft" and found["approval"] == "not_required"
    assert found["provider_id"] == deal.provider.id
    assert found["beneficiary_id"] == deal.beneficiary.id
    [version] = found["versions"]
    terms = version["terms"]
    assert terms["price"] == {"model": "per_use", "unit_amount": 3500, "amount_unit": "eur_cents"}
    assert [i["name"] for i in terms["indicators"]] == [
        "availability",
        "temperature",
        "ready_within",
    ]
    assert terms["weekly_windows"] == deal.need["weekly_windows"]
    assert len(version["terms_hash"]) == 64
    assert (await read(stack, deal.beneficiary, deal))["id"] == deal.id


async def test_signed_by_both_it_starts_at_its_first_window(
    stack: Stack, territory: Territory, clock: Clock
) -> None:
    deal = await make_deal(stack, territory)
    active = await activate(stack, clock, deal)
    assert active["status"] == "active"
    assert {s["party"] for s in active["signatures"]} == {"provider", "beneficiary"}
