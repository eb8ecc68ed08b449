"""The matching service assembled: routes, its two consumer groups, published events, the
expiry job.

Any number of replicas run side by side; each holds the indexes of the territories whose
partitions of the internal topic the group gives it (see `ownership`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg
from fastapi import FastAPI

from contracts import matches as match_events
from services.matching import handlers, store
from services.matching.api import matches_router, needs_router, policy_router
from services.matching.consumers import owners_consumer, read_model_consumer
from services.matching.ownership import Territories, topic_of
from services.matching.settings import MatchingSettings
from services.runtime import clock
from services.runtime.context import Context
from services.runtime.scheduler import Periodic
from services.runtime.service import Runtime, ServiceSpec, create_app

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def build_spec(settings: MatchingSettings, territories: Territories) -> ServiceSpec:
    async def start(app: FastAPI, runtime: Runtime) -> None:
        app.state.territories = territories

    async def expire(pool: asyncpg.Pool, ctx: Context, settings: MatchingSettings) -> None:
        """Expire the proposals past their time-to-live (each proposing the next candidate)."""
        expired = await handlers.expire_lapsed(pool, territories, ctx, now=clock.now())
        if expired:
            log.info("expired %d proposals", expired)

    # Only where proposing: a shadow rebuild publishes nothing, expiries included.
    expiry = Periodic("matching.expiry", expire, every_s=lambda s: s.expiry_interval_s)
    group = settings.consumer_group
    consumers = [read_model_consumer(group, territories)]
    if territories.proposing:
        consumers.append(owners_consumer(group, territories))
    return ServiceSpec(
        name="matching",
        title="MCVT matching: explainable, capacity-aware matching of needs and offers",
        migrations=MIGRATIONS,
        routers=(matches_router, needs_router, policy_router),
        consumers=tuple(consumers),
        export=store.personal_data,
        publishes=match_events.EVENTS,
        on_start=(start,),
        periodic=(expiry,) if territories.proposing else (),
        partitions={topic_of(group): settings.territory_partitions},
    )


Settings = MatchingSettings


def spec(settings: MatchingSettings) -> ServiceSpec:
    """The service as these settings make it, owning the territories the group gives it."""
    territories = Territories(replica=settings.replica_id, proposing=settings.propose_matches)
    return build_spec(settings, territories)


def build_app(settings: MatchingSettings | None = None) -> FastAPI:
    settings = settings or MatchingSettings()
    return create_app(spec(settings), settings)
