"""The people and things of a territory, built through the public APIs as a user would.

Builders of actors, assets, offers and needs, and readers of the events they cause, shared by
the service and flow tests over a `tests.harness.Stack`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka import ConsumerRecord

from services.actors.domain import ActorRegistration
from services.actors.handlers import bootstrap_territory
from services.runtime.context import Context
from tests.harness import Stack
from tests.support import events_of, eventually, read_topic


async def token_for(client: httpx.AsyncClient, api_key: str) -> dict[str, str]:
    response = await client.post("/v1/auth/token", json={"api_key": api_key})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def registration(territory_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "territory_id": territory_id,
        "kind": "business",
        "name": "Transports Frigo Diois",
        # One registration per e-mail and territory: each registration its own address.
        "email": f"contact-{uuid.uuid4().hex[:12]}@frigo-diois.example",
        "location": {"lat": 44.75, "lon": 5.37, "commune": "Die"},
        "description": "Camion frigorifique disponible le week-end",
        "siret": "73282932000074",
    }
    return {**body, **overrides}


DIE: dict[str, Any] = {"lat": 44.7536, "lon": 5.3700, "commune": "Die"}
CREST: dict[str, Any] = {
    "lat": 44.7283,
    "lon": 5.0224,
    "commune": "Crest",
}  # about 27.6 km west of Die
VALENCE: dict[str, Any] = {
    "lat": 44.9334,
    "lon": 4.8924,
    "commune": "Valence",
}  # about 43 km from Die
STALE_NOTICE_DAYS = 7  # what the offers tests set


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


async def known_everywhere(stack: Stack, actor_id: str, status: str) -> None:
    """Wait until every service but actors lets the actor in with `status` (its access read
    model is kept from events, asynchronously)."""

    async def check() -> bool:
        for service in stack.running:
            if service == "actors":
                continue
            found = await stack.pool(service).fetchval(
                "SELECT status FROM access_actors WHERE actor_id = $1", uuid.UUID(actor_id)
            )
            if found != status:
                return False
        return True

    await eventually(check)


async def known_to_offers(stack: Stack, actor_id: str, status: str) -> None:
    """Wait until the offers read model holds the actor with `status` (events are asynchronous),
    and every service lets it in."""

    async def check() -> bool:
        if "offers" not in stack.running:  # a stack without offers: every service lets it in
            return True
        found = await stack.pool("offers").fetchval(
            "SELECT status FROM actors WHERE actor_id = $1", uuid.UUID(actor_id)
        )
        return bool(found == status)

    await eventually(check)
    await known_everywhere(stack, actor_id, status)


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
        stack.pool("actors"), name, draft, Context("/mcvt/actors")
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
    email: str | None = None,
    partner: bool = False,
) -> Member:
    """Register an actor at actors (its registrant's e-mail `email`, else a fresh one), admit it
    unless told not to (and make it a partner if told to), wait until offers knows it."""
    body = registration(territory.id, kind=kind, name=name, siret=None, location=location)
    if email is not None:
        body["email"] = email
    response = await stack.actors.post("/v1/actors", json=body)
    assert response.status_code == 201, response.text
    actor_id = response.json()["actor"]["id"]
    if admit:
        admitted = await stack.actors.post(
            f"/v1/actors/{actor_id}/admit", headers=territory.facilitator.headers
        )
        assert admitted.status_code == 200, admitted.text
    if partner:
        granted = await stack.actors.put(
            f"/v1/actors/{actor_id}/partner",
            json={"partner": True},
            headers=territory.facilitator.headers,
        )
        assert granted.status_code == 200, granted.text
    headers = await token_for(stack.actors, response.json()["api_key"]["key"])
    await known_to_offers(stack, actor_id, "active" if admit else "pending")
    return Member(actor_id, territory.id, headers)


async def open_offers(stack: Stack, territory: Territory, *, public: bool = True) -> None:
    """The territory's facilitator opens (or closes) its published offers to other territories;
    wait until every service but actors applied the setting."""
    response = await stack.actors.put(
        f"/v1/territories/{territory.id}/settings",
        json={"offers_public": public},
        headers=territory.facilitator.headers,
    )
    assert response.status_code == 200, response.text

    async def applied() -> bool:
        for service in stack.running:
            if service == "actors":
                continue
            found = await stack.pool(service).fetchval(
                "SELECT offers_public FROM access_territories WHERE territory_id = $1",
                uuid.UUID(territory.id),
            )
            if found is not public:
                return False
        return True

    await eventually(applied)


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
            "closures": [
                {"start": "2026-12-24T00:00:00+01:00", "end": "2026-12-26T00:00:00+01:00"}
            ],
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
    return int(await stack.pool("offers").fetchval("SELECT count(*) FROM outbox"))


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
