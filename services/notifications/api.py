"""HTTP routes of the notifications service (mounted under /v1): webhook subscriptions, their
delivery log, retries and replays. Only a subscription's owner sees it; anyone else gets 404."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.fields import ends_after
from services.notifications import store
from services.notifications.consumers import NOTIFIED_TYPES
from services.notifications.domain.subscriptions import (
    Scope,
    check_event_types,
    ensure_may_use,
    new_secret,
)
from services.notifications.settings import NotificationsSettings
from services.notifications.targets import MAX_URL_LENGTH, check_target
from services.runtime import clock
from services.runtime.access import ADMITTED_ONLY
from services.runtime.auth import CurrentActor
from services.runtime.db import Connection, in_transaction
from services.runtime.errors import Conflict, InvalidInput, NotFound
from services.runtime.pages import CursorParam, Limit, Page, decode_cursor, page_of
from services.runtime.principal import Principal
from services.runtime.service import Pool, settings_of

subscriptions_router = APIRouter(
    prefix="/subscriptions", tags=["webhooks"], dependencies=[ADMITTED_ONLY]
)
SettingsDep = Annotated[NotificationsSettings, Depends(settings_of(NotificationsSettings))]
PING_TYPE = "mcvt.notification.ping.v1"

Url = Annotated[
    str,
    Field(min_length=8, max_length=MAX_URL_LENGTH, examples=["https://outil.example/hooks/mcvt"]),
]
Description = Annotated[str, Field(max_length=500, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*$")]
EventTypes = Annotated[
    list[Annotated[str, Field(max_length=120)]], Field(min_length=1, max_length=50)
]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    event_types: EventTypes = Field(
        description="Exact types (mcvt.match.proposed.v1) or families (mcvt.match.*)."
    )
    scope: Scope = Field(
        default=Scope.ACTOR,
        description="`actor`: what concerns you; `territory`: all of your territory "
        "(facilitators and partners).",
    )
    description: Description = ""


class SubscriptionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = Field(default=None, description="Enable again, or pause.")


class SubscriptionOut(BaseModel):
    id: uuid.UUID
    url: str
    event_types: list[str]
    scope: Scope
    description: str
    status: str
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_valid_until: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: asyncpg.Record) -> SubscriptionOut:
        values = dict(row)
        values["previous_secret_valid_until"] = values.pop("previous_secret_until")
        return cls.model_validate(values)


class CreatedSubscription(SubscriptionOut):
    secret: str = Field(description="The signing secret, shown this once.")


class RotatedSecret(BaseModel):
    secret: str = Field(description="The new signing secret, shown this once.")
    previous_secret_valid_until: datetime


class AttemptOut(BaseModel):
    attempt: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    response: str


class DeliveryOut(BaseModel):
    id: uuid.UUID
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    event_time: datetime
    created_at: datetime
    attempt_log: list[AttemptOut]


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime
    until: AwareDatetime

    _ordered = ends_after("until", "since", "until must come after since")


class Queued(BaseModel):
    queued: int


def _owner(actor: Principal) -> uuid.UUID:
    return uuid.UUID(actor.actor_id)


def _sub_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("no such subscription") from None


async def _own(
    conn: Connection, sub_id: str, actor: Principal, *, lock: bool = False
) -> asyncpg.Record:
    found = await store.subscription(conn, _sub_id(sub_id), _owner(actor), for_update=lock)
    if found is None:
        raise NotFound("no such subscription")
    return found


@subscriptions_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe a URL to event types (the signing secret is shown once)",
)
async def create_subscription(
    body: SubscriptionIn, actor: CurrentActor, pool: Pool, request: Request, settings: SettingsDep
) -> CreatedSubscription:
    ensure_may_use(actor, body.scope)
    event_types = check_event_types(body.event_types, NOTIFIED_TYPES)
    await check_target(body.url, request.app.state.webhook_policy)
    secret = new_secret()
    sub_id = uuid.uuid4()

    async def create(conn: Connection) -> asyncpg.Record:
        await store.insert_subscription(
            conn,
            {
                "id": sub_id,
                "actor_id": _owner(actor),
                "territory_id": uuid.UUID(actor.territory_id),
                "url": body.url,
                "event_types": list(event_types),
                "scope": body.scope.value,
                "description": body.description,
                "secret": secret,
            },
        )
        return await _own(conn, str(sub_id), actor)

    row = await in_transaction(pool, create)
    return CreatedSubscription(**SubscriptionOut.of(row).model_dump(), secret=secret)


@subscriptions_router.get("", summary="My subscriptions, newest first")
async def list_subscriptions(
    actor: CurrentActor, pool: Pool, limit: Limit = 20, cursor: CursorParam = None
) -> Page[SubscriptionOut]:
    async with pool.acquire() as conn:
        rows = await store.subscriptions_of(conn, _owner(actor), decode_cursor(cursor), limit)
    return page_of(
        rows, limit, position=lambda r: (r["created_at"], r["id"]), view=SubscriptionOut.of
    )


@subscriptions_router.get("/{subscription_id}", summary="One of my subscriptions")
async def get_subscription(
    subscription_id: str, actor: CurrentActor, pool: Pool
) -> SubscriptionOut:
    async with pool.acquire() as conn:
        return SubscriptionOut.of(await _own(conn, subscription_id, actor))


@subscriptions_router.patch(
    "/{subscription_id}", summary="Change the URL, the event types, the description; enable again"
)
async def change_subscription(
    subscription_id: str, body: SubscriptionPatch, actor: CurrentActor, pool: Pool, request: Request
) -> SubscriptionOut:
    event_types = (
        check_event_types(body.event_types, NOTIFIED_TYPES)
        if body.event_types is not None
        else None
    )
    if body.url is not None:
        await check_target(body.url, request.app.state.webhook_policy)

    async def change(conn: Connection) -> asyncpg.Record:
        current = await _own(conn, subscription_id, actor, lock=True)
        await store.change_subscription(
            conn,
            current["id"],
            body.url if body.url is not None else current["url"],
            event_types if event_types is not None else current["event_types"],
            body.description if body.description is not None else current["description"],
        )
        if body.enabled is True and current["status"] == "disabled":
            await store.enable(conn, current["id"])
        elif body.enabled is False and current["status"] == "active":
            await store.disable(conn, current["id"], "paused")
        return await _own(conn, subscription_id, actor)

    return SubscriptionOut.of(await in_transaction(pool, change))


@subscriptions_router.delete(
    "/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a subscription and its delivery log",
)
async def delete_subscription(subscription_id: str, actor: CurrentActor, pool: Pool) -> Response:
    async with pool.acquire() as conn:
        if not await store.delete_subscription(conn, _sub_id(subscription_id), _owner(actor)):
            raise NotFound("no such subscription")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@subscriptions_router.post(
    "/{subscription_id}/rotate-secret",
    summary="A new signing secret (shown once); the old one still signs for the grace period",
)
async def rotate_secret(
    subscription_id: str, actor: CurrentActor, pool: Pool, settings: SettingsDep
) -> RotatedSecret:
    secret = new_secret()
    until = clock.now() + timedelta(seconds=settings.secret_grace_s)

    async def rotate(conn: Connection) -> None:
        current = await _own(conn, subscription_id, actor, lock=True)
        await store.rotate_secret(conn, current["id"], secret, until)

    await in_transaction(pool, rotate)
    return RotatedSecret(secret=secret, previous_secret_valid_until=until)


@subscriptions_router.post(
    "/{subscription_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a signed ping to the subscription's URL (see its delivery log)",
)
async def send_test(
    subscription_id: str, actor: CurrentActor, pool: Pool, settings: SettingsDep
) -> DeliveryOut:
    ping_id = str(uuid.uuid4())
    now = clock.now()
    ping: dict[str, Any] = {
        "specversion": "1.0",
        "id": ping_id,
        "source": settings.source,
        "type": PING_TYPE,
        "time": now.isoformat(),
        "subject": subscription_id,
        "datacontenttype": "application/json",
        "territory": actor.territory_id,
        "data": {"subscription_id": subscription_id, "message": "Test de votre abonnement MCVT"},
    }

    async def queue(conn: Connection) -> asyncpg.Record:
        current = await _own(conn, subscription_id, actor)
        _ensure_active(current)
        delivery_id = await store.queue_one(
            conn, current["id"], ping_id, PING_TYPE, json.dumps(ping), now
        )
        found = await store.delivery(conn, current["id"], delivery_id)
        assert found is not None
        return found

    row = await in_transaction(pool, queue)
    return DeliveryOut(**dict(row), attempt_log=[])


@subscriptions_router.get(
    "/{subscription_id}/deliveries",
    summary="The delivery log: each delivery with every attempt, newest first",
)
async def list_deliveries(
    subscription_id: str,
    actor: CurrentActor,
    pool: Pool,
    limit: Limit = 20,
    cursor: CursorParam = None,
) -> Page[DeliveryOut]:
    async with pool.acquire() as conn:
        current = await _own(conn, subscription_id, actor)
        rows = await store.deliveries_of(conn, current["id"], decode_cursor(cursor), limit)
        attempts = await store.attempts_of(conn, [row["id"] for row in rows[:limit]])
    return page_of(
        rows,
        limit,
        position=lambda r: (r["created_at"], r["id"]),
        view=lambda r: DeliveryOut(
            **dict(r),
            attempt_log=[AttemptOut.model_validate(dict(a)) for a in attempts.get(r["id"], [])],
        ),
    )


@subscriptions_router.post(
    "/{subscription_id}/deliveries/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Deliver this event again now, with a fresh retry schedule",
)
async def retry_delivery(
    subscription_id: str, delivery_id: str, actor: CurrentActor, pool: Pool
) -> Queued:
    async def retry(conn: Connection) -> None:
        current = await _own(conn, subscription_id, actor)
        _ensure_active(current)
        found = await store.delivery(conn, current["id"], _delivery_id(delivery_id))
        if found is None:
            raise NotFound("no such delivery")
        await store.redeliver(conn, found["id"])

    await in_transaction(pool, retry)
    return Queued(queued=1)


@subscriptions_router.post(
    "/{subscription_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Deliver again every event of this subscription published in [since, until)",
)
async def replay(subscription_id: str, body: ReplayIn, actor: CurrentActor, pool: Pool) -> Queued:
    if body.until <= body.since:
        raise InvalidInput("until must be after since", field="until")

    async def run(conn: Connection) -> int:
        current = await _own(conn, subscription_id, actor)
        _ensure_active(current)
        # What the owner may hear of today, not what it might have when it subscribed.
        ensure_may_use(actor, Scope(current["scope"]))
        return await store.replay(conn, current, body.since, body.until)

    return Queued(queued=await in_transaction(pool, run))


def _ensure_active(subscription: asyncpg.Record) -> None:
    """Nothing is sent to a disabled subscription: asking for it conflicts with its state."""
    if subscription["status"] != "active":
        raise Conflict(
            f"the subscription is disabled ({subscription['disabled_reason']}): enable it "
            "again (PATCH enabled=true) before asking for deliveries",
            field="status",
        )


def _delivery_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("no such delivery") from None
