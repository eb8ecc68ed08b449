"""The agreements' own transitions: lapse, termination with notice, governance's approval, one
agreement per confirmed match, the printable convention."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from contracts.envelope import new_event
from contracts.governance import TerritoryRulesChangedV1
from contracts.topics import Topic
from services.agreements import handlers
from tests.harness import Stack
from tests.scenario import Territory
from tests.service.agreements.steps import (
    Clock,
    activate,
    agreements,
    close_period,
    deliveries,
    fire,
    make_deal,
    read,
    sign,
    signed_by_both,
    status_is,
)
from tests.support import events_of, eventually, produce, read_topic


async def events_about(stack: Stack, agreement_id: str, type_: str) -> list[dict[str, object]]:
    records = await read_topic(
        stack.kafka,
        Topic.AGREEMENTS,
        until=lambda r: bool(events_of(r, subject=agreement_id, type=type_)),
    )
    return events_of(records, subject=agreement_id, type=type_)


async def test_an_unsigned_draft_lapses(stack: Stack, territory: Territory, clock: Clock) -> None:
    deal = await make_deal(stack, territory)
    assert (await sign(stack, deal.provider, deal)).status_code == 200
    clock.travel_to(datetime.fromisoformat(deal.agreement["lapses_at"]) + timedelta(minutes=1))
    await fire(stack, handlers.LAPSE, deal)
    await status_is(stack, deal, "lapsed")
    [lapsed] = await events_about(stack, deal.id, "mcvt.agreement.lapsed.v1")
    assert lapsed["actorid"] is None  # the platform's own timed job
    late = await sign(stack, deal.beneficiary, deal)
    assert late.status_code == 409


async def test_termination_runs_out_its_notice_and_states_the_last_period(
    stack: Stack, territory: Territory, clock: Clock
) -> None:
    clause = {"notice_days": 2}
    deal = await make_deal(stack, territory, offer_fields={"clause": clause})
    await activate(stack, clock, deal)
    response = await agreements(stack).post(
        f"/v1/agreements/{deal.id}/terminate",
        json={"reason": "Le local ferme"},
        headers=deal.beneficiary.headers,
    )
    assert response.status_code == 200, response.text
    ending = response.json()
    assert ending["status"] == "active"
    assert ending["termination"]["by"] == "beneficiary"
    effective = datetime.fromisoformat(ending["termination"]["effective_at"])
    assert ending["ends_at"] == ending["termination"]["effective_at"]
    assert effective - clock.now() < timedelta(days=2, minutes=1)
    again = await agreements(stack).post(
        f"/v1/agreements/{deal.id}/terminate",
        json={"reason": "Encore"},
        headers=deal.provider.headers,
    )
    assert again.status_code == 409

    statements = await close_period(stack, clock, deal)
    assert statements[0]["period_end"] == ending["ends_at"]
    await status_is(stack, deal, "terminated")
    [event] = await events_about(stack, deal.id, "mcvt.agreement.terminated.v1")
    assert event["data"]["reason"] == "by_party"  # type: ignore[index]


async def test_a_public_asset_is_named_but_waits_for_nothing_by_default(
    stack: Stack, territory: Territory
) -> None:
    deal = await make_deal(stack, territory, provider_kind="local_authority")
    [created] = await events_about(stack, deal.id, "mcvt.agreement.created.v1")
    assert created["data"]["public_asset"] is True  # type: ignore[index]
    # This stack keeps the default rule: no approval needed.
    assert created["data"]["awaits_approval"] is False  # type: ignore[index]
    assert deal.agreement["approval"] == "not_required"


async def test_the_same_confirmation_delivered_twice_makes_one_agreement(
    stack: Stack, territory: Territory
) -> None:
    before = await deliveries(stack, "mcvt.match.confirmed.v1")
    deal = await make_deal(stack, territory, times=2)
    await eventually(
        lambda: _at_least(deliveries(stack, "mcvt.match.confirmed.v1"), before + 2), timeout=30
    )
    made = await stack.pool("agreements").fetchval(
        "SELECT count(*) FROM agreements WHERE match_id = $1::uuid", deal.match_id
    )
    assert made == 1
    records = await read_topic(stack.kafka, Topic.AGREEMENTS, until=lambda r: False, timeout=2)
    created = events_of(records, type="mcvt.agreement.created.v1")
    assert [e["data"]["match_id"] for e in created].count(deal.match_id) == 1


async def _at_least(count: Any, expected: float) -> bool:
    return bool(await count >= expected)


async def test_the_convention_shows_parties_terms_and_signatures_escaped(
    stack: Stack, territory: Territory
) -> None:
    deal = await make_deal(stack, territory, offer_fields={"title": "Fourgon <b>frigo</b>"})
    await signed_by_both(stack, deal)
    found = await read(stack, deal.provider, deal)
    response = await agreements(stack).get(
        f"/v1/agreements/{deal.id}/convention", headers=deal.beneficiary.headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Convention de mise à disposition" in page and 'lang="fr"' in page
    assert "Fourgon &lt;b&gt;frigo&lt;/b&gt;" in page and "<b>frigo" not in page
    assert deal.provider.id in page and deal.beneficiary.id in page
    assert found["versions"][0]["terms_hash"] in page
    assert "35,00 €" in page and "samedi 08h00-12h00" in page


async def test_the_territorys_rules_from_governance_replace_the_defaults(
    stack: Stack, territory: Territory
) -> None:
    rules = TerritoryRulesChangedV1(
        territory_id=territory.id,
        public_asset_agreements_need_approval=True,
        college_quorum_percent=50,
        quorum_weight_percent=50,
        time_credit_floor=-5,
        offers_visible_to_other_territories=False,
        version=1,
        decision_id=str(uuid.uuid4()),
    )
    event = new_event(rules, subject=territory.id, territory=territory.id, source="/mcvt/g")
    await produce(stack.kafka, Topic.GOVERNANCE, event.model_dump_json().encode(), key=b"t")
    pool = stack.pool("agreements")
    await eventually(
        lambda: pool.fetchval(
            "SELECT time_credit_floor_minutes FROM territory_rules WHERE territory_id = $1::uuid",
            territory.id,
        )
    )
    deal = await make_deal(stack, territory, provider_kind="local_authority")
    assert deal.agreement["approval"] == "pending"
    credits = await agreements(stack).get(
        f"/v1/actors/{deal.beneficiary.id}/time-credits", headers=deal.beneficiary.headers
    )
    assert credits.json()["floor_minutes"] == -300  # 5 hours of time credit


async def test_an_amendment_while_matching_is_out_of_reach_is_a_503_and_changes_nothing(
    stack: Stack, territory: Territory
) -> None:
    deal = await make_deal(stack, territory)
    await signed_by_both(stack, deal)
    response = await agreements(stack).post(
        f"/v1/agreements/{deal.id}/amendments", json={"quantity": 9}, headers=deal.provider.headers
    )
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"]
    found = await read(stack, deal.provider, deal)
    assert len(found["versions"]) == 1 and found["pending_version"] is None
    priced = await agreements(stack).post(
        f"/v1/agreements/{deal.id}/amendments",
        json={"unit_price": "30.00"},
        headers=deal.provider.headers,
    )
    assert priced.status_code == 201, priced.text  # a price alone is not matching's business
    assert priced.json()["pending_version"] == 2
