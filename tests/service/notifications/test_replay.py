"""Replays and retries on request: a replay rebuilds from the notification log what a disabled
subscription missed (what its scope lets its owner hear of, nothing more), once per event;
nothing is asked of a disabled subscription."""

from __future__ import annotations

import asyncio
import functools
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

from tests.harness import Stack
from tests.scenario import Member, new_member, new_territory
from tests.scenario import Territory as TerritoryOf
from tests.service.notifications.receiver import Receiver
from tests.service.notifications.steps import (
    logged,
    notifications,
    proposal_opened,
    proposed,
    publish,
    subscribe,
)
from tests.support import eventually


def hook() -> str:
    return uuid.uuid4().hex[:12]


async def set_enabled(stack: Stack, owner: Member, sub_id: str, enabled: bool) -> None:
    response = await notifications(stack).patch(
        f"/v1/subscriptions/{sub_id}", json={"enabled": enabled}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == ("active" if enabled else "disabled")


async def replay(stack: Stack, owner: Member, sub_id: str, since: datetime, until: datetime) -> Any:
    return await notifications(stack).post(
        f"/v1/subscriptions/{sub_id}/replay",
        json={"since": since.isoformat(), "until": until.isoformat()},
        headers=owner.headers,
    )


async def deliveries(stack: Stack, owner: Member, sub_id: str) -> list[dict[str, Any]]:
    page = await notifications(stack).get(
        f"/v1/subscriptions/{sub_id}/deliveries", params={"limit": 100}, headers=owner.headers
    )
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


async def test_a_replay_after_an_outage_delivers_what_was_missed_and_nothing_else(
    stack: Stack, territory: TerritoryOf, partner: Receiver
) -> None:
    elsewhere = await new_territory(stack)
    provider = await new_member(stack, territory)
    requester = await new_member(stack, territory, kind="association", name="Les Jardins")
    bystander = await new_member(stack, territory, name="Menuiserie Roux")
    stranger = await new_member(stack, elsewhere)
    types = ["mcvt.match.*", "mcvt.governance.*"]
    hooks = {"provider": hook(), "facilitator": hook()}
    subs = {
        "provider": (
            provider,
            await subscribe(stack, provider, partner.url(hooks["provider"]), types),
        ),
        "facilitator": (
            territory.facilitator,
            await subscribe(
                stack,
                territory.facilitator,
                partner.url(hooks["facilitator"]),
                types,
                scope="territory",
            ),
        ),
    }
    for owner, sub in subs.values():
        await set_enabled(stack, owner, sub["id"], False)

    since = datetime.now(UTC)
    mine = await publish(
        stack, proposed(territory.id, provider.id, requester.id), "m", territory.id
    )
    others = await publish(
        stack, proposed(territory.id, bystander.id, requester.id), "m", territory.id
    )
    opened = await publish(stack, proposal_opened(territory.id), "p", territory.id)
    # Another territory's match, even one naming the provider: never theirs to hear of.
    foreign = await publish(
        stack, proposed(elsewhere.id, provider.id, stranger.id), "m", elsewhere.id
    )
    for event in (mine, others, opened, foreign):
        await logged(stack, event.id)
    until = datetime.now(UTC)
    for owner, sub in subs.values():
        assert await deliveries(stack, owner, sub["id"]) == []  # nothing queued while disabled
        await set_enabled(stack, owner, sub["id"], True)

    expected = {
        "provider": {mine.id, opened.id},
        "facilitator": {mine.id, others.id, opened.id},
    }
    for name, (owner, sub) in subs.items():
        replayed = await replay(stack, owner, sub["id"], since, until)
        assert replayed.status_code == 202, replayed.text
        assert replayed.json() == {"queued": len(expected[name])}

    def heard(name: str) -> list[str]:
        return [r.headers["webhook-id"] for r in partner.of(hooks[name])]

    def all_heard(name: str) -> bool:
        return len(heard(name)) >= len(expected[name])

    for name, (_, sub) in subs.items():
        await eventually(functools.partial(all_heard, name))
        await asyncio.sleep(0.5)  # what was queued has had time to be sent
        assert sorted(heard(name)) == sorted(expected[name])
        for got in partner.of(hooks[name]):
            payload = Webhook(sub["secret"]).verify(got.body, got.headers)
            assert payload["id"] == got.headers["webhook-id"]
            assert json.loads(got.body)["id"] == payload["id"]

    # Replayed again: the same messages again (the same webhook ids), one delivery per event.
    owner, sub = subs["provider"]
    again = await replay(stack, owner, sub["id"], since, until)
    assert again.status_code == 202 and again.json() == {"queued": 2}
    await eventually(lambda: len(heard("provider")) >= 4)
    await asyncio.sleep(0.5)
    assert sorted(heard("provider")) == sorted([mine.id, opened.id] * 2)
    assert sorted(d["event_id"] for d in await deliveries(stack, owner, sub["id"])) == sorted(
        [mine.id, opened.id]
    )


async def test_nothing_is_asked_of_a_disabled_subscription(
    stack: Stack, territory: TerritoryOf, partner: Receiver
) -> None:
    provider = await new_member(stack, territory)
    name = hook()
    sub = await subscribe(stack, provider, partner.url(name), ["mcvt.match.proposed.v1"])
    since = datetime.now(UTC)
    await publish(stack, proposed(territory.id, provider.id, str(uuid.uuid4())), "m", territory.id)
    await eventually(lambda: partner.of(name))
    [delivery] = await eventually(lambda: _succeeded(stack, provider, sub["id"]), timeout=10)
    await set_enabled(stack, provider, sub["id"], False)

    client = notifications(stack)
    retried = await client.post(
        f"/v1/subscriptions/{sub['id']}/deliveries/{delivery['id']}/retry",
        headers=provider.headers,
    )
    replayed = await replay(stack, provider, sub["id"], since, datetime.now(UTC))
    pinged = await client.post(f"/v1/subscriptions/{sub['id']}/test", headers=provider.headers)
    for response in (retried, replayed, pinged):
        assert response.status_code == 409, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["title"] == "Conflict"
        assert "disabled" in problem["detail"] and "paused" in problem["detail"]
        assert problem["errors"][0]["field"] == "status"
    await asyncio.sleep(0.5)
    assert len(partner.of(name)) == 1  # nothing was queued meanwhile

    # Enabled again, the same retry is accepted and sent.
    await set_enabled(stack, provider, sub["id"], True)
    retried = await client.post(
        f"/v1/subscriptions/{sub['id']}/deliveries/{delivery['id']}/retry",
        headers=provider.headers,
    )
    assert retried.status_code == 202, retried.text
    await eventually(lambda: len(partner.of(name)) == 2)


async def _succeeded(stack: Stack, owner: Member, sub_id: str) -> list[dict[str, Any]]:
    items = await deliveries(stack, owner, sub_id)
    return items if items and all(d["status"] == "succeeded" for d in items) else []


async def test_a_territory_wide_replay_is_for_those_who_may_hear_of_the_territory_today(
    stack: Stack, territory: TerritoryOf, partner: Receiver
) -> None:
    """A subscription whose owner may no longer hear of the whole territory (here its scope is
    widened behind the API's back, as a partner's role taken away would leave it) replays
    nothing of other actors."""
    member = await new_member(stack, territory)
    bystander = await new_member(stack, territory, name="Menuiserie Roux")
    name = hook()
    sub = await subscribe(stack, member, partner.url(name), ["mcvt.match.*"])
    await stack.pool("notifications").execute(
        "UPDATE subscriptions SET scope = 'territory' WHERE id = $1", uuid.UUID(sub["id"])
    )
    await set_enabled(stack, member, sub["id"], False)
    since = datetime.now(UTC)
    others = await publish(
        stack, proposed(territory.id, bystander.id, str(uuid.uuid4())), "m", territory.id
    )
    await logged(stack, others.id)
    await set_enabled(stack, member, sub["id"], True)

    replayed = await replay(stack, member, sub["id"], since, datetime.now(UTC))
    assert replayed.status_code == 403, replayed.text
    assert replayed.json()["errors"][0]["field"] == "scope"
    await asyncio.sleep(0.5)
    assert partner.of(name) == []
