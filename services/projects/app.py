"""The projects service assembled: routes and the decisions, needs and agreements it follows."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from contracts import projects as project_events
from services.projects import store
from services.projects.api import ideas_router, projects_router, visions_router
from services.projects.consumers import agreement_events, decision_events, need_events
from services.projects.settings import ProjectsSettings
from services.runtime.service import ServiceSpec, create_app

Settings = ProjectsSettings


def spec(settings: ProjectsSettings) -> ServiceSpec:
    """The service as these settings make it."""
    return ServiceSpec(
        name="projects",
        title="MCVT territorial projects: the vision, ideas, projects, contributions, trials",
        migrations=Path(__file__).parent / "migrations",
        routers=(visions_router, ideas_router, projects_router),
        consumers=(
            decision_events(settings.decisions_consumer_group),
            need_events(settings.needs_consumer_group),
            agreement_events(settings.agreements_consumer_group),
        ),
        export=store.personal_data,
        publishes=project_events.EVENTS,
    )


def build_app(settings: ProjectsSettings | None = None) -> FastAPI:
    settings = settings or ProjectsSettings()
    return create_app(spec(settings), settings)
