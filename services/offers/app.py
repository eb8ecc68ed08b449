"""The offers service assembled: its routes, consumers, published events and staleness sweep."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from contracts import needs as need_events
from contracts import offers as offer_events
from services.offers import store
from services.offers.api import assets_router, needs_router, offers_router
from services.offers.categories import categories_router
from services.offers.consumers import (
    actor_events,
    agreement_events,
    match_events,
    project_events,
)
from services.offers.settings import OffersSettings
from services.offers.staleness import STALENESS
from services.runtime.service import ServiceSpec, create_app

Settings = OffersSettings


def spec(settings: OffersSettings) -> ServiceSpec:
    """The service as these settings make it."""
    return ServiceSpec(
        name="offers",
        title="MCVT offers: dormant assets, usage offers (EFC) and resource requests",
        migrations=Path(__file__).parent / "migrations",
        routers=(assets_router, offers_router, needs_router, categories_router),
        consumers=(actor_events, match_events, agreement_events, project_events),
        export=store.personal_data,
        publishes=(*offer_events.EVENTS, *need_events.EVENTS),
        periodic=(STALENESS,),
    )


def build_app(settings: OffersSettings | None = None) -> FastAPI:
    settings = settings or OffersSettings()
    return create_app(spec(settings), settings)
