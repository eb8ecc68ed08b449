"""Settings of the actors service (environment variables, see the README)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import ServiceSettings


class ActorsSettings(ServiceSettings):
    service_name: str = "actors"
    port: int = 8001
    database_url: str = "postgresql://postgres@127.0.0.1:5432/mcvt_actors"
    token_ttl_s: int = Field(default=900, ge=60, le=86400, description="Access token lifetime.")
