"""Usage reports, their confirmation or dispute, and the statement of a closed period."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.harness import Stack
from tests.scenario import Territory, new_member
from tests.service.agreements.steps import (
    Clock,
    activate,
    agreements,
    close_period,
    decide,
    fields,
    make_deal,
    report,
)

HOURLY: dict[str, Any] = {
    "price": {"model": "per_hour", "unit_price": 12},
    "clause": {
        "fixed_percent": 50,
        "variable_floor_percent": 20,
        "variable_cap_percent": 100,
        "tolerances": {"temperature": 0.5},
    },
}


async def test_confirmed_usage_is_evaluated_and_stated_disputed_usage_is_not(
    stack: Stack, territory: Territory, clock: Clock
) -> None:
    deal = await make_deal(stack, territory, offer_fields=HOURLY)
    active = await activate(stack, clock, deal)
    start = datetime.fromisoformat(active["starts_at"])
    measured = {"availability": "96", "temperature": "4.4", "ready_within": "3"}
    first = await report(stack, deal.provider, deal, start, 4, measurements=measured)
    assert first.status_code == 201, first.text
    confirmed = await decide(stack, deal.beneficiary, deal, first.json()["id"], "confirm")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    clock.travel_to(start + timedelta(hours=9))
    second = await report(stack, deal.provider, deal, start + timedelta(hours=5), 3)
    disputed = await decide(
        stack, deal.beneficiary, deal, second.json()["id"], "dispute", reason="Pas venu"
    )
    assert disputed.status_code == 200 and disputed.json()["status"] == "disputed"

    [statement] = await close_period(stack, clock, deal)
    # 4 h at 12 € = 48 €: 24 € fixed; availability and temperature (4.4 ≤ 4 + 0.5) met, not
    # ready_within (3 > 2): 2/3 of the 24 € variable part = 16 €. The disputed 3 h do not count.
    assert statement["quantity"] == "4"
    assert (statement["fixed_amount"], statement["variable_amount"]) == (2400, 1600)
    assert statement["total_amount"] == 4000 and statement["amount_unit"] == "eur_cents"
    assert statement["payer_id"] == deal.beneficiary.id
    # The period's performance, indicator by indicator, for the parties only.
    path = f"/v1/agreements/{deal.id}/evaluations"
    response = await agreements(stack).get(path, headers=deal.beneficiary.headers)
    assert response.status_code == 200, response.text
    [evaluation] = response.json()
    assert evaluation["period_start"] == statement["period_start"]
    met = {r["indicator"]: (r["measured"], r["met"]) for r in evaluation["results"]}
    assert met == {
        "availability": ("96", True),
        "temperature": ("4.4", True),
        "ready_within": ("3", False),
    }
    stranger = await new_member(stack, territory, kind="association", name="Voisins")
    hidden = await agreements(stack).get(path, headers=stranger.headers)
    assert hidden.status_code == 404


async def test_a_party_confirms_only_the_other_partys_report(
    stack: Stack, territory: Territory, clock: Clock
) -> None:
    deal = await make_deal(stack, territory)
    active = await activate(stack, clock, deal)
    sent = await report(stack, deal.provider, deal, datetime.fromisoformat(active["starts_at"]), 2)
    own = await decide(stack, deal.provider, deal, sent.json()["id"], "confirm")
    assert own.status_code == 403, own.text
    dispute = await decide(stack, deal.beneficiary, deal, sent.json()["id"], "dispute", reason=" ")
    assert dispute.status_code == 422 and fields(dispute) == ["reason"], dispute.text


async def test_reports_that_cannot_count_are_refused_naming_the_field(
    stack: Stack, territory: Territory, clock: Clock
) -> None:
    deal = await make_deal(stack, territory)
    on_draft = await report(stack, deal.provider, deal, datetime.now().astimezone(), 1)
    assert on_draft.status_code == 409 and fields(on_draft) == ["status"], on_draft.text

    active = await activate(stack, clock, deal)
    start = datetime.fromisoformat(active["starts_at"])
    cases: list[tuple[dict[str, Any], datetime, str]] = [
        ({"measurements": {"noise": "3"}}, start, "measurements.noise"),
        ({"quantity": "-1"}, start, "quantity"),
        ({}, start - timedelta(days=1), "period_start"),
        ({}, datetime.fromisoformat(active["ends_at"]) - timedelta(hours=1), "period_end"),
    ]
    for extra, begins, field in cases:
        refused = await report(stack, deal.provider, deal, begins, 2, **extra)
        assert refused.status_code == 422, refused.text
        assert fields(refused) == [field], refused.text
    garbled = await agreements(stack).post(
        f"/v1/agreements/{deal.id}/usage",
        json={"period_start": "hier", "period_end": start.isoformat(), "quantity": "1"},
        headers=deal.provider.headers,
    )
    assert garbled.status_code == 422 and fields(garbled) == ["period_start"], garbled.text
