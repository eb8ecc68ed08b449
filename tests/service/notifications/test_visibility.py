"""Visibility: a subscription hears of what concerns its owner, or of its whole territory for
facilitators and partners; never of another territory or of another actor's private object.
Only its owner sees or changes a subscription."""

from __future__ import annotations

import asyncio
import json
import uuid

from tests.harness import Stack
from tests.scenario import Territory, new_member, new_territory
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


async def test_each_subscription_hears_only_what_concerns_it(
    stack: Stack, territory: Territory, partner: Receiver
) -> None:
    elsewhere = await new_territory(stack)
    provider = await new_member(stack, territory)
    requester = await new_member(stack, territory, kind="association", name="Les Jardins")
    bystander = await new_member(stack, territory, name="Menuiserie Roux")
    stranger = await new_member(stack, elsewhere)
    hooks = {
        "provider": hook(),
        "bystander": hook(),
        "facilitator": hook(),
        "other facilitator": hook(),
        "stranger": hook(),
    }
    types = ["mcvt.match.*", "mcvt.governance.*"]
    await subscribe(stack, provider, partner.url(hooks["provider"]), types)
    await subscribe(stack, bystander, partner.url(hooks["bystander"]), types)
    await subscribe(
        stack, territory.facilitator, partner.url(hooks["facilitator"]), types, scope="territory"
    )
    await subscribe(
        stack,
        elsewhere.facilitator,
        partner.url(hooks["other facilitator"]),
        types,
        scope="territory",
    )
    await subscribe(stack, stranger, partner.url(hooks["stranger"]), types)

    match = await publish(
        stack, proposed(territory.id, provider.id, requester.id), "m", territory.id
    )
    opened = await publish(stack, proposal_opened(territory.id), "p", territory.id)
    await logged(stack, match.id)
    await logged(stack, opened.id)

    def heard(name: str) -> set[str]:
        return {json.loads(r.body)["id"] for r in partner.of(hooks[name])}

    await eventually(lambda: heard("facilitator") == {match.id, opened.id})
    await eventually(lambda: heard("provider") == {match.id, opened.id})
    # The territory's own business reaches the bystander; the match between others does not.
    await eventually(lambda: heard("bystander") == {opened.id})
    await asyncio.sleep(0.5)  # what was queued has had time to be sent
    assert heard("bystander") == {opened.id}
    assert heard("other facilitator") == set()
    assert heard("stranger") == set()


async def test_the_whole_territory_is_for_facilitators_and_partners(
    stack: Stack, territory: Territory, partner: Receiver
) -> None:
    member = await new_member(stack, territory)
    response = await notifications(stack).post(
        "/v1/subscriptions",
        json={"url": partner.url(hook()), "event_types": ["mcvt.match.*"], "scope": "territory"},
        headers=member.headers,
    )
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["field"] == "scope"


async def test_a_partner_hears_its_territory_until_the_role_is_withdrawn(
    stack: Stack, territory: Territory, partner: Receiver
) -> None:
    cluster = await new_member(stack, territory, name="Cluster Bois Jura", partner=True)
    provider = await new_member(stack, territory)
    requester = await new_member(stack, territory, kind="association", name="Les Jardins")
    name = hook()
    await subscribe(stack, cluster, partner.url(name), ["mcvt.match.*"], scope="territory")

    def heard() -> set[str]:
        return {json.loads(r.body)["id"] for r in partner.of(name)}

    between_others = await publish(
        stack, proposed(territory.id, provider.id, requester.id), "m", territory.id
    )
    await eventually(lambda: heard() == {between_others.id})

    # Only the territory's facilitator grants or withdraws the role.
    path = f"/v1/actors/{cluster.id}/partner"
    refused = await stack.actors.put(path, json={"partner": False}, headers=provider.headers)
    assert refused.status_code == 403, refused.text
    withdrawn = await stack.actors.put(
        path, json={"partner": False}, headers=territory.facilitator.headers
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert "partner" not in withdrawn.json()["roles"]

    async def roles_known() -> bool:
        roles = await stack.pool("notifications").fetchval(
            "SELECT roles FROM access_actors WHERE actor_id = $1", uuid.UUID(cluster.id)
        )
        return roles == []

    await eventually(roles_known)
    # Its subscription now reaches only what concerns it, its token notwithstanding.
    others = await publish(
        stack, proposed(territory.id, provider.id, requester.id), "m", territory.id
    )
    its_own = await publish(
        stack, proposed(territory.id, cluster.id, requester.id), "m", territory.id
    )
    await logged(stack, others.id)
    await eventually(lambda: its_own.id in heard())
    await asyncio.sleep(0.5)  # what was queued has had time to be sent
    assert heard() == {between_others.id, its_own.id}


async def test_only_the_owner_sees_and_changes_a_subscription(
    stack: Stack, territory: Territory, partner: Receiver
) -> None:
    owner = await new_member(stack, territory)
    other = await new_member(stack, territory)
    sub = await subscribe(stack, owner, partner.url(hook()), ["mcvt.match.*"])
    client = notifications(stack)
    path = f"/v1/subscriptions/{sub['id']}"
    for method, suffix in [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/rotate-secret"),
        ("POST", "/test"),
        ("GET", "/deliveries"),
    ]:
        body = {"description": "x"} if method == "PATCH" else None
        response = await client.request(method, path + suffix, json=body, headers=other.headers)
        assert response.status_code == 404, (method, suffix, response.text)
    listed = await client.get("/v1/subscriptions", headers=other.headers)
    assert sub["id"] not in [item["id"] for item in listed.json()["items"]]
    mine = await client.get("/v1/subscriptions", headers=owner.headers)
    assert [item["id"] for item in mine.json()["items"]] == [sub["id"]]
    assert "secret" not in mine.json()["items"][0]


async def test_a_pending_actor_may_not_subscribe(stack: Stack, territory: Territory) -> None:
    pending = await new_member(stack, territory, admit=False)
    response = await notifications(stack).post(
        "/v1/subscriptions",
        json={"url": "http://127.0.0.1:9/hook", "event_types": ["mcvt.match.*"]},
        headers=pending.headers,
    )
    assert response.status_code == 403, response.text
