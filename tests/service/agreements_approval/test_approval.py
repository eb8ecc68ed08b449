"""Agreements on a local authority's asset wait for governance's decision when the rule asks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from contracts.envelope import new_event
from contracts.governance import DecisionMadeV1
from contracts.topics import Topic
from services.agreements import handlers
from tests.harness import Stack
from tests.scenario import Territory
from tests.service.agreements.steps import (
    Clock,
    Deal,
    fire,
    make_deal,
    read,
    signed_by_both,
    status_is,
)
from tests.support import eventually, produce


async def decide(stack: Stack, deal: Deal, outcome: str) -> None:
    made = DecisionMadeV1(
        decision_id=str(uuid.uuid4()),
        proposal_id=str(uuid.uuid4()),
        territory_id=deal.territory.id,
        kind="approve_public_asset_agreement",
        outcome=outcome,
        subject_id=deal.id,
        decided_at=datetime.now(UTC),
    )
    event = new_event(made, subject=made.proposal_id, territory=deal.territory.id, source="/g")
    await produce(stack.kafka, Topic.GOVERNANCE, event.model_dump_json().encode(), key=b"p")


async def approval_is(stack: Stack, deal: Deal, approval: str) -> dict[str, object]:
    async def reached() -> dict[str, object] | None:
        found = await read(stack, deal.provider, deal)
        return found if found["approval"] == approval else None

    return dict(await eventually(reached))


async def test_signed_it_starts_only_once_governance_approved(
    stack: Stack, territory: Territory, clock: Clock
) -> None:
    deal = await make_deal(stack, territory, provider_kind="local_authority")
    assert deal.agreement["approval"] == "pending" and deal.agreement["public_asset"]
    signed = await signed_by_both(stack, deal)
    assert signed["status"] == "signed" and signed["starts_at"] is None
    await decide(stack, deal, "adopted")
    approved = await approval_is(stack, deal, "approved")
    assert approved["starts_at"] is not None
    clock.travel_to(datetime.fromisoformat(str(approved["starts_at"])))
    await fire(stack, handlers.ACTIVATE, deal)
    await status_is(stack, deal, "active")


async def test_rejected_it_ends(stack: Stack, territory: Territory) -> None:
    deal = await make_deal(stack, territory, provider_kind="local_authority")
    await decide(stack, deal, "rejected")
    ended = await status_is(stack, deal, "terminated")
    assert ended["approval"] == "rejected"
    assert ended["termination"]["reason"] == "approval_rejected"


async def test_a_business_asset_waits_for_nothing(stack: Stack, territory: Territory) -> None:
    deal = await make_deal(stack, territory)
    assert deal.agreement["approval"] == "not_required"
