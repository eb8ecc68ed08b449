from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.actors.app import build_app
from services.actors.domain import ActorRegistration
from services.actors.handlers import bootstrap_territory
from services.actors.settings import ActorsSettings
from services.runtime.context import Context
from tests.support import QUICK_CONSUMERS, asgi_client


@dataclass
class ActorsService:
    client: httpx.AsyncClient
    app: Any
    settings: ActorsSettings

    @property
    def pool(self) -> Any:
        return self.app.state.runtime.pool


@pytest.fixture
async def actors(new_database, kafka: str) -> AsyncIterator[ActorsService]:
    settings = ActorsSettings(
        database_url=await new_database("actors"),
        kafka_bootstrap_servers=kafka,
        outbox_poll_interval_s=0.2,
        consumer_retry_backoff_s=0.01,
        **QUICK_CONSUMERS,
    )
    app = build_app(settings)
    async with asgi_client(app) as client:
        yield ActorsService(client, app, settings)


async def token_for(client: httpx.AsyncClient, api_key: str) -> dict[str, str]:
    response = await client.post("/v1/auth/token", json={"api_key": api_key})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@dataclass
class Territory:
    id: str
    facilitator_id: str
    facilitator: dict[str, str]  # auth headers


@pytest.fixture
async def territory(actors: ActorsService) -> Territory:
    draft = ActorRegistration.model_validate(
        {
            "territory_id": "00000000-0000-0000-0000-000000000000",
            "kind": "association",
            "name": "Équipe MCVT",
            "email": "facilitation@mcvt.example",
        }
    )
    territory_id, actor, key = await bootstrap_territory(
        actors.pool, "Vallée de la Drôme", draft, Context("/mcvt/actors")
    )
    assert actor is not None and key is not None
    return Territory(str(territory_id), str(actor.id), await token_for(actors.client, key.api_key))


def registration(territory_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "territory_id": territory_id,
        "kind": "business",
        "name": "Transports Frigo Diois",
        "email": "contact@frigo-diois.example",
        "location": {"lat": 44.75, "lon": 5.37, "commune": "Die"},
        "description": "Camion frigorifique disponible le week-end",
        "siret": "73282932000074",
    }
    return {**body, **overrides}
