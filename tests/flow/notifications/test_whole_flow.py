"""The whole flow, every service a process of its own as `make run` starts it (its own broker,
its own databases), as a partner and an association live it: a van offered per use, a need, the
match proposed and pushed to the territory's partner by a webhook it verifies with
`standardwebhooks`, both accept, the agreement created, signed, its usage confirmed, a statement
issued and the territory's impact changed; a governance decision changes the matching weights
and the next match is scored with the new policy version. The association's stream saw each
step in order, and resumed after a reconnect without a gap.

Nothing moves the services' clocks: the need is for a use under way that ends two minutes on,
so the agreement starts when both have signed and its period closes, with its statement, when
the use ends. Long (about three minutes): run by `make test-long` and CI."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook

from services.devstack.driver import Devstack, devstack
from tests.flow.matching.steps import Flow, accept, policy_of, proposals_for, status_of
from tests.governance_steps import all_vote, assembly, close_early, members_known, propose
from tests.harness import Stack
from tests.mailbox import text_of
from tests.processes import process_stack
from tests.scenario import Member, declare, need, new_member, offer
from tests.service.agreements.steps import (
    Deal,
    agreement_of,
    agreements,
    decide,
    read,
    report,
    signed_by_both,
    statements_of,
    status_is,
)
from tests.service.notifications.receiver import receiver
from tests.service.notifications.sse import listening
from tests.support import eventually

pytestmark = pytest.mark.long

# How long the use the association asks for still runs when it publishes its need: long enough
# for the match, both acceptances and both signatures on a loaded machine.
USE_LEFT = timedelta(seconds=120)


@pytest.fixture(scope="module")
def made_run(tmp_path_factory: pytest.TempPathFactory, pg_server: str) -> Iterator[Devstack]:
    with devstack(tmp_path_factory.mktemp("run"), pg_server, "--no-demo") as started:
        yield started


@pytest.fixture(scope="module")
async def everything(made_run: Devstack) -> AsyncIterator[Flow]:
    async with process_stack(made_run) as stack:
        yield Flow(stack)


def any_day() -> dict[str, Any]:
    """An asset open at every hour of the week."""
    return {"weekly": [{"weekday": d, "start_minute": 0, "end_minute": 1440} for d in range(7)]}


def use_under_way(until: datetime) -> dict[str, Any]:
    """A need for a use that began ten minutes ago and ends at `until`, when the need expires."""
    return {
        "weekly_windows": [],
        "dated_windows": [
            {
                "start": (until - USE_LEFT - timedelta(minutes=10)).isoformat(),
                "end": until.isoformat(),
            }
        ],
        "min_duration_minutes": 1,
        "expires_at": until.isoformat(),
    }


async def held_by_matching(stack: Stack, offer_id: str) -> None:
    """Wait until matching's read model holds the offer."""

    async def held() -> bool:
        found = await stack.pool("matching").fetchval(
            "SELECT count(*) FROM offers WHERE offer_id = $1", offer_id
        )
        return bool(found)

    await eventually(held, timeout=30)


async def impact_of(stack: Stack, deal: Deal) -> list[dict[str, Any]]:
    response = await agreements(stack).get(
        f"/v1/territories/{deal.territory.id}/impact", headers=deal.provider.headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["totals"])


async def van_offered(stack: Stack, business: Member) -> dict[str, Any]:
    asset = await declare(stack, business, availability=any_day())
    offered = await offer(stack, business, asset["id"])  # per use, 35 €
    await held_by_matching(stack, offered["id"])
    return offered


async def test_from_a_van_to_a_new_policy_everyone_concerned_hears_of_each_step(
    everything: Flow, made_run: Devstack
) -> None:
    flow, stack = everything, everything.stack
    town = await assembly(stack)
    business, facilitator = town.business, town.facilitator
    contact = f"paniers-{uuid.uuid4().hex[:8]}@exemple.org"
    association = await new_member(
        stack, town.territory, kind="association", name="Paniers", email=contact
    )
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
            offered = await van_offered(stack, business)
            use_ends = datetime.now(UTC).replace(microsecond=0) + USE_LEFT
            wanted = await need(stack, association, **use_under_way(use_ends))
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
            # Signed by both while the use is under way: it starts at once, ends with the use.
            signed = await signed_by_both(stack, deal)
            assert datetime.fromisoformat(signed["ends_at"]) == use_ends, signed
            active = await status_is(stack, deal, "active")
            await eventually(lambda: len(first_part.events) >= 7)
            cut_after = first_part.events[-1].id
            seen_first = list(first_part.events)

        # Disconnected: the usage, the vote and the statement happen meanwhile.
        start = datetime.fromisoformat(active["starts_at"])
        sent = await report(stack, business, deal, start, 1 / 3600, quantity=1)
        assert sent.status_code == 201, sent.text
        confirmed = await decide(stack, association, deal, sent.json()["id"], "confirm")
        assert confirmed.status_code == 200, confirmed.text

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

        # The use ends: its period closes with a statement, and the agreement is complete.
        async def stated() -> list[dict[str, Any]] | None:
            found = await statements_of(stack, deal)
            return found or None

        timeout = (use_ends - datetime.now(UTC)).total_seconds() + 60
        # Polled once a second: the services' rate limits are those of make run.
        statements = await eventually(stated, timeout=timeout, interval=1.0)
        assert statements[0]["total_amount"] > 0, statements
        assert (await read(stack, business, deal))["status"] == "completed"
        after = await impact_of(stack, deal)
        assert after != before  # the territory's impact changed

        # Another van (the first may still be held for the use that ended), and another need.
        await van_offered(stack, business)
        second = await need(stack, association, **use_under_way(datetime.now(UTC) + USE_LEFT))
        proposed = await proposals_for(flow, second["id"])
        assert {p["data"]["score"]["policy_version"] for p in proposed} == {adopted["version"]}
        proposed_ids = {p["id"] for p in proposed}

        async with listening(base, association.headers, last_event_id=cut_after) as resumed:
            await eventually(
                lambda: any(json.loads(e.data)["id"] in proposed_ids for e in resumed.events),
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
        "mcvt.agreement.completed.v1",
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
    # And the association's people read it by mail, at the address it registered with.
    # What happened within `mail_gather_s` (30 s) of the proposal goes in one mail.
    mailed = await eventually(lambda: made_run.mails_to(contact) or None, timeout=60)
    texts = [text_of(m) for m in mailed]
    assert any("Une mise en relation vous est proposée" in text for text in texts), texts
