"""The agreements service assembled: routes, consumers, published events and timed transitions."""

from __future__ import annotations

import functools
from pathlib import Path

from fastapi import FastAPI

from contracts import agreements as agreement_events
from services.agreements import handlers, store
from services.agreements.api import agreements_router, credits_router, territories_router
from services.agreements.consumers import event_consumers
from services.agreements.settings import AgreementsSettings
from services.runtime.scheduler import JobKind
from services.runtime.service import ServiceSpec, create_app

Settings = AgreementsSettings


def spec(settings: AgreementsSettings) -> ServiceSpec:
    """The service as these settings make it."""
    return ServiceSpec(
        name="agreements",
        title="MCVT agreements: performance-of-use agreements, usage, statements and value",
        migrations=Path(__file__).parent / "migrations",
        routers=(agreements_router, credits_router, territories_router),
        consumers=event_consumers(settings),
        publishes=agreement_events.EVENTS,
        jobs=(
            JobKind(handlers.ACTIVATE, handlers.activate_job),
            JobKind(
                handlers.CLOSE_PERIOD,
                functools.partial(handlers.close_period_job, settings=settings),
            ),
            JobKind(handlers.LAPSE, handlers.lapse_job),
        ),
        export=store.personal_data,
    )


def build_app(settings: AgreementsSettings | None = None) -> FastAPI:
    settings = settings or AgreementsSettings()
    return create_app(spec(settings), settings)
