"""A person's session beyond the actors service: signing out ends its tokens in offers through
the event; and asking for links is limited per e-mail, known or not."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.harness import Databases, Running, Stack, start_stack
from tests.mailbox import Mailbox
from tests.scenario import new_territory, registration
from tests.support import eventually

# "About a second" on a loaded two-core test machine: the consumer's fetch wait plus a commit.
WITHIN_S = 5.0


@pytest.fixture
async def stack(databases: Databases, kafka: str, mailbox: Mailbox) -> AsyncIterator[Stack]:
    settings: dict[str, dict[str, Any]] = {"actors": mailbox.settings}
    async with start_stack(databases, kafka, ["actors", "offers"], settings) as stack:
        yield stack


async def test_signing_out_ends_access_in_offers_at_once(stack: Stack, mailbox: Mailbox) -> None:
    territory = await new_territory(stack)
    body = registration(territory.id, siret=None)
    registered = await stack.actors.post("/v1/actors", json=body)
    actor_id = registered.json()["actor"]["id"]
    admitted = await stack.actors.post(
        f"/v1/actors/{actor_id}/admit", headers=territory.facilitator.headers
    )
    assert admitted.status_code == 200
    token = await mailbox.link_to(body["email"])
    grant = (await stack.actors.post("/v1/sign-in/sessions", json={"token": token})).json()
    auth = {"Authorization": f"Bearer {grant['access_token']}"}

    async def offers_answers() -> int:
        return (await stack.offers.get("/v1/offers", headers=auth)).status_code

    # Offers accepts the person's token once it has heard of the actor's admission.
    await eventually(lambda: _is(offers_answers(), 200))
    out = await stack.actors.post("/v1/sign-out", json={"refresh_token": grant["refresh_token"]})
    assert out.status_code == 204
    started = time.monotonic()
    await eventually(lambda: _is(offers_answers(), 401), timeout=WITHIN_S)
    print(f"offers refused the signed-out session after {time.monotonic() - started:.2f} s")


async def _is(answer: Any, expected: int) -> bool:
    return bool(await answer == expected)


@pytest.fixture
async def limited(databases: Databases, kafka: str, mailbox: Mailbox) -> AsyncIterator[Running]:
    limits = {
        **mailbox.settings,
        "rate_limit_sign_in_per_email": "2/minute",
        "rate_limit_sensitive": "5/minute",
    }
    async with start_stack(databases, kafka, ["actors"], {"actors": limits}) as stack:
        yield stack["actors"]


async def test_links_are_limited_per_email_known_or_not(limited: Running) -> None:
    unknown = f"inconnu-{uuid.uuid4().hex[:8]}@example.org"
    other = f"autre-{uuid.uuid4().hex[:8]}@example.org"

    answers = [
        await limited.client.post("/v1/sign-in/links", json={"email": e})
        for e in (unknown, unknown.upper(), unknown, other)
    ]

    assert [a.status_code for a in answers] == [202, 202, 429, 202]
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert answers[2].headers["content-type"] == "application/problem+json"


async def test_links_are_limited_per_address_as_the_portal_forwards_it(limited: Running) -> None:
    # The portal, on loopback (trusted by FORWARDED_ALLOW_IPS), names its visitor's address.
    def asking(address: str) -> dict[str, str]:
        return {"X-Forwarded-For": address}

    answers = [
        await limited.client.post(
            "/v1/sign-in/links",
            json={"email": f"p{n}-{uuid.uuid4().hex[:6]}@example.org"},
            headers=asking("203.0.113.5"),
        )
        for n in range(6)
    ]
    elsewhere = await limited.client.post(
        "/v1/sign-in/links", json={"email": "q@example.org"}, headers=asking("198.51.100.7")
    )

    assert [a.status_code for a in answers] == [202] * 5 + [429]
    assert elsewhere.status_code == 202
