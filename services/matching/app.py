"""The matching service assembled: routes, its consumer group, published events, the expiry task.

The service keeps its indexes in memory and runs as one replica (see `readmodel`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI

from contracts import matches as match_events
from services.matching import handlers
from services.matching.api import matches_router, needs_router, policy_router
from services.matching.consumers import event_consumer
from services.matching.expiry import run_expiry
from services.matching.readmodel import ReadModel
from services.matching.settings import MatchingSettings
from services.runtime.context import Context
from services.runtime.service import Runtime, ServiceSpec, create_app

MIGRATIONS = Path(__file__).parent / "migrations"


def build_spec(settings: MatchingSettings, model: ReadModel) -> ServiceSpec:
    async def start(app: FastAPI, runtime: Runtime) -> None:
        """Load the indexes before the consumer starts; run the expiry where proposing."""
        app.state.read_model = model
        await handlers.load_read_model(runtime.pool, model)
        if settings.run_background and model.proposing:
            task = asyncio.create_task(
                run_expiry(
                    runtime.pool, model, Context(settings.source), settings.expiry_interval_s
                ),
                name="matching-expiry",
            )
            runtime.tasks.append(task)

    return ServiceSpec(
        name="matching",
        title="MCVT matching: explainable, capacity-aware matching of needs and offers",
        migrations=MIGRATIONS,
        routers=(matches_router, needs_router, policy_router),
        consumers=(event_consumer(settings.consumer_group, model),),
        publishes=match_events.EVENTS,
        on_start=(start,),
    )


Settings = MatchingSettings


def spec(settings: MatchingSettings) -> ServiceSpec:
    """The service as these settings make it, with a read model of its own."""
    return build_spec(settings, ReadModel(proposing=settings.propose_matches))


def build_app(settings: MatchingSettings | None = None) -> FastAPI:
    settings = settings or MatchingSettings()
    return create_app(spec(settings), settings)
