"""The whole flow, every service over the real broker and database, as a partner and an
association live it: a van offered per use, a need, the match proposed and pushed to the
territory's partner by a webhook it verifies with `standardwebhooks`, both accept, the
agreement created, signed, its usage confirmed, a statement issued and the territory's impact
changed; a governance decision changes the matching weights and the next match is scored with
the new policy version. The association's stream saw each step in order, and resumed after a
reconnect without a gap.

The services run in this process on the harness (agreements' periods close by moving its clock,
which a process of its own would not allow); the stream is read over a real socket."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.flow.matching.steps import Flow, accept, indexed, policy_of, proposals_for, status_of
from tests.governance_steps import all_vote, assembly, close_early, members_known, propose
from tests.harness import Databases, Stack, start_stack
from tests.scenario import declare, need, new_member, offer
from tests.service.agreements.steps import (
    Clock,
    Deal,
    activate,
    agreement_of,
    agreements,
    close_period,
    decide,
    report,
)
from tests.service.agreements.steps import clock as clock  # the fixture
from tests.service.notifications.conftest import NOTIFICATIONS_TEST_SETTINGS
from tests.service.notifications.receiver import receiver
from tests.service.notifications.sse import listening
from tests.support import eventually


@pytest.fixture(scope="module")
async def everything(databases: Databases, kafka: str) -> AsyncIterator[Flow]:
    tag = uuid.uuid4().hex[:8]
    settings: dict[str, Any] = {
        "matching": {"consumer_group": f"matching.read-model.{tag}", "expiry_interval_s": 0.5},
        "agreements": lambda stack: {
            "consumer_group_prefix": f"agreements.{tag}",
            "scheduler_poll_interval_s": 0.2,
            "matching_url": stack.urls["matching"],
        },
        "governance": {
            "members_consumer_group": f"governance.members.{tag}",
            "agreements_consumer_group": f"governance.agreements.{tag}",
        },
        "notifications": {
            **NOTIFICATIONS_TEST_SETTINGS,
            "stream_buffer": 256,
            "consumer_group_prefix": f"notifications.{tag}",
        },
    }
    services = ["actors", "offers", "matching", "agreements", "governance", "notifications"]
    async with start_stack(
        databases, kafka, services, settings, on_socket=["matching", "notifications"]
    ) as stack:
        yield Flow(stack)


async def impact_of(stack: Stack, deal: Deal) -> list[dict[str, Any]]:
    response = await agreements(stack).get(
        f"/v1/territories/{deal.territory.id}/impact", headers=deal.provider.headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["totals"])


async def test_from_a_van_to_a_new_policy_everyone_concerned_hears_of_each_step(
    everything: Flow, clock: Clock
) -> None:
    flow, stack = everything, everything.stack
    town = await assembly(stack)
    business, facilitator = town.business, town.facilitator
    association = await new_member(stack, town.territory, kind="association", name="Paniers")
    await members_known(stack, association)
    base = stack.urls["notifications"]

    async with receiver() as partner:
        hook = uuid.uuid4().hex[:12]
        created = await stack["notifications"].client.post(
            "/v1/subscriptions",
            json={
                "url": partner.url(hook),
                "event_types": ["mcvt.match.*", "mcvt.agreement.*", "mcvt.governance.*"],
                "scope": "territory",
            },
            headers=facilitator.headers,
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]

        async with listening(base, association.headers) as first_part:
            asset = await declare(stack, business)
            offered = await offer(stack, business, asset["id"])  # per use, 35 €
            await indexed(flow, offer_id=offered["id"])
            wanted = await need(stack, association)
            [proposal] = await proposals_for(flow, wanted["id"])
            match_id = proposal["data"]["match_id"]

            # The partner hears of the match, and the package verifies what it received.
            def proposed_heard() -> list[Any]:
                return [
                    r for r in partner.of(hook)
                    if json.loads(r.body)["type"] == "mcvt.match.proposed.v1"
                    and json.loads(r.body)["data"]["match_id"] == match_id
                ]  # fmt: skip

            [heard] = await eventually(proposed_heard)
            verified = Webhook(secret).verify(heard.body, heard.headers)
            assert verified["id"] == heard.headers["webhook-id"] == proposal["id"]

            for member in (business, association):
                assert (await accept(flow, member, match_id)).status_code == 200
            await status_of(flow, business, match_id, "confirmed")
            found = await agreement_of(stack, business, match_id)
            deal = Deal(town.territory, business, association, offered, wanted, match_id, found)
            before = await impact_of(stack, deal)
            active = await activate(stack, clock, deal)  # signed by both, then started
            await eventually(lambda: len(first_part.events) >= 7)
            cut_after = first_part.events[-1].id
            seen_first = list(first_part.events)

        # Disconnected: the usage, the statement and the vote happen meanwhile.
        start = datetime.fromisoformat(active["starts_at"])
        sent = await report(stack, business, deal, start, 1, quantity=1)
        assert sent.status_code == 201, sent.text
        confirmed = await decide(stack, association, deal, sent.json()["id"], "confirm")
        assert confirmed.status_code == 200, confirmed.text
        statements = await close_period(stack, clock, deal)
        assert statements and statements[0]["total_amount"] > 0
        after = await impact_of(stack, deal)
        assert after != before  # the territory's impact changed

        policy = await policy_of(flow, business)
        weights = dict(policy["weights"])
        part = sorted(weights)[0]
        weights[part] = weights[part] * 2 + 1
        opened = await propose(
            stack,
            facilitator,
            kind="change_matching_policy",
            title="Donner plus de poids à la proximité",
            parameters={"weights": weights},
        )
        await all_vote(stack, [*town.everyone, association], opened["id"], "yes")
        closed = await close_early(stack, town, opened["id"])
        assert closed["tally"]["outcome"] == "adopted", closed

        async def new_policy() -> dict[str, Any] | None:
            found = await policy_of(flow, business)
            return found if found["version"] == policy["version"] + 1 else None

        adopted = await eventually(new_policy)
        # Another van (the first is booked at those hours), and another need.
        other_van = await offer(stack, business, (await declare(stack, business))["id"])
        await indexed(flow, offer_id=other_van["id"])
        second = await need(stack, association)
        [next_proposal] = await proposals_for(flow, second["id"])
        assert next_proposal["data"]["score"]["policy_version"] == adopted["version"]

        async with listening(base, association.headers, last_event_id=cut_after) as resumed:
            await eventually(
                lambda: any(
                    json.loads(e.data)["id"] == next_proposal["id"] for e in resumed.events
                ),
                timeout=30,
            )
            seen_after = list(resumed.events)

    # No gap: the two parts together are the association's whole log, in order.
    logged = await stack.pool("notifications").fetch(
        "SELECT seq, type FROM notifications WHERE (audience = 'territory' OR $1 = ANY(parties))"
        " AND territory_id = $2 AND seq <= $3 ORDER BY seq",
        uuid.UUID(association.id),
        uuid.UUID(town.territory.id),
        int(seen_after[-1].id or 0),
    )
    streamed = [int(e.id or 0) for e in [*seen_first, *seen_after]]
    first_seq = int(seen_first[0].id or 0)
    assert streamed == [row["seq"] for row in logged if row["seq"] >= first_seq]
    types = [e.event for e in [*seen_first, *seen_after]]
    steps = [
        "mcvt.match.proposed.v1",
        "mcvt.match.confirmed.v1",
        "mcvt.agreement.created.v1",
        "mcvt.agreement.signed.v1",
        "mcvt.agreement.activated.v1",
        "mcvt.agreement.usage_recorded.v1",
        "mcvt.agreement.usage_confirmed.v1",
        "mcvt.agreement.statement_issued.v1",
        "mcvt.governance.proposal_opened.v1",
        "mcvt.governance.decision_made.v1",
        "mcvt.match.proposed.v1",
    ]
    # Each topic's events come in their order (one aggregate's events share a partition); events
    # of different topics are consumed apart, so a match's confirmation and the agreement it
    # became may be logged either way round.
    for family in ("mcvt.match.", "mcvt.agreement.", "mcvt.governance."):
        expected = [step for step in steps if step.startswith(family)]
        seen = [t for t in types if t in expected]
        positions = [seen.index(expected[0])]
        for step in expected[1:]:
            positions.append(seen.index(step, positions[-1] + 1))
        assert positions == sorted(positions), types
