"""Steps of the notifications tests: subscribing, and events put on the broker as their services
would publish them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from contracts.envelope import CloudEvent, EventPayload, new_event
from contracts.governance import ProposalOpenedV1
from contracts.matches import MatchProposedV1, Score
from contracts.taxonomy import Unit
from tests.harness import Stack
from tests.scenario import Member
from tests.support import eventually, produce


def notifications(stack: Stack) -> httpx.AsyncClient:
    return stack["notifications"].client


async def subscribe(
    stack: Stack, member: Member, url: str, event_types: list[str], **extra: Any
) -> dict[str, Any]:
    response = await notifications(stack).post(
        "/v1/subscriptions",
        json={"url": url, "event_types": event_types, **extra},
        headers=member.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def proposed(territory_id: str, provider: str, requester: str) -> MatchProposedV1:
    now = datetime.now(UTC)
    return MatchProposedV1(
        match_id=str(uuid.uuid4()),
        territory_id=territory_id,
        offer_id=str(uuid.uuid4()),
        offer_version=1,
        need_id=str(uuid.uuid4()),
        need_version=1,
        provider_id=provider,
        requester_id=requester,
        status="proposed",
        quantity=1,
        unit=Unit.SEAT,
        score=Score(total=0.8, parts={}, weights={}, policy_version=1),
        proposed_at=now,
        expires_at=now + timedelta(days=2),
        version=1,
    )


def proposal_opened(territory_id: str) -> ProposalOpenedV1:
    return ProposalOpenedV1.model_validate(
        {
            "proposal_id": str(uuid.uuid4()),
            "territory_id": territory_id,
            "kind": "admit_actor",
            "title": "Admettre la Ressourcerie",
            "method": "majority",
            "secret": False,
            "college_weights": {"entreprises": 1},
            "electorate_size": 3,
            "opened_by": str(uuid.uuid4()),
            "opens_at": datetime.now(UTC).isoformat(),
            "closes_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
        }
    )


async def publish(
    stack: Stack, payload: EventPayload, subject: str, territory: str
) -> CloudEvent[Any]:
    """Put an event on its topic as its service would."""
    event = new_event(payload, subject=subject, territory=territory, source="/mcvt/tests")
    await produce(
        stack.kafka, str(payload.topic), event.model_dump_json().encode(), subject.encode()
    )
    return event


async def publish_many(
    stack: Stack, payloads: list[EventPayload], subject: str, territory: str
) -> list[CloudEvent[Any]]:
    """Put many events on their topics with one producer, in order."""
    events = [
        new_event(p, subject=subject, territory=territory, source="/mcvt/tests") for p in payloads
    ]
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka)
    await producer.start()
    try:
        for payload, event in zip(payloads, events, strict=True):
            await producer.send(
                str(payload.topic), event.model_dump_json().encode(), subject.encode()
            )
        await producer.flush()
    finally:
        await producer.stop()
    return events


async def logged(stack: Stack, event_id: str) -> None:
    """Wait until the service has taken the event (its notification log holds it)."""

    async def taken() -> bool:
        return bool(
            await stack.pool("notifications").fetchval(
                "SELECT true FROM notifications WHERE event_id = $1", event_id
            )
        )

    await eventually(taken)


def ids_of(bodies: list[bytes]) -> list[str]:
    return [json.loads(body)["id"] for body in bodies]
