"""Settings of the governance service (environment variables, see the README)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import ServiceSettings


class GovernanceSettings(ServiceSettings):
    service_name: str = "governance"
    port: int = 8005
    database_url: str = "postgresql://postgres@127.0.0.1:5432/mcvt_governance"

    members_consumer_group: str = Field(
        default="governance.members",
        description="Consumer group of actor events (the colleges' members). A new name reads "
        "mcvt.actors from its beginning: how a fresh database is rebuilt.",
    )
    agreements_consumer_group: str = Field(
        default="governance.agreements",
        description="Consumer group of agreement events (approvals to open).",
    )
