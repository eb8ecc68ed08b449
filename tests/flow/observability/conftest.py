"""Actors, offers and matching together on the real broker, traced into memory.

The three services share one tracer provider whose spans stay in an in-memory exporter, so a
test can follow one request's trace across services."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.actors.handlers import bootstrap_territory
from services.runtime.context import Context
from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
from tests.harness import Databases, Stack, start_stack


@dataclass
class Observed:
    """The three services, tracing into one in-memory exporter."""

    stack: Stack
    spans: InMemorySpanExporter

    @property
    def kafka(self) -> str:
        return self.stack.kafka

    @property
    def actors(self) -> httpx.AsyncClient:
        return self.stack.actors

    @property
    def offers(self) -> httpx.AsyncClient:
        return self.stack.offers

    @property
    def matching(self) -> httpx.AsyncClient:
        return self.stack["matching"].client

    @property
    def apps(self) -> dict[str, FastAPI]:
        return {name: running.app for name, running in self.stack.running.items()}

    @property
    def databases(self) -> dict[str, str]:
        """Service name -> the name of its database."""
        return {name: running.database for name, running in self.stack.running.items()}


@pytest.fixture(scope="package")
async def observed(databases: Databases, kafka: str) -> AsyncIterator[Observed]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    group = {"consumer_group": f"matching.read-model.{uuid.uuid4().hex[:10]}"}
    services = ["actors", "offers", "matching"]
    try:
        async with start_stack(
            databases, kafka, services, {"matching": group}, tracer_provider=provider
        ) as stack:
            yield Observed(stack, spans)
    finally:
        provider.shutdown()


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
