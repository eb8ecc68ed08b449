"""Settings of the offers service (environment variables, see the README)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from services.runtime.settings import ServiceSettings


class OffersSettings(ServiceSettings):
    service_name: str = "offers"
    port: int = 8002
    database_url: str = "postgresql://postgres@127.0.0.1:5432/mcvt_offers"

    staleness_interval_s: float = Field(
        default=3600.0, gt=0, description="How often needs are expired and stale notices sent."
    )
    stale_notice_days: float = Field(
        default=7.0,
        ge=0,
        description="Days before an offer's or need's end that its owner is told.",
    )
    need_ttl_days: float = Field(
        default=60.0, gt=0, description="Lifetime of a need given no expiry."
    )
    offer_validity_days: float = Field(
        default=365.0, gt=0, description="Validity of an offer given no valid_to."
    )

    @property
    def stale_notice(self) -> timedelta:
        return timedelta(days=self.stale_notice_days)

    @property
    def need_ttl(self) -> timedelta:
        return timedelta(days=self.need_ttl_days)

    @property
    def offer_validity(self) -> timedelta:
        return timedelta(days=self.offer_validity_days)
