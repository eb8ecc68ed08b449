"""The notifications service assembled: subscriptions, the delivery worker, the live stream."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from fastapi import FastAPI

from contracts import notifications as notification_events
from services.notifications import mailing, store
from services.notifications.api import subscriptions_router
from services.notifications.consumers import event_consumers
from services.notifications.dispatcher import Dispatcher
from services.notifications.mail_api import links_router, preferences_router
from services.notifications.sender import webhook_client
from services.notifications.settings import NotificationsSettings
from services.notifications.stream import Hub, stream_router
from services.notifications.targets import policy_of
from services.runtime.context import Context
from services.runtime.db import in_transaction
from services.runtime.mail import mail_sender
from services.runtime.scheduler import JobKind, Periodic
from services.runtime.service import Runtime, ServiceSpec, create_app

Settings = NotificationsSettings


async def start_delivery(app: FastAPI, runtime: Runtime) -> None:
    """The SSRF policy, the stream hub and (with the background parts) the delivery worker and
    the stream's listener."""
    settings = runtime.settings
    assert isinstance(settings, NotificationsSettings)
    policy = policy_of(settings)
    app.state.webhook_policy = policy
    hub = Hub()
    app.state.stream_hub = hub
    client = webhook_client(
        policy, concurrency=settings.delivery_concurrency, timeout_s=settings.delivery_timeout_s
    )
    dispatcher = Dispatcher(runtime.pool, settings, client)
    app.state.dispatcher = dispatcher
    if settings.run_background:
        runtime.tasks.append(asyncio.create_task(_deliver(dispatcher, client), name="deliveries"))
        runtime.tasks.append(
            asyncio.create_task(
                hub.listen(runtime.pool, settings.stream_poll_interval_s), name="stream-listener"
            )
        )


async def _deliver(dispatcher: Dispatcher, client: object) -> None:
    try:
        await dispatcher.run()
    finally:
        await client.aclose()  # type: ignore[attr-defined]


async def forget_old_notifications(
    pool: object, ctx: Context, settings: NotificationsSettings
) -> None:
    """The log keeps what a stream may resume from: the retention window."""
    await in_transaction(
        pool,  # type: ignore[arg-type]
        lambda conn: store.forget_old_notifications(conn, settings.stream_retention_s),
    )


def spec(settings: NotificationsSettings) -> ServiceSpec:
    """The service as these settings make it."""
    sender = mail_sender(settings)
    mail_jobs = (
        (mailing.DIGEST, mailing.send_digest),
        (mailing.CONFIRM, mailing.send_confirmation),
    )
    return ServiceSpec(
        name="notifications",
        title="MCVT notifications: signed webhooks and live streams to partners, e-mail to people",
        migrations=Path(__file__).parent / "migrations",
        routers=(subscriptions_router, stream_router, preferences_router),
        extra_routers=(links_router,),
        consumers=event_consumers(settings),
        publishes=notification_events.EVENTS,
        on_start=(start_delivery,),
        jobs=tuple(
            JobKind(kind, functools.partial(handler, settings=settings, sender=sender))
            for kind, handler in mail_jobs
        ),
        periodic=(Periodic("forget-old-notifications", forget_old_notifications, 3600.0),),
        export=mailing.personal_data,
    )


def build_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    return create_app(spec(settings), settings)
