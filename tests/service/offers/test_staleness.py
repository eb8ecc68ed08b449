"""The staleness task: going-stale notices once per version, needs expired, offers ended.

The stack runs the sweep every 0.3 s with a notice of STALE_NOTICE_DAYS. Time passing is simulated
by moving a date into the past in the database, as the calendar would.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from tests.scenario import (
    STALE_NOTICE_DAYS,
    declare,
    events_for,
    need,
    new_member,
    offer,
    types,
)

SWEEPS = 1.0  # seconds: several sweeps of the stack's task


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def test_need_going_stale_once_per_version_then_expired(stack, territory) -> None:
    association = await new_member(stack, territory, kind="association", name="Paniers")
    quiet = await need(stack, association, expires_at=in_days(STALE_NOTICE_DAYS + 20))
    soon = await need(stack, association, expires_at=in_days(2))

    events = await events_for(
        stack, "mcvt.needs", soon["id"], until=1, type_="mcvt.need.going_stale.v1"
    )
    assert types(events) == ["mcvt.need.published.v1", "mcvt.need.going_stale.v1"]
    # The association published it; the platform's own sweep sent the notice, on nobody's behalf.
    assert [e["actorid"] for e in events] == [association.id, None]
    assert events[1]["source"] == "/mcvt/offers"
    notice = events[1]["data"]
    assert notice["version"] == 1 and notice["status"] == "open"
    assert datetime.fromisoformat(notice["stale_at"]) == datetime.fromisoformat(soon["expires_at"])
    assert notice["category"] == "refrigerated_van"  # the full state, for the owner's renewal

    await asyncio.sleep(SWEEPS)
    renewed = await stack.offers.patch(
        f"/v1/needs/{soon['id']}", json={"expires_at": in_days(3)}, headers=association.headers
    )
    assert renewed.status_code == 200 and renewed.json()["version"] == 2
    events = await events_for(
        stack, "mcvt.needs", soon["id"], until=2, type_="mcvt.need.going_stale.v1"
    )
    # One notice per version, however many sweeps ran in between.
    assert types(events) == [
        "mcvt.need.published.v1",
        "mcvt.need.going_stale.v1",
        "mcvt.need.updated.v1",
        "mcvt.need.going_stale.v1",
    ]
    assert [e["data"]["version"] for e in events] == [1, 1, 2, 2]

    # The date passes: the sweep expires the need.
    await stack.pool("offers").execute(
        "UPDATE needs SET expires_at = now() - interval '1 minute' WHERE id = $1",
        uuid.UUID(soon["id"]),
    )
    events = await events_for(
        stack, "mcvt.needs", soon["id"], until=1, type_="mcvt.need.expired.v1"
    )
    assert types(events)[-1] == "mcvt.need.expired.v1"
    assert events[-1]["data"]["status"] == "expired" and events[-1]["data"]["version"] == 3
    gone = await stack.offers.get(f"/v1/needs/{soon['id']}", headers=association.headers)
    assert gone.json()["status"] == "expired"
    late = await stack.offers.patch(
        f"/v1/needs/{soon['id']}", json={"expires_at": in_days(30)}, headers=association.headers
    )
    assert late.status_code == 409

    # A need far from its expiry got no notice at all.
    assert (
        await stack.pool("offers").fetchval(
            "SELECT count(*) FROM outbox WHERE key = $1", quiet["id"]
        )
        == 1
    )


async def test_offer_going_stale_then_paused_when_its_validity_ends(stack, territory) -> None:
    business = await new_member(stack, territory)
    asset = await declare(stack, business)
    ending = await offer(stack, business, asset["id"], valid_to=in_days(3))
    lasting = await offer(stack, business, asset["id"])

    events = await events_for(
        stack, "mcvt.offers", ending["id"], until=1, type_="mcvt.offer.going_stale.v1"
    )
    assert types(events) == ["mcvt.offer.published.v1", "mcvt.offer.going_stale.v1"]
    assert events[1]["data"]["version"] == 1
    assert datetime.fromisoformat(events[1]["data"]["stale_at"]) == datetime.fromisoformat(
        ending["valid_to"]
    )
    assert events[1]["data"]["asset"]["category"] == "refrigerated_van"

    await asyncio.sleep(SWEEPS)
    await stack.pool("offers").execute(
        "UPDATE offers SET valid_to = now() - interval '1 minute' WHERE id = $1",
        uuid.UUID(ending["id"]),
    )
    events = await events_for(
        stack, "mcvt.offers", ending["id"], until=1, type_="mcvt.offer.paused.v1"
    )
    assert types(events) == [
        "mcvt.offer.published.v1",
        "mcvt.offer.going_stale.v1",
        "mcvt.offer.paused.v1",
    ]
    assert events[2]["data"]["paused_by"] is None
    assert events[2]["data"]["reason"] == "validity ended"

    # Its provider renews it: a later validity, then resume.
    refused = await stack.offers.post(
        f"/v1/offers/{ending['id']}/publish", headers=business.headers
    )
    assert refused.status_code == 409
    extended = await stack.offers.patch(
        f"/v1/offers/{ending['id']}", json={"valid_to": in_days(90)}, headers=business.headers
    )
    assert extended.status_code == 200, extended.text
    resumed = await stack.offers.post(
        f"/v1/offers/{ending['id']}/publish", headers=business.headers
    )
    assert resumed.status_code == 200 and resumed.json()["status"] == "published"
    # An offer valid for long got no notice at all.
    assert (
        await stack.pool("offers").fetchval(
            "SELECT count(*) FROM outbox WHERE key = $1", lasting["id"]
        )
        == 1
    )
