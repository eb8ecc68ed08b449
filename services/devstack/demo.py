"""The demo territory that `make run` loads: a facilitator, a business, an association, and (when
the offers service runs) a refrigerated van offered per use and a need for it.

The territory and its first facilitator are created the way an operator does it
(`python -m services.actors bootstrap`); everything else goes through the public HTTP API.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

from services.actors.domain import ActorRegistration
from services.actors.handlers import bootstrap_territory
from services.actors.settings import ActorsSettings
from services.runtime.context import Context
from services.runtime.db import create_pool

TERRITORY = "Vallée de la Drôme (démo)"

BUSINESS = {
    "kind": "business",
    "name": "Transports Frigorifiques du Diois",
    "email": "contact@frigo-diois.example",
    "location": {"lat": 44.7536, "lon": 5.3703, "commune": "Die"},
    "description": "PME de transport ; un camion frigorifique reste au dépôt les week-ends.",
    "siret": "73282932000074",
}
ASSOCIATION = {
    "kind": "association",
    "name": "Épicerie solidaire du Diois",
    "email": "bonjour@epicerie-diois.example",
    "location": {"lat": 44.7420, "lon": 5.3650, "commune": "Die"},
    "description": "Collecte des invendus frais auprès des producteurs le samedi matin.",
}


async def _admitted_actor(
    client: httpx.AsyncClient, territory_id: str, body: dict[str, Any], facilitator: dict[str, str]
) -> tuple[str, str]:
    response = await client.post("/v1/actors", json={**body, "territory_id": territory_id})
    response.raise_for_status()
    registered = response.json()
    actor_id = registered["actor"]["id"]
    (await client.post(f"/v1/actors/{actor_id}/admit", headers=facilitator)).raise_for_status()
    return actor_id, registered["api_key"]["key"]


async def _token(client: httpx.AsyncClient, api_key: str) -> dict[str, str]:
    response = await client.post("/v1/auth/token", json={"api_key": api_key})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


SATURDAY = 5
VAN = {
    "category": "refrigerated_van",
    "title": "Fourgon frigorifique 12 m³",
    "description": "Fourgon frigorifique, groupe froid récent, au dépôt de Die le week-end.",
    "capacity": 1,
    "unit": "unit",
    "features": ["refrigerated", "tail_lift"],
    "availability": {
        "weekly": [
            {"weekday": SATURDAY, "start_minute": 7 * 60, "end_minute": 19 * 60},
            {"weekday": SATURDAY + 1, "start_minute": 7 * 60, "end_minute": 19 * 60},
        ]
    },
    "idle_share": 0.8,
}
OFFER = {
    "title": "Transport frigorifique à l'usage, avec chauffeur",
    "description": "Fourgon frigorifique avec chauffeur, payé à l'usage, le week-end.",
    "performance": [
        {"name": "availability", "unit": "%", "target": 95, "comparator": "gte"},
        {"name": "temperature", "unit": "°C", "target": 4, "comparator": "lte"},
        {"name": "ready_within", "unit": "h", "target": 2, "comparator": "lte"},
    ],
    "price": {"model": "per_use", "unit_price": 35},
    "eligible_requester_kinds": ["association"],
    "max_distance_km": 25,
}
NEED = {
    "title": "Un fourgon frigorifique le samedi matin",
    "description": "Collecte des invendus frais chez les producteurs, le samedi de 8 h à 12 h.",
    "category": "refrigerated_van",
    "quantity": 1,
    "unit": "unit",
    "required_features": ["refrigerated"],
    "weekly_windows": [{"weekday": SATURDAY, "start_minute": 8 * 60, "end_minute": 12 * 60}],
    "min_duration_minutes": 240,
    "max_distance_km": 15,
    "budget": {"max_unit_price": 40, "accepted_price_models": ["per_use"]},
    "urgency": "normal",
}


async def _post_when_known(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    """POST, retrying while the service has not yet heard (by event) of the actor (401 with
    Retry-After) or that it is active (403)."""
    deadline = time.monotonic() + 30
    while True:
        response = await client.post(path, json=body, headers=headers)
        if response.status_code < 400 or response.status_code not in (401, 403, 404, 409):
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result
        if time.monotonic() > deadline:
            response.raise_for_status()
        await asyncio.sleep(0.2)


async def _supply_and_demand(
    url: str, business_key: str, association_key: str, actors_url: str
) -> list[str]:
    async with httpx.AsyncClient(base_url=actors_url, timeout=10) as actors:
        business = await _token(actors, business_key)
        association = await _token(actors, association_key)
    async with httpx.AsyncClient(base_url=url, timeout=10) as offers:
        asset = await _post_when_known(offers, "/v1/assets", VAN, business)
        offer = await _post_when_known(
            offers, "/v1/offers", {**OFFER, "asset_id": asset["id"]}, business
        )
        need = await _post_when_known(offers, "/v1/needs", NEED, association)
    return [
        f"  offer '{offer['title']}' ({offer['id']}), per use at 35 EUR",
        f"  need  '{need['title']}' ({need['id']})",
    ]


async def load_demo(urls: dict[str, str], database_urls: dict[str, str]) -> list[str]:
    """Create the demo territory; return the lines to print (API keys are shown once, here)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    pool = await create_pool(database_urls["actors"], min_size=1, max_size=2)
    try:
        draft = ActorRegistration.model_validate(
            {
                "territory_id": "00000000-0000-0000-0000-000000000000",
                "kind": "association",
                "name": "Équipe d'animation MCVT",
                "email": "animation@mcvt.example",
            }
        )
        territory_id, _, facilitator_key = await bootstrap_territory(
            pool, TERRITORY, draft, Context(ActorsSettings().source)
        )
    finally:
        await pool.close()
    assert facilitator_key is not None
    async with httpx.AsyncClient(base_url=urls["actors"], timeout=10) as actors:
        facilitator = await _token(actors, facilitator_key.api_key)
        business_id, business_key = await _admitted_actor(
            actors, str(territory_id), BUSINESS, facilitator
        )
        association_id, association_key = await _admitted_actor(
            actors, str(territory_id), ASSOCIATION, facilitator
        )
    lines = [
        f"demo territory '{TERRITORY}' ({territory_id})",
        f"  facilitator API key: {facilitator_key.api_key}",
        f"  business    {BUSINESS['name']} ({business_id}) API key: {business_key}",
        f"  association {ASSOCIATION['name']} ({association_id}) API key: {association_key}",
        "  get a token: curl -s -X POST " + urls["actors"] + "/v1/auth/token "
        "-H 'content-type: application/json' -d '{\"api_key\": \"<key>\"}'",
    ]
    if "offers" in urls:
        lines += await _supply_and_demand(
            urls["offers"], business_key, association_key, urls["actors"]
        )
    return lines
