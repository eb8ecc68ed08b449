"""Steps shared by the agreements tests: an agreement made from a confirmed match, signatures,
the agreements service's clock and its timed jobs brought forward."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts.envelope import new_event
from contracts.matches import MatchConfirmedV1, Score
from contracts.topics import Topic
from services.agreements import handlers, impact
from services.devstack.ports import free_port
from tests.harness import Databases, Stack, start_stack
from tests.scenario import Member, Territory, declare, need, new_member, offer
from tests.support import eventually, produce


@contextlib.asynccontextmanager
async def agreements_stack(
    databases: Databases, kafka: str, **overrides: Any
) -> AsyncIterator[Stack]:
    """Actors, offers and agreements (consumer groups of its own, a quick scheduler)."""
    settings = {
        "agreements": {
            "consumer_group_prefix": f"agreements.{uuid.uuid4().hex[:8]}",
            "scheduler_poll_interval_s": 0.2,
            # No matching beside it: amendments that ask it find it out of reach.
            "matching_url": f"http://127.0.0.1:{free_port()}",
            **overrides,
        }
    }
    async with start_stack(databases, kafka, ["actors", "offers", "agreements"], settings) as stack:
        yield stack


class Clock:
    """The agreements service's clock, moved forward by a test (its timed jobs run on it)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def travel_to(self, moment: datetime) -> None:
        self.offset = max(self.offset, moment - datetime.now(UTC))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(handlers, "clock", moved)
    monkeypatch.setattr(impact, "clock", moved)
    return moved


def agreements(stack: Stack) -> httpx.AsyncClient:
    return stack["agreements"].client


@dataclass
class Deal:
    """An agreement between a business (provider) and an association (beneficiary)."""

    territory: Territory
    provider: Member
    beneficiary: Member
    offer: dict[str, Any]
    need: dict[str, Any]
    match_id: str
    agreement: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.agreement["id"])


def confirmed_match(offered: dict[str, Any], wanted: dict[str, Any]) -> MatchConfirmedV1:
    now = datetime.now(UTC)
    return MatchConfirmedV1(
        match_id=str(uuid.uuid4()),
        territory_id=offered["territory_id"],
        offer_id=offered["id"],
        offer_version=offered["version"],
        need_id=wanted["id"],
        need_version=wanted["version"],
        provider_id=offered["owner_id"],
        requester_id=wanted["owner_id"],
        status="confirmed",
        quantity=wanted["quantity"],
        unit=wanted["unit"],
        score=Score(total=1, parts={}, weights={}, policy_version=1),
        accepted_by=["provider", "requester"],
        proposed_at=now,
        expires_at=now + timedelta(days=1),
        version=3,
        confirmed_at=now,
    )


async def publish_match(stack: Stack, match: MatchConfirmedV1, *, times: int = 1) -> None:
    """Put the confirmation on mcvt.matches as matching would (`times` deliveries of one event)."""
    event = new_event(match, subject=match.match_id, territory=match.territory_id, source="/mcvt/m")
    for _ in range(times):
        await produce(stack.kafka, Topic.MATCHES, event.model_dump_json().encode(), key=b"m")


async def agreement_of(stack: Stack, member: Member, match_id: str) -> dict[str, Any]:
    """Wait until agreements made the match's agreement; it as `member` reads it."""

    async def made() -> dict[str, Any] | None:
        response = await agreements(stack).get("/v1/agreements", headers=member.headers)
        assert response.status_code == 200, response.text
        found = [a for a in response.json()["items"] if a["match_id"] == match_id]
        return found[0] if found else None

    found = await eventually(made, timeout=40)
    response = await agreements(stack).get(f"/v1/agreements/{found['id']}", headers=member.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def make_deal(
    stack: Stack,
    territory: Territory,
    *,
    provider_kind: str = "business",
    offer_fields: dict[str, Any] | None = None,
    need_fields: dict[str, Any] | None = None,
    times: int = 1,
) -> Deal:
    provider = await new_member(stack, territory, kind=provider_kind, name="Frigo Diois")
    beneficiary = await new_member(stack, territory, kind="association", name="Paniers du Diois")
    asset = await declare(stack, provider)
    offered = await offer(stack, provider, asset["id"], **(offer_fields or {}))
    expires = (datetime.now(UTC) + timedelta(days=20)).isoformat()
    wanted = await need(stack, beneficiary, **{"expires_at": expires, **(need_fields or {})})
    match = confirmed_match(offered, wanted)
    await publish_match(stack, match, times=times)
    found = await agreement_of(stack, provider, match.match_id)
    return Deal(territory, provider, beneficiary, offered, wanted, match.match_id, found)


async def sign(stack: Stack, member: Member, deal: Deal, version: int = 1) -> httpx.Response:
    return await agreements(stack).post(
        f"/v1/agreements/{deal.id}/sign", json={"terms_version": version}, headers=member.headers
    )


async def signed_by_both(stack: Stack, deal: Deal) -> dict[str, Any]:
    for member in (deal.provider, deal.beneficiary):
        response = await sign(stack, member, deal)
        assert response.status_code == 200, response.text
    return dict(response.json())


async def read(stack: Stack, member: Member, deal: Deal) -> dict[str, Any]:
    response = await agreements(stack).get(f"/v1/agreements/{deal.id}", headers=member.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def fire(stack: Stack, kind: str, deal: Deal) -> None:
    """Make the agreement's timed job of `kind` due now, and wake the scheduler."""
    pool = stack.pool("agreements")
    moved = await pool.execute(
        "UPDATE scheduled_jobs SET due_at = now() WHERE kind = $1 AND key = $2", kind, deal.id
    )
    assert moved == "UPDATE 1", f"no {kind} job for {deal.id}"
    await pool.execute("SELECT pg_notify('scheduled_jobs', extract(epoch FROM now())::text)")


async def status_is(stack: Stack, deal: Deal, status: str) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        found = await read(stack, deal.provider, deal)
        return found if found["status"] == status else None

    return dict(await eventually(reached, timeout=30))


async def activate(stack: Stack, clock: Clock, deal: Deal) -> dict[str, Any]:
    """Both sign, time comes to its start, it is active."""
    signed = await signed_by_both(stack, deal)
    assert signed["status"] == "signed" and signed["starts_at"], signed
    clock.travel_to(datetime.fromisoformat(signed["starts_at"]) + timedelta(minutes=1))
    await fire(stack, handlers.ACTIVATE, deal)
    return await status_is(stack, deal, "active")


async def report(
    stack: Stack, member: Member, deal: Deal, start: datetime, hours: float, **extra: Any
) -> httpx.Response:
    body = {
        "period_start": start.isoformat(),
        "period_end": (start + timedelta(hours=hours)).isoformat(),
        "quantity": str(extra.pop("quantity", hours)),
        **extra,
    }
    return await agreements(stack).post(
        f"/v1/agreements/{deal.id}/usage", json=body, headers=member.headers
    )


def fields(response: httpx.Response) -> list[str]:
    """The fields a problem+json answer names."""
    return [error["field"] for error in response.json().get("errors") or []]


async def decide(
    stack: Stack, member: Member, deal: Deal, report_id: str, decision: str, **body: Any
) -> httpx.Response:
    return await agreements(stack).post(
        f"/v1/agreements/{deal.id}/usage/{report_id}/{decision}",
        json=body or None,
        headers=member.headers,
    )


async def close_period(stack: Stack, clock: Clock, deal: Deal) -> list[dict[str, Any]]:
    """Time comes to the end of the period under way, which closes: the statements so far."""
    pool = stack.pool("agreements")
    due = await pool.fetchval(
        "SELECT due_at FROM scheduled_jobs WHERE kind = $1 AND key = $2",
        handlers.CLOSE_PERIOD,
        deal.id,
    )
    assert due is not None, "no period is open"
    before = await statements_of(stack, deal)
    clock.travel_to(due + timedelta(minutes=1))
    await fire(stack, handlers.CLOSE_PERIOD, deal)

    async def issued() -> list[dict[str, Any]] | None:
        found = await statements_of(stack, deal)
        return found if len(found) > len(before) else None

    return list(await eventually(issued, timeout=30))


async def statements_of(stack: Stack, deal: Deal) -> list[dict[str, Any]]:
    response = await agreements(stack).get(
        f"/v1/agreements/{deal.id}/statements", headers=deal.provider.headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def deliveries(stack: Stack, event_type: str) -> float:
    """How many deliveries of `event_type` agreements' consumers took (processed or found
    already in the inbox), from its metrics."""
    text = (await agreements(stack).get("/metrics")).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "mcvt_events_consumed_total"
                and sample.labels.get("type") == event_type
                and sample.labels.get("outcome") in ("processed", "duplicate")
            ):
                total += sample.value
    return total
