"""Settings of the notifications service (environment variables, see the README)."""

from __future__ import annotations

from pydantic import Field

from services.notifications.domain.retries import SCHEDULE_S
from services.runtime.mail import MailSettings
from services.runtime.settings import ServiceSettings


class NotificationsSettings(ServiceSettings, MailSettings):
    service_name: str = "notifications"
    port: int = 8006
    database_url: str = "postgresql://postgres@127.0.0.1:5432/mcvt_notifications"

    consumer_group_prefix: str = Field(
        default="notifications",
        description="Prefix of the consumer group (`<prefix>.events`). A new prefix reads every "
        "topic from its beginning.",
    )

    public_url: str = Field(
        default="http://127.0.0.1:8006",
        description="This service as people reach it: the base of the links in its mails.",
    )
    portal_url: str = Field(
        default="http://127.0.0.1:8000", description="The portal the mails send people to."
    )

    # Webhook targets (server-side request forgery guard, ssrfguard).
    webhook_require_https: bool = Field(
        default=True, description="Refuse http:// targets (development turns it off)."
    )
    webhook_allow_loopback: bool = Field(
        default=False,
        description="Development only: let targets on 127.0.0.0/8 and ::1, on any port.",
    )
    webhook_ports: tuple[int, ...] = Field(
        default=(443, 8443), description="Ports a target may name (https's and a common other)."
    )

    # Deliveries.
    delivery_timeout_s: float = Field(default=15.0, gt=0, description="Total, per attempt.")
    delivery_concurrency: int = Field(default=64, ge=1, description="In flight per replica.")
    endpoint_concurrency: int = Field(default=4, ge=1, description="In flight per endpoint.")
    delivery_retry_schedule_s: tuple[float, ...] = Field(default=SCHEDULE_S, min_length=1)
    delivery_retry_after_max_s: float = Field(
        default=36000.0, gt=0, description="The longest wait a Retry-After answer obtains."
    )
    delivery_poll_interval_s: float = Field(default=1.0, gt=0)
    # A lease longer than the total timeout: a replica that dies mid-call frees its claims then.
    delivery_lease_margin_s: float = Field(default=15.0, gt=0)
    response_excerpt_bytes: int = Field(default=1024, ge=0)
    disable_after_s: float = Field(
        default=5 * 24 * 3600.0, gt=0, description="Failing this long disables an endpoint."
    )
    secret_grace_s: float = Field(
        default=24 * 3600.0, ge=0, description="How long a rotated-out secret still signs."
    )

    # E-mail.
    mail_gather_s: float = Field(
        default=30.0,
        ge=0,
        description="Mails due at once to one address within this many seconds go as one (the "
        "first waits that long): a busy actor's people get a mail a while, not one per event.",
    )

    # The live stream (GET /v1/stream).
    stream_retention_s: float = Field(default=7 * 24 * 3600.0, gt=0)
    stream_ping_s: float = Field(default=15.0, gt=0)
    stream_buffer: int = Field(default=256, ge=1, description="Events queued per connection.")
    stream_connections_per_actor: int = Field(default=5, ge=1)
    stream_poll_interval_s: float = Field(default=1.0, gt=0)
