"""Settings of the projects service (environment variables, see the README)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import ServiceSettings


class ProjectsSettings(ServiceSettings):
    service_name: str = "projects"
    port: int = 8007
    database_url: str = "postgresql://postgres@127.0.0.1:5432/mcvt_projects"

    decisions_consumer_group: str = Field(
        default="projects.decisions",
        description="Consumer group of governance events: the visions adopted, the trials chosen.",
    )
    needs_consumer_group: str = Field(
        default="projects.needs",
        description="Consumer group of need events: the needs opened for a project.",
    )
    agreements_consumer_group: str = Field(
        default="projects.agreements",
        description="Consumer group of agreement events: the pledges an activation fulfils.",
    )
