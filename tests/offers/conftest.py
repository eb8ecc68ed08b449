"""The offers service with the real actors service beside it, sharing the real broker.

One stack per test package: starting two services costs seconds, so tests share them and keep
apart by working in territories and actors of their own. Actors is served on a real socket
because offers verifies tokens with the JWKS it publishes there.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import ConsumerRecord

from services.actors.app import build_app as build_actors_app
from services.actors.domain import ActorRegistration
from services.actors.handlers import bootstrap_territory
from services.actors.settings import ActorsSettings
from services.devstack.postgres import create_database, drop_database
from services.offers.app import build_app as build_offers_app
from services.offers.settings import OffersSettings
from services.runtime.context import Context
from tests.actors.conftest import registration, token_for
from tests.support import (
    QUICK_CONSUMERS,
    asgi_client,
    events_of,
    eventually,
    http_server,
    read_topic,
)

DIE = {"lat": 44.7536, "lon": 5.3700, "commune": "Die"}
CREST = {"lat": 44.7283, "lon": 5.0224, "commune": "Crest"}  # about 27.6 km west of Die
VALENCE = {"lat": 44.9334, "lon": 4.8924, "commune": "Valence"}  # about 43 km from Die
STALE_NOTICE_DAYS = 7


@dataclass
class Stack:
    kafka: str
    actors: httpx.AsyncClient
    offers: httpx.AsyncClient
    actors_app: Any
    offers_app: Any

    @property
    def actors_pool(self) -> asyncpg.Pool:
        return self.actors_app.state.runtime.pool

    @property
    def offers_pool(self) -> asyncpg.Pool:
        return self.offers_app.state.runtime.pool


@pytest.fixture(scope="package")
async def stack(pg_server: str, kafka: str) -> AsyncIterator[Stack]:
    suffix = uuid.uuid4().hex[:10]
    names = [f"mcvt_test_offers_actors_{suffix}", f"mcvt_test_offers_{suffix}"]
    actors_db, offers_db = [await create_database(pg_server, name) for name in names]
    actors_app = build_actors_app(
        ActorsSettings(
            database_url=actors_db,
            kafka_bootstrap_servers=kafka,
            outbox_poll_interval_s=0.1,
            **QUICK_CONSUMERS,
        )
    )
    try:
        async with http_server(actors_app) as actors_base:
            offers_app = build_offers_app(
                OffersSettings(
                    database_url=offers_db,
                    kafka_bootstrap_servers=kafka,
                    jwks_url=f"{actors_base}/.well-known/jwks.json",
                    outbox_poll_interval_s=0.1,
                    consumer_retry_backoff_s=0.01,
                    staleness_interval_s=0.3,
                    stale_notice_days=STALE_NOTICE_DAYS,
                    **QUICK_CONSUMERS,
                )
            )
            async with (
                httpx.AsyncClient(base_url=actors_base, timeout=30) as actors_client,
                asgi_client(offers_app) as offers_client,
            ):
                yield Stack(kafka, actors_client, offers_client, actors_app, offers_app)
    finally:
        for name in names:
            await drop_database(pg_server, name)


@dataclass
class Member:
    """An actor known to both services, with the headers that authenticate it."""

    id: str
    territory_id: str
    headers: dict[str, str]


@dataclass
class Territory:
    id: str
    facilitator: Member


async def known_to_offers(stack: Stack, actor_id: str, status: str) -> None:
    """Wait until the offers read model holds the actor with `status` (events are asynchronous)."""

    async def check() -> bool:
        found = await stack.offers_pool.fetchval(
            "SELECT status FROM actors WHERE actor_id = $1", uuid.UUID(actor_id)
        )
        return bool(found == status)

    await eventually(check)


@pytest.fixture
async def territory(stack: Stack) -> Territory:
    return await new_territory(stack)


async def new_territory(stack: Stack) -> Territory:
    draft = ActorRegistration.model_validate(
        {
            "territory_id": str(uuid.uuid4()),
            "kind": "association",
            "name": "Équipe MCVT",
            "email": "facilitation@mcvt.example",
            "location": DIE,
        }
    )
    name = f"Vallée {uuid.uuid4().hex[:8]}"
    territory_id, actor, key = await bootstrap_territory(
        stack.actors_pool, name, draft, Context("/mcvt/actors")
    )
    assert actor is not None and key is not None
    headers = await token_for(stack.actors, key.api_key)
    await known_to_offers(stack, str(actor.id), "active")
    return Territory(str(territory_id), Member(str(actor.id), str(territory_id), headers))


async def new_member(
    stack: Stack,
    territory: Territory,
    *,
    kind: str = "business",
    name: str = "Transports Frigo Diois",
    location: dict[str, Any] | None = DIE,
    admit: bool = True,
) -> Member:
    """Register an actor at actors, admit it unless told not to, wait until offers knows it."""
    body = registration(territory.id, kind=kind, name=name, siret=None, location=location)
    response = await stack.actors.post("/v1/actors", json=body)
    assert response.status_code == 201, response.text
    actor_id = response.json()["actor"]["id"]
    if admit:
        admitted = await stack.actors.post(
            f"/v1/actors/{actor_id}/admit", headers=territory.facilitator.headers
        )
        assert admitted.status_code == 200, admitted.text
    headers = await token_for(stack.actors, response.json()["api_key"]["key"])
    await known_to_offers(stack, actor_id, "active" if admit else "pending")
    return Member(actor_id, territory.id, headers)


# --- request bodies ---------------------------------------------------------------------------

SATURDAY = 5


def van(**overrides: Any) -> dict[str, Any]:
    body = {
        "category": "refrigerated_van",
        "title": "Fourgon frigorifique 12 m³",
        "description": "Fourgon frigorifique, groupe froid récent, disponible le week-end.",
        "capacity": 12,
        "unit": "m3",
        "features": ["refrigerated", "tail_lift"],
        "location": DIE,
        "availability": {
            "weekly": [{"weekday": SATURDAY, "start_minute": 7 * 60, "end_minute": 13 * 60}],
            "closures": [{"start": "2026-12-24T00:00:00", "end": "2026-12-26T00:00:00"}],
        },
        "idle_share": 0.8,
    }
    return {**body, **overrides}


def offer_on(asset_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "asset_id": asset_id,
        "title": "Transport frigorifique à l'usage",
        "description": "Fourgon frigorifique avec chauffeur, payé à l'usage.",
        "performance": [
            {"name": "availability", "unit": "%", "target": 95, "comparator": "gte"},
            {"name": "temperature", "unit": "°C", "target": 4, "comparator": "lte"},
            {"name": "ready_within", "unit": "h", "target": 2, "comparator": "lte"},
        ],
        "price": {"model": "per_use", "unit_price": 35},
        "eligible_requester_kinds": ["association"],
        "max_distance_km": 25,
    }
    return {**body, **overrides}


def need_for(**overrides: Any) -> dict[str, Any]:
    body = {
        "title": "Un fourgon frigorifique le samedi matin",
        "description": "Distribution de paniers frais aux familles, le samedi de 8 h à 12 h.",
        "category": "refrigerated_van",
        "quantity": 8,
        "unit": "m3",
        "required_features": ["refrigerated"],
        "weekly_windows": [{"weekday": SATURDAY, "start_minute": 8 * 60, "end_minute": 12 * 60}],
        "min_duration_minutes": 240,
        "max_distance_km": 15,
        "budget": {"max_unit_price": 40, "accepted_price_models": ["per_use"]},
        "urgency": "normal",
    }
    return {**body, **overrides}


async def declare(stack: Stack, member: Member, **overrides: Any) -> dict[str, Any]:
    response = await stack.offers.post("/v1/assets", json=van(**overrides), headers=member.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def offer(stack: Stack, member: Member, asset_id: str, **overrides: Any) -> dict[str, Any]:
    response = await stack.offers.post(
        "/v1/offers", json=offer_on(asset_id, **overrides), headers=member.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def need(stack: Stack, member: Member, **overrides: Any) -> dict[str, Any]:
    response = await stack.offers.post(
        "/v1/needs", json=need_for(**overrides), headers=member.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


# --- events -----------------------------------------------------------------------------------


async def events_for(
    stack: Stack, topic: str, subject: str, *, until: int, type_: str | None = None
) -> list[dict[str, Any]]:
    """Events about `subject` on the broker, once at least `until` of them (of `type_`) arrived."""
    match: dict[str, Any] = {"subject": subject}
    if type_ is not None:
        match["type"] = type_

    def enough(records: list[ConsumerRecord[bytes, bytes]]) -> bool:
        return len(events_of(records, **match)) >= until

    records = await read_topic(stack.kafka, topic, until=enough)
    return events_of(records, subject=subject)


async def outbox_count(stack: Stack) -> int:
    return int(await stack.offers_pool.fetchval("SELECT count(*) FROM outbox"))


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
