"""Actors, offers and matching together on the real broker, traced into memory.

The three services share one tracer provider whose spans stay in an in-memory exporter, so a
test can follow one request's trace across services. Actors is served on a real socket because
offers and matching verify tokens with the key set it publishes there.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.actors.app import spec as actors_spec
from services.actors.handlers import bootstrap_territory
from services.actors.settings import ActorsSettings
from services.devstack.postgres import create_database, drop_database
from services.matching.app import spec as matching_spec
from services.matching.settings import MatchingSettings
from services.offers.app import spec as offers_spec
from services.offers.settings import OffersSettings
from services.runtime.context import Context
from services.runtime.service import create_app
from tests.support import QUICK_CONSUMERS, asgi_client, http_server

QUICK: dict[str, Any] = {
    "outbox_poll_interval_s": 0.1,
    "consumer_retry_backoff_s": 0.01,
    **QUICK_CONSUMERS,
}


@dataclass
class Observed:
    kafka: str
    spans: InMemorySpanExporter
    actors: httpx.AsyncClient
    offers: httpx.AsyncClient
    matching: httpx.AsyncClient
    apps: dict[str, FastAPI]
    databases: dict[str, str]  # service name -> database name


@pytest.fixture(scope="package")
async def observed(pg_server: str, kafka: str) -> AsyncIterator[Observed]:
    suffix = uuid.uuid4().hex[:10]
    databases = {
        name: f"mcvt_test_obs_{name}_{suffix}" for name in ("actors", "offers", "matching")
    }
    urls = {name: await create_database(pg_server, db) for name, db in databases.items()}
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    actors_settings = ActorsSettings(
        database_url=urls["actors"], kafka_bootstrap_servers=kafka, **QUICK
    )
    actors_app = create_app(actors_spec(actors_settings), actors_settings, tracer_provider=provider)
    try:
        async with http_server(actors_app) as actors_base:
            jwks = f"{actors_base}/.well-known/jwks.json"
            offers_settings = OffersSettings(
                database_url=urls["offers"], kafka_bootstrap_servers=kafka, jwks_url=jwks, **QUICK
            )
            offers_app = create_app(
                offers_spec(offers_settings), offers_settings, tracer_provider=provider
            )
            matching_settings = MatchingSettings(
                database_url=urls["matching"],
                kafka_bootstrap_servers=kafka,
                jwks_url=jwks,
                consumer_group=f"matching.read-model.{suffix}",
                **QUICK,
            )
            matching_app = create_app(
                matching_spec(matching_settings), matching_settings, tracer_provider=provider
            )
            async with (
                httpx.AsyncClient(base_url=actors_base, timeout=30) as actors,
                asgi_client(offers_app) as offers,
                asgi_client(matching_app) as matching,
            ):
                yield Observed(
                    kafka,
                    spans,
                    actors,
                    offers,
                    matching,
                    {"actors": actors_app, "offers": offers_app, "matching": matching_app},
                    databases,
                )
    finally:
        provider.shutdown()
        for name in databases.values():
            await drop_database(pg_server, name)


async def register_actor(observed: Observed, territory_id: str) -> httpx.Response:
    """Register an actor at actors over HTTP: actors emits `actor.registered` through its outbox."""
    body = {
        "territory_id": territory_id,
        "kind": "business",
        "name": "Transports Frigo Diois",
        "email": "contact@frigo-diois.example",
        "location": {"lat": 44.75, "lon": 5.37, "commune": "Die"},
    }
    response = await observed.actors.post("/v1/actors", json=body)
    assert response.status_code == 201, response.text
    return response


@pytest.fixture
async def territory_id(observed: Observed) -> str:
    pool = observed.apps["actors"].state.runtime.pool
    territory, _, _ = await bootstrap_territory(
        pool, f"Vallée {uuid.uuid4().hex[:8]}", None, Context("/mcvt/actors")
    )
    return str(territory)
