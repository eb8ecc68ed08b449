"""Settings of the agreements service (environment variables, see the README)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from services.runtime.settings import ServiceSettings


class AgreementsSettings(ServiceSettings):
    service_name: str = "agreements"
    port: int = 8004
    database_url: str = "postgresql://postgres@127.0.0.1:5432/mcvt_agreements"

    consumer_group_prefix: str = Field(
        default="agreements",
        description="Prefix of the consumer groups (`<prefix>.offers`, ...). A new prefix reads "
        "every topic from its beginning: how a fresh database rebuilds its views of offers, "
        "needs and actors.",
    )
    lapse_days: float = Field(
        default=14.0, gt=0, description="Days after which a draft not signed by both lapses."
    )
    public_asset_approval: bool = Field(
        default=False,
        description="Whether an agreement on a local authority's asset waits for a governance "
        "decision (approve_public_asset_agreement) in a territory whose rules governance has "
        "not published yet (mcvt.governance.territory_rules_changed.v1 replaces it).",
    )
    time_credit_floor_minutes: int = Field(
        default=-600,
        le=0,
        description="Lowest balance of a time credit account (minutes; -600 = 10 hours owed) "
        "in a territory whose rules governance has not published yet.",
    )
    matching_url: str = Field(
        default="http://127.0.0.1:8003",
        description="Matching's API, asked whether an amendment's quantity or schedule fits.",
    )

    @property
    def lapse_after(self) -> timedelta:
        return timedelta(days=self.lapse_days)
