"""Webhook deliveries end to end: an event on the broker, a signed POST to a receiver on
loopback, verified with the standardwebhooks package; retries, Retry-After, 410 and the log."""

from __future__ import annotations

import asyncio
import functools
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from standardwebhooks import Webhook

from tests.harness import Stack
from tests.scenario import Member, Territory, new_member
from tests.service.notifications.receiver import Behaviour, Receiver
from tests.service.notifications.steps import (
    logged,
    notifications,
    proposed,
    publish,
    subscribe,
)
from tests.support import eventually


async def disabled(stack: Stack, owner: Member, sub_id: str) -> dict[str, Any] | None:
    """The subscription, once it is disabled."""
    found = await notifications(stack).get(f"/v1/subscriptions/{sub_id}", headers=owner.headers)
    body: dict[str, Any] = found.json()
    return body if body["status"] == "disabled" else None


def hook_name() -> str:
    return uuid.uuid4().hex[:12]


async def test_a_match_reaches_both_parties_signed_as_the_standard_says(
    stack: Stack, territory: Territory, partner: Receiver
) -> None:
    provider = await new_member(stack, territory)
    requester = await new_member(stack, territory, kind="association", name="Les Jardins")
    hooks = {who.id: hook_name() for who in (provider, requester)}
    secrets = {
        who.id: (await subscribe(stack, who, partner.url(hooks[who.id]), ["mcvt.match.*"]))[
            "secret"
        ]
        for who in (provider, requester)
    }
    assert all(secret.startswith("whsec_") for secret in secrets.values())

    event = await publish(
        stack, proposed(territory.id, provider.id, requester.id), str(uuid.uuid4()), territory.id
    )

    for who in (provider, requester):
        got = await eventually(functools.partial(partner.of, hooks[who.id]))
        assert len(got) == 1
        headers = got[0].headers
        payload = Webhook(secrets[who.id]).verify(got[0].body, headers)
        assert payload["id"] == event.id == headers["webhook-id"]
        assert payload["type"] == "mcvt.match.proposed.v1"
        assert payload["data"]["requester_id"] == requester.id
        assert headers["content-type"] == "application/cloudevents+json"
    # Another secret does not verify it.
    wrong = Webhook(secrets[provider.id])
    try:
        wrong.verify(
            partner.of(hooks[requester.id])[0].body, partner.of(hooks[requester.id])[0].headers
        )
    except Exception as refused:
        assert "signature" in str(refused).lower()
    else:
        raise AssertionError("a delivery verified with another subscription's secret")


async def test_failures_are_retried_with_the_same_id_then_logged(
    stack: Stack, territory: Territory, partner: Receiver
) -> None:
    provider = await new_member(stack, territory)
    name = hook_name()
    partner.on(name, Behaviour(statuses=[500, 502, 200]))
    sub = await subscribe(stack, provider, partner.url(name), ["mcvt.match.proposed.v1"])
    event = await publish(
        stack,
        proposed(territory.id, provider.id, str(uuid.uuid4())),
        str(uuid.uuid4()),
        territory.id,
    )

    got = await eventually(lambda: len(partner.of(name)) >= 3, timeout=30)
    assert got
    attempts = partner.of(name)
    assert {a.headers["webhook-id"] for a in attempts} == {event.id}
    for attempt in attempts:  # each attempt signed afresh, every one verifies
        Webhook(sub["secret"]).verify(attempt.body, attempt.headers)

    async def logged() -> dict[str, Any] | None:
        page = await notifications(stack).get(
            f"/v1/subscriptions/{sub['id']}/deliveries", headers=provider.headers
        )
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        return items[0] if items and items[0]["status"] == "succeeded" else None

    delivery = await eventually(logged)
    assert delivery["event_id"] == event.id
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 502, 200]
    assert delivery["attempt_log"][-1]["response"] == "merci"


async def test_retry_after_is_honoured(
    stack: Stack, territory: Territory, partner: Receiver
) -> None:
    provider = await new_member(stack, territory)
    name = hook_name()
    partner.on(name, Behaviour(statuses=[503, 200], retry_after="2"))
    await subscribe(stack, provider, partner.url(name), ["mcvt.match.proposed.v1"])
    await publish(
        stack,
        proposed(territory.id, provider.id, str(uuid.uuid4())),
        str(uuid.uuid4()),
        territory.id,
    )
    await eventually(lambda: len(partner.of(name)) >= 2, timeout=30)
    first, second = partner.of(name)[:2]
    # The schedule says 0.3 s (± 20 %); the endpoint asked for 2 s.
    assert second.at - first.at >= 2.0


async def test_gone_disables_the_endpoint_at_once_and_tells_its_owner(
    stack: Stack, territory: Territory, partner: Receiver
) -> None:
    provider = await new_member(stack, territory)
    name = hook_name()
    partner.on(name, Behaviour(statuses=[410]))
    sub = await subscribe(stack, provider, partner.url(name), ["mcvt.match.proposed.v1"])
    match = proposed(territory.id, provider.id, str(uuid.uuid4()))
    await publish(stack, match, str(uuid.uuid4()), territory.id)

    body = await eventually(functools.partial(disabled, stack, provider, sub["id"]))
    assert body["disabled_reason"] == "gone"
    notice = await stack.pool("notifications").fetchrow(
        "SELECT parties, body FROM notifications WHERE type = $1 AND body::jsonb->'data'->>"
        "'subscription_id' = $2",
        "mcvt.notification.subscription_disabled.v1",
        sub["id"],
    )
    assert notice is not None and [str(p) for p in notice["parties"]] == [provider.id]
    assert json.loads(notice["body"])["data"]["reason"] == "gone"
    outboxed = await stack.pool("notifications").fetchval(
        "SELECT count(*) FROM outbox WHERE key = $1 AND event_type = "
        "'mcvt.notification.subscription_disabled.v1'",
        sub["id"],
    )
    assert outboxed == 1
    # Not retried; and a later event is queued but not sent to a disabled endpoint.
    later = await publish(stack, match, str(uuid.uuid4()), territory.id)
    await logged(stack, later.id)
    await asyncio.sleep(1)  # three retry periods of the test schedule
    assert len(partner.of(name)) == 1


async def test_a_ping_is_sent_on_request(
    stack: Stack, territory: Territory, partner: Receiver
) -> None:
    provider = await new_member(stack, territory)
    name = hook_name()
    sub = await subscribe(stack, provider, partner.url(name), ["mcvt.match.*"])
    response = await notifications(stack).post(
        f"/v1/subscriptions/{sub['id']}/test", headers=provider.headers
    )
    assert response.status_code == 202, response.text
    got = await eventually(lambda: partner.of(name))
    payload = Webhook(sub["secret"]).verify(got[0].body, got[0].headers)
    assert payload["type"] == "mcvt.notification.ping.v1"


async def test_an_endpoint_failing_for_days_is_disabled(
    stack: Stack, territory: Territory, partner: Receiver
) -> None:
    provider = await new_member(stack, territory)
    name = hook_name()
    partner.on(name, Behaviour(statuses=[500]))
    sub = await subscribe(stack, provider, partner.url(name), ["mcvt.match.proposed.v1"])
    # Its deliveries have been failing for six days already (the limit is five).
    await stack.pool("notifications").execute(
        "UPDATE subscriptions SET failing_since = now() - interval '6 days' WHERE id = $1",
        uuid.UUID(sub["id"]),
    )
    await publish(stack, proposed(territory.id, provider.id, str(uuid.uuid4())), "m", territory.id)

    body = await eventually(functools.partial(disabled, stack, provider, sub["id"]))
    assert body["disabled_reason"] == "failing"
    payload = await stack.pool("notifications").fetchval(
        "SELECT payload FROM outbox WHERE key = $1", sub["id"]
    )
    assert json.loads(payload)["data"]["reason"] == "failing"

    # Its owner enables it again: deliveries resume (the endpoint now answers).
    partner.on(name, Behaviour(statuses=[204]))
    enabled = await notifications(stack).patch(
        f"/v1/subscriptions/{sub['id']}", json={"enabled": True}, headers=provider.headers
    )
    assert enabled.status_code == 200 and enabled.json()["status"] == "active"
    assert enabled.json()["failing_since"] is None


async def test_a_failed_delivery_is_retried_on_request_and_a_range_replayed(
    stack: Stack, territory: Territory, partner: Receiver
) -> None:
    provider = await new_member(stack, territory)
    name = hook_name()
    partner.on(name, Behaviour(statuses=[500, 500, 500, 500, 200]))  # 1 + 3 retries fail
    sub = await subscribe(stack, provider, partner.url(name), ["mcvt.match.proposed.v1"])
    event = await publish(
        stack, proposed(territory.id, provider.id, str(uuid.uuid4())), "m", territory.id
    )
    client = notifications(stack)
    path = f"/v1/subscriptions/{sub['id']}/deliveries"

    async def status_of_delivery(status: str) -> dict[str, Any] | None:
        items = (await client.get(path, headers=provider.headers)).json()["items"]
        return items[0] if items and items[0]["status"] == status else None

    failed = await eventually(lambda: status_of_delivery("failed"), timeout=30)
    assert len(failed["attempt_log"]) == 4

    retried = await client.post(f"{path}/{failed['id']}/retry", headers=provider.headers)
    assert retried.status_code == 202, retried.text
    done = await eventually(lambda: status_of_delivery("succeeded"), timeout=30)
    assert [a["status_code"] for a in done["attempt_log"]] == [500, 500, 500, 500, 200]
    assert [a["attempt"] for a in done["attempt_log"]] == [1, 2, 3, 4, 1]

    since = datetime.now(UTC) - timedelta(minutes=5)
    replayed = await client.post(
        f"/v1/subscriptions/{sub['id']}/replay",
        json={"since": since.isoformat(), "until": datetime.now(UTC).isoformat()},
        headers=provider.headers,
    )
    assert replayed.status_code == 202 and replayed.json() == {"queued": 1}
    await eventually(lambda: len(partner.of(name)) == 6)
    await asyncio.sleep(0.5)
    assert len(partner.of(name)) == 6  # once: the replayed delivery succeeded and stays so
    assert {r.headers["webhook-id"] for r in partner.of(name)} == {event.id}

    backwards = await client.post(
        f"/v1/subscriptions/{sub['id']}/replay",
        json={"since": datetime.now(UTC).isoformat(), "until": since.isoformat()},
        headers=provider.headers,
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "until"


async def test_a_rotated_secret_leaves_both_signatures_for_the_grace_period(
    stack: Stack, territory: Territory, partner: Receiver
) -> None:
    provider = await new_member(stack, territory)
    name = hook_name()
    sub = await subscribe(stack, provider, partner.url(name), ["mcvt.match.proposed.v1"])
    rotated = await notifications(stack).post(
        f"/v1/subscriptions/{sub['id']}/rotate-secret", headers=provider.headers
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != sub["secret"] and new_secret.startswith("whsec_")
    await publish(stack, proposed(territory.id, provider.id, str(uuid.uuid4())), "m", territory.id)
    [got] = await eventually(functools.partial(partner.of, name))
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(new_secret).verify(got.body, got.headers)
    Webhook(sub["secret"]).verify(got.body, got.headers)
