"""Steps of the matching flows: the services' view of matches, decisions put on the bus."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
from aiokafka import ConsumerRecord

from contracts.envelope import new_event
from contracts.governance import DecisionMadeV1
from contracts.topics import Topic
from services.matching.model import NeedView, OfferView
from services.matching.ownership import Territories
from services.matching.settings import MatchingSettings
from tests.harness import Stack
from tests.scenario import Member, Territory
from tests.support import events_of, eventually, produce, read_topic


@dataclass
class Flow:
    """Actors, offers and matching on one broker; matching's parts at hand."""

    stack: Stack

    @property
    def kafka(self) -> str:
        return self.stack.kafka

    @property
    def matching(self) -> httpx.AsyncClient:
        return self.stack["matching"].client

    @property
    def app(self) -> Any:
        return self.stack["matching"].app

    @property
    def settings(self) -> MatchingSettings:
        settings = self.stack["matching"].settings
        assert isinstance(settings, MatchingSettings)
        return settings

    @property
    def pool(self) -> asyncpg.Pool:
        return self.stack.pool("matching")

    @property
    def model(self) -> Held:
        """The offers and needs of the territories matching holds, by id."""
        territories: Territories = self.app.state.territories
        return Held(
            offers={o.offer_id: o for o in territories.offers},
            needs={n.need_id: n for n in territories.needs},
        )


@dataclass(frozen=True)
class Held:
    offers: dict[str, OfferView]
    needs: dict[str, NeedView]


# Taken by the read model's group and, for what it forwarded, by the territory's owner.
_SETTLED = """
SELECT EXISTS (SELECT 1 FROM inbox WHERE event_id::text = $1::text)
   AND NOT EXISTS (
       SELECT 1 FROM outbox o
       WHERE convert_from(o.payload, 'UTF8')::jsonb ->> 'causationid' = $1::text
         AND o.topic LIKE 'mcvt.%.territories'
         AND NOT EXISTS (SELECT 1 FROM inbox i WHERE i.event_id::text = o.event_id::text))
"""


async def settled(flow: Flow, event_id: str) -> None:
    """Wait until matching has applied the event: its read model and its territory's owner."""

    async def done() -> bool:
        return bool(await flow.pool.fetchval(_SETTLED, event_id))

    await eventually(done)


# --- governance decisions (the governance service does not exist yet: produced directly) ------


def decision(territory_id: str, parameters: dict[str, Any], **overrides: Any) -> DecisionMadeV1:
    fields: dict[str, Any] = {
        "decision_id": str(uuid.uuid4()),
        "proposal_id": str(uuid.uuid4()),
        "territory_id": territory_id,
        "kind": "change_matching_policy",
        "outcome": "adopted",
        "parameters": parameters,
        "decided_at": datetime.now(UTC),
        **overrides,
    }
    return DecisionMadeV1(**fields)


async def publish_decision(flow: Flow, made: DecisionMadeV1) -> str:
    """Put the decision on mcvt.governance as the governance service would; return its event id."""
    event = new_event(
        made, subject=made.proposal_id, territory=made.territory_id, source="/mcvt/governance"
    )
    await produce(flow.kafka, Topic.GOVERNANCE, event.model_dump_json().encode(), key=b"p")
    return event.id


async def policy_of(flow: Flow, member: Member) -> dict[str, Any]:
    response = await flow.matching.get("/v1/policy", headers=member.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def adopt_policy(flow: Flow, territory: Territory, **parameters: Any) -> dict[str, Any]:
    """Adopt a policy change in the territory and wait until matching applies it."""
    before = (await policy_of(flow, territory.facilitator))["version"]
    await publish_decision(flow, decision(territory.id, parameters))

    async def applied() -> dict[str, Any] | None:
        policy = await policy_of(flow, territory.facilitator)
        return policy if policy["version"] > before else None

    return dict(await eventually(applied))


# --- matches on the broker and through the API ------------------------------------------------


async def indexed(flow: Flow, *, offer_id: str | None = None, need_id: str | None = None) -> None:
    """Wait until matching holds the offer or the need: events of different topics may be
    taken in any order, and some tests need to know which one came first."""

    def held() -> bool:
        model = flow.model
        return (offer_id is None or offer_id in model.offers) and (
            need_id is None or need_id in model.needs
        )

    await eventually(held)


async def match_events(
    flow: Flow, *, until: int = 1, type_: str | None = None, **data: Any
) -> list[dict[str, Any]]:
    """Events on mcvt.matches whose payload has `data`'s values, once `until` of them (of
    `type_`) arrived."""

    def wanted(records: list[ConsumerRecord[bytes, bytes]]) -> list[dict[str, Any]]:
        return [
            e
            for e in events_of(records)
            if all(e["data"].get(k) == v for k, v in data.items())
            and (type_ is None or e["type"] == type_)
        ]

    records = await read_topic(flow.kafka, Topic.MATCHES, until=lambda r: len(wanted(r)) >= until)
    found = [e for e in events_of(records) if all(e["data"].get(k) == v for k, v in data.items())]
    assert len([e for e in found if type_ is None or e["type"] == type_]) >= until, found
    return found


async def proposals_for(flow: Flow, need_id: str, *, until: int = 1) -> list[dict[str, Any]]:
    """The need's proposals, oldest first (they may lie in different partitions)."""
    found = await match_events(flow, until=until, type_="mcvt.match.proposed.v1", need_id=need_id)
    proposed = [e for e in found if e["type"] == "mcvt.match.proposed.v1"]
    return sorted(proposed, key=lambda e: datetime.fromisoformat(e["data"]["proposed_at"]))


async def get_match(flow: Flow, member: Member, match_id: str) -> httpx.Response:
    return await flow.matching.get(f"/v1/matches/{match_id}", headers=member.headers)


async def accept(flow: Flow, member: Member, match_id: str) -> httpx.Response:
    return await flow.matching.post(f"/v1/matches/{match_id}/accept", headers=member.headers)


async def status_of(flow: Flow, member: Member, match_id: str, status: str) -> dict[str, Any]:
    """Wait until the match has `status` as seen by `member`; return it."""

    async def check() -> dict[str, Any] | None:
        response = await get_match(flow, member, match_id)
        assert response.status_code == 200, response.text
        body = dict(response.json())
        return body if body["status"] == status else None

    return dict(await eventually(check))
