"""Time credits by double entry with a floor; the value ledger, its summary and its CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

from tests.harness import Stack
from tests.scenario import Territory
from tests.service.agreements.steps import (
    Clock,
    activate,
    agreements,
    close_period,
    decide,
    make_deal,
    report,
)

CREDITS = {"price": {"model": "time_credits", "unit_price": 1}, "performance": []}


async def credits_of(stack: Stack, member_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await agreements(stack).get(f"/v1/actors/{member_id}/time-credits", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_time_credits_move_by_double_entry_down_to_the_floor(
    stack: Stack, territory: Territory, clock: Clock
) -> None:
    deal = await make_deal(stack, territory, offer_fields=CREDITS)
    active = await activate(stack, clock, deal)
    start = datetime.fromisoformat(active["starts_at"])
    sent = await report(stack, deal.beneficiary, deal, start, 12)
    assert sent.status_code == 201, sent.text
    assert (
        await decide(stack, deal.provider, deal, sent.json()["id"], "confirm")
    ).status_code == 200

    [statement] = await close_period(stack, clock, deal)
    # 12 h at one hour of credit each: 720 minutes due; the floor (-600) lets 600 move.
    assert statement["amount_unit"] == "time_credit_minutes"
    assert statement["total_amount"] == 720 and statement["shortfall"] == 120
    payer = await credits_of(stack, deal.beneficiary.id, deal.beneficiary.headers)
    payee = await credits_of(stack, deal.provider.id, deal.provider.headers)
    assert payer["balance_minutes"] == -600 and payer["floor_minutes"] == -600
    assert payee["balance_minutes"] == 600
    assert [m["minutes"] for m in payer["movements"]] == [-600]
    assert [m["minutes"] for m in payee["movements"]] == [600]
    total = await stack.pool("agreements").fetchval(
        "SELECT sum(minutes) FROM time_credit_movements"
    )
    assert total == 0
    seen = await agreements(stack).get(
        f"/v1/actors/{deal.provider.id}/time-credits", headers=deal.beneficiary.headers
    )
    assert seen.status_code == 404
    facilitated = await agreements(stack).get(
        f"/v1/actors/{deal.provider.id}/time-credits", headers=territory.facilitator.headers
    )
    assert facilitated.status_code == 200


async def test_the_impact_summary_is_the_sum_of_the_ledger(
    stack: Stack, territory: Territory, clock: Clock
) -> None:
    deal = await make_deal(
        stack, territory, offer_fields={"price": {"model": "per_hour", "unit_price": 10}}
    )
    active = await activate(stack, clock, deal)
    start = datetime.fromisoformat(active["starts_at"])
    sent = await report(stack, deal.provider, deal, start, 3)
    await decide(stack, deal.beneficiary, deal, sent.json()["id"], "confirm")
    await close_period(stack, clock, deal)
    declared = await agreements(stack).post(
        f"/v1/agreements/{deal.id}/value-declarations",
        json={"period_start": start.isoformat(), "kind": "people_served", "amount": "25"},
        headers=deal.beneficiary.headers,
    )
    assert declared.status_code == 201, declared.text
    own = await agreements(stack).post(
        f"/v1/agreements/{deal.id}/value-declarations/{declared.json()['id']}/confirm",
        headers=deal.beneficiary.headers,
    )
    assert own.status_code == 403
    confirmed = await agreements(stack).post(
        f"/v1/agreements/{deal.id}/value-declarations/{declared.json()['id']}/confirm",
        headers=deal.provider.headers,
    )
    assert confirmed.status_code == 200, confirmed.text

    response = await agreements(stack).get(
        f"/v1/territories/{territory.id}/impact", headers=deal.provider.headers
    )
    assert response.status_code == 200, response.text
    totals = {f["kind"]: f for f in response.json()["totals"]}
    assert Decimal(totals["money_exchanged"]["amount"]) == 3000
    assert Decimal(totals["dormant_hours_used"]["amount"]) == 3
    assert Decimal(totals["people_served"]["amount"]) == 25
    assert totals["emissions_avoided"]["amount"] is None
    assert totals["emissions_avoided"]["shown"] == "non estimé"
    ledger = await stack.pool("agreements").fetch(
        "SELECT kind, sum(amount) AS amount FROM value_ledger WHERE territory_id = $1::uuid "
        "GROUP BY kind",
        territory.id,
    )
    assert {r["kind"]: r["amount"] for r in ledger} == {
        kind: (Decimal(f["amount"]) if f["amount"] is not None else None)
        for kind, f in totals.items()
    }
    by_kind = response.json()["by_actor_kind"]["association"]
    assert {f["kind"] for f in by_kind} == set(totals)

    exported = await agreements(stack).get(
        f"/v1/territories/{territory.id}/impact.csv", headers=deal.provider.headers
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "mois" and len(rows) == 1 + len(ledger)
    assert ["non estimé"] == [r[6] for r in rows[1:] if r[2] == "Émissions évitées"]


async def test_a_territorys_emission_factor_is_set_by_its_facilitator_with_its_source(
    stack: Stack, territory: Territory
) -> None:
    body = {
        "value": "1.5",
        "unit": "hour",
        "title": "Facteur local mesuré",
        "publisher": "Observatoire du Diois",
        "year": 2026,
    }
    path = f"/v1/territories/{territory.id}/emission-factors/refrigerated_van"
    deal = await make_deal(stack, territory)
    refused = await agreements(stack).put(path, json=body, headers=deal.provider.headers)
    assert refused.status_code == 403
    done = await agreements(stack).put(path, json=body, headers=territory.facilitator.headers)
    assert done.status_code == 200, done.text
    unknown = await agreements(stack).put(
        f"/v1/territories/{territory.id}/emission-factors/nope",
        json=body,
        headers=territory.facilitator.headers,
    )
    assert unknown.status_code == 422
    listed = await agreements(stack).get(
        f"/v1/territories/{territory.id}/emission-factors", headers=deal.provider.headers
    )
    assert [(f["category"], f["publisher"]) for f in listed.json()] == [
        ("refrigerated_van", "Observatoire du Diois")
    ]
