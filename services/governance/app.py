"""The governance service assembled: routes, the members consumer, the closing job."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from contracts import governance as governance_events
from services.governance import store
from services.governance.api import members_router, proposals_router, territories_router
from services.governance.chain import audit_router
from services.governance.consumers import agreement_events, member_events
from services.governance.handlers import CLOSING
from services.governance.settings import GovernanceSettings
from services.runtime.service import ServiceSpec, create_app

Settings = GovernanceSettings


def spec(settings: GovernanceSettings) -> ServiceSpec:
    """The service as these settings make it."""
    return ServiceSpec(
        name="governance",
        title="MCVT governance: colleges, weighted votes, decisions and their audit chain",
        migrations=Path(__file__).parent / "migrations",
        routers=(proposals_router, territories_router, members_router, audit_router),
        consumers=(
            member_events(settings.members_consumer_group),
            agreement_events(settings.agreements_consumer_group),
        ),
        export=store.personal_data,
        publishes=governance_events.EVENTS,
        jobs=(CLOSING,),
    )


def build_app(settings: GovernanceSettings | None = None) -> FastAPI:
    settings = settings or GovernanceSettings()
    return create_app(spec(settings), settings)
