"""What a receiver answers is not trusted: a redirect is not followed (it fails the attempt, which
is retried), a body is read up to the excerpt's cap and no further, and an answer that never
ends is cut at the total timeout (2 s in these tests) and retried."""

from __future__ import annotations

import uuid
from typing import Any

from tests.harness import Stack
from tests.scenario import Member, Territory, new_member
from tests.service.notifications.receiver import Behaviour, Receiver
from tests.service.notifications.steps import notifications, proposed, publish, subscribe
from tests.support import eventually

TIMEOUT_S = 2.0  # delivery_timeout_s of the package's stack
EXCERPT_BYTES = 1024  # response_excerpt_bytes, the default


def hook() -> str:
    return uuid.uuid4().hex[:12]


async def delivery_of(stack: Stack, owner: Member, sub_id: str) -> dict[str, Any] | None:
    page = await notifications(stack).get(
        f"/v1/subscriptions/{sub_id}/deliveries", headers=owner.headers
    )
    assert page.status_code == 200, page.text
    items = page.json()["items"]
    return items[0] if items else None


async def subscribed_and_sent(
    stack: Stack, territory: Territory, partner: Receiver, name: str
) -> tuple[Member, dict[str, Any]]:
    provider = await new_member(stack, territory)
    sub = await subscribe(stack, provider, partner.url(name), ["mcvt.match.proposed.v1"])
    await publish(stack, proposed(territory.id, provider.id, str(uuid.uuid4())), "m", territory.id)
    return provider, sub


async def test_a_redirect_is_not_followed_and_the_attempt_is_retried(
    stack: Stack, territory: Territory, partner: Receiver
) -> None:
    name, elsewhere = hook(), hook()
    partner.on(name, Behaviour(redirect_to=partner.url(elsewhere)))
    provider, sub = await subscribed_and_sent(stack, territory, partner, name)

    async def attempted(times: int) -> dict[str, Any] | None:
        found = await delivery_of(stack, provider, sub["id"])
        return found if found and len(found["attempt_log"]) >= times else None

    first = await eventually(lambda: attempted(1), timeout=30)
    assert first["attempt_log"][0]["status_code"] == 302, first
    delivery = await eventually(lambda: attempted(2), timeout=30)
    assert [a["status_code"] for a in delivery["attempt_log"][:2]] == [302, 302]
    assert delivery["status"] in ("pending", "failed") and delivery["last_status"] == 302
    assert len(partner.of(name)) >= 2
    assert partner.arrivals(elsewhere) == 0  # never reached through the redirect


async def test_a_huge_answer_is_read_up_to_the_cap_only(
    stack: Stack, territory: Territory, partner: Receiver
) -> None:
    name = hook()
    # 64 kB at once, then a byte now and then, for ever: reading it all never ends.
    partner.on(name, Behaviour(endless=True, first_bytes=64_000))
    provider, sub = await subscribed_and_sent(stack, territory, partner, name)

    async def succeeded() -> dict[str, Any] | None:
        found = await delivery_of(stack, provider, sub["id"])
        return found if found and found["status"] == "succeeded" else None

    delivery = await eventually(succeeded, timeout=30)
    # The attempt that succeeded read up to the cap and stopped there (an uncapped read never
    # ends: no attempt would). One before it may have run out of the 2 s on a busy machine.
    attempt = delivery["attempt_log"][-1]
    assert attempt["status_code"] == 200 and attempt["error"] is None, delivery
    assert attempt["response"] == "x" * EXCERPT_BYTES
    assert attempt["duration_ms"] < TIMEOUT_S * 1000 / 2


async def test_an_answer_that_never_ends_times_out_within_the_total_timeout_and_is_retried(
    stack: Stack, territory: Territory, partner: Receiver
) -> None:
    name = hook()
    # Headers at once, then a byte every 0.3 s: each read is quick, the answer never complete.
    partner.on(name, Behaviour(endless=True, first_bytes=0, drip_s=0.3))
    provider, sub = await subscribed_and_sent(stack, territory, partner, name)

    async def retried() -> dict[str, Any] | None:
        found = await delivery_of(stack, provider, sub["id"])
        return found if found and len(found["attempt_log"]) >= 2 else None

    delivery = await eventually(retried, timeout=30)
    assert delivery["status"] != "succeeded"
    for attempt in delivery["attempt_log"][:2]:
        assert attempt["status_code"] is None
        assert attempt["error"] == f"no answer within {TIMEOUT_S:g} s"
        assert TIMEOUT_S * 1000 <= attempt["duration_ms"] < TIMEOUT_S * 1000 + 500
    assert partner.arrivals(name) >= 2
