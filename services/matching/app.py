"""The matching service assembled: routes, its consumer group, published events, the expiry job.

The service keeps its indexes in memory and runs as one replica (see `readmodel`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg
from fastapi import FastAPI

from contracts import matches as match_events
from services.matching import handlers, store
from services.matching.api import matches_router, needs_router, policy_router
from services.matching.consumers import event_consumer
from services.matching.readmodel import ReadModel
from services.matching.settings import MatchingSettings
from services.runtime import clock
from services.runtime.context import Context
from services.runtime.scheduler import Periodic
from services.runtime.service import Runtime, ServiceSpec, create_app

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def build_spec(settings: MatchingSettings, model: ReadModel) -> ServiceSpec:
    async def start(app: FastAPI, runtime: Runtime) -> None:
        """Load the indexes before the consumer starts."""
        app.state.read_model = model
        await handlers.load_read_model(runtime.pool, model)

    async def expire(pool: asyncpg.Pool, ctx: Context, settings: MatchingSettings) -> None:
        """Expire the proposals past their time-to-live (each proposing the next candidate)."""
        expired = await handlers.expire_lapsed(pool, model, ctx, now=clock.now())
        if expired:
            log.info("expired %d proposals", expired)

    # Only where proposing: a shadow rebuild publishes nothing, expiries included.
    expiry = Periodic("matching.expiry", expire, every_s=lambda s: s.expiry_interval_s)

    return ServiceSpec(
        name="matching",
        title="MCVT matching: explainable, capacity-aware matching of needs and offers",
        migrations=MIGRATIONS,
        routers=(matches_router, needs_router, policy_router),
        consumers=(event_consumer(settings.consumer_group, model),),
        export=store.personal_data,
        publishes=match_events.EVENTS,
        on_start=(start,),
        periodic=(expiry,) if model.proposing else (),
    )


Settings = MatchingSettings


def spec(settings: MatchingSettings) -> ServiceSpec:
    """The service as these settings make it, with a read model of its own."""
    return build_spec(settings, ReadModel(proposing=settings.propose_matches))


def build_app(settings: MatchingSettings | None = None) -> FastAPI:
    settings = settings or MatchingSettings()
    return create_app(spec(settings), settings)
