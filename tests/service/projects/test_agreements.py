"""An agreement that activates serves its project's need, even when its event overtakes the
need's (another topic): the service waits for the need, but only for an agreement of a project."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer

from contracts.agreements import AgreementActivatedV1
from contracts.envelope import EventPayload, new_event
from contracts.needs import NeedPublishedV1
from tests.harness import Stack
from tests.scenario import Member, new_member, new_territory
from tests.service.projects.steps import get, start
from tests.support import eventually

LATER = datetime.now(UTC) + timedelta(days=30)


def activated(need_id: str, territory_id: str, project_id: str | None) -> AgreementActivatedV1:
    return AgreementActivatedV1.model_validate(
        {
            "agreement_id": str(uuid.uuid4()),
            "territory_id": territory_id,
            "provider_id": str(uuid.uuid4()),
            "beneficiary_id": str(uuid.uuid4()),
            "match_id": str(uuid.uuid4()),
            "offer_id": str(uuid.uuid4()),
            "need_id": need_id,
            "asset_id": str(uuid.uuid4()),
            "offer_version": 1,
            "need_version": 1,
            "category": "workshop",
            "status": "active",
            "approval": "not_required",
            "terms": {
                "version": 1,
                "quantity": 1,
                "unit": "hour",
                "price": {"model": "per_use", "unit_amount": 0, "amount_unit": "eur_cents"},
                "clause": {},
                "ends_at": LATER.isoformat(),
            },
            "ends_at": LATER.isoformat(),
            "version": 2,
            "project_id": project_id,
        }
    )


def published(need_id: str, carrier: Member, project_id: str) -> NeedPublishedV1:
    return NeedPublishedV1.model_validate(
        {
            "need_id": need_id,
            "requester_id": carrier.id,
            "requester_kind": "business",
            "territory_id": carrier.territory_id,
            "status": "open",
            "title": "Un pont élévateur",
            "description": "",
            "category": "workshop",
            "quantity": 1,
            "unit": "hour",
            "min_duration_minutes": 60,
            "location": {"lat": 44.75, "lon": 5.37},
            "max_distance_km": 20,
            "budget": {"accepted_price_models": ["per_use"]},
            "urgency": "normal",
            "expires_at": LATER.isoformat(),
            "version": 1,
            "project_id": project_id,
        }
    )


async def send(stack: Stack, sent: list[tuple[EventPayload, str, str]], key: bytes) -> None:
    """Put events on their topics in order, all under one key (one partition per topic)."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka)
    await producer.start()
    try:
        for payload, subject, territory in sent:
            event = new_event(payload, subject=subject, territory=territory, source="/mcvt/tests")
            await producer.send(str(payload.topic), event.model_dump_json().encode(), key)
        await producer.flush()
    finally:
        await producer.stop()


async def test_an_activation_overtaking_its_need_waits_for_it(stack: Stack) -> None:
    town = await new_territory(stack)
    carrier = await new_member(stack, town)
    project = await start(stack, carrier)
    need_id = str(uuid.uuid4())
    stray = activated(str(uuid.uuid4()), town.id, None)  # an agreement of no project
    early = activated(need_id, town.id, project["id"])
    key = uuid.uuid4().bytes
    await send(
        stack,
        [(stray, stray.agreement_id, town.id), (early, early.agreement_id, town.id)],
        key,
    )
    await send(stack, [(published(need_id, carrier, project["id"]), need_id, town.id)], key)

    async def served() -> Any:
        needs = (await get(stack, carrier, project["id"]))["needs"]
        return needs and needs[0]["agreement_id"] == early.agreement_id

    # Well within the NotYet timeout: the agreement of no project did not hold the partition.
    await eventually(served, timeout=15)
    found = await get(stack, carrier, project["id"])
    assert [n["need_id"] for n in found["needs"]] == [need_id]
    assert found["still_needed"] == []
