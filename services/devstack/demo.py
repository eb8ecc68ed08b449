"""The demo territory that `make run` loads: a facilitator, a business, an association, and (when
the offers service runs) a refrigerated van offered per use and a need for it.

The territory and its first facilitator are created the way an operator does it
(`python -m services.actors bootstrap`); everything else goes through the public HTTP API.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from services.actors.domain import ActorRegistration
from services.actors.handlers import Context, bootstrap_territory
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
            pool, TERRITORY, draft, Context()
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
    return lines
