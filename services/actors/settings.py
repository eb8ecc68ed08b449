"""Settings of the actors service (environment variables, see the README)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.mail import MailSettings
from services.runtime.settings import ServiceSettings


class ActorsSettings(ServiceSettings, MailSettings):
    service_name: str = "actors"
    port: int = 8001
    database_url: str = "postgresql://postgres@127.0.0.1:5432/mcvt_actors"
    token_ttl_s: int = Field(default=900, ge=60, le=86400, description="Access token lifetime.")
    # Sign-in links mailed to people open this portal's page /connexion/{token}.
    portal_url: str = "http://127.0.0.1:8000"
    # A session lasts while it is refreshed within this time (each refresh starts it again).
    refresh_ttl_s: int = Field(default=14 * 86400, ge=300)
    # Sign-in links asked per e-mail address, whoever asks (`limits` notation); the address of
    # the asker is limited by `rate_limit_sensitive`.
    rate_limit_sign_in_per_email: str = "5/15minutes"
    # How often expired links, spent refresh tokens and long-ended sessions are deleted.
    purge_interval_s: float = Field(default=3600.0, gt=0)
