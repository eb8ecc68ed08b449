"""HTTP routes of e-mail notifications: a person's preferences (under /v1, signed in), and the
confirmation and unsubscribe pages opened from a mail (at /mail, no sign-in: the token is the
secret)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from contracts.fields import Email
from services.notifications import mailing
from services.notifications.consumers import NOTIFIED_TYPES
from services.notifications.domain.mails import Frequency
from services.notifications.domain.subscriptions import check_event_types
from services.runtime.access import ADMITTED_ONLY
from services.runtime.auth import CurrentActor
from services.runtime.db import Connection, in_transaction
from services.runtime.errors import NotFound
from services.runtime.principal import Principal
from services.runtime.service import Pool

preferences_router = APIRouter(prefix="/me/mail", tags=["e-mail"], dependencies=[ADMITTED_ONLY])
# Pages people open from a mail, in French HTML: served at the root, outside the JSON API.
links_router = APIRouter(prefix="/mail", include_in_schema=False)

Token = Annotated[str, Query(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]
SELF_NOTICES = ("mcvt.notification.subscription_disabled.v1",)


class MailPreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    kinds: list[Annotated[str, Field(max_length=120)]] = Field(
        min_length=1, max_length=50, description="Event types or families, as for webhooks."
    )
    frequency: Frequency = Frequency.IMMEDIATE


class MailPreferencesOut(BaseModel):
    email: str
    kinds: list[str]
    frequency: Frequency
    confirmed: bool


def _person(actor: Principal) -> str:
    """The person signed in, or '' for the actor itself (a token from its API key)."""
    return actor.person_id


def _out(row: object) -> MailPreferencesOut:
    values = dict(row)  # type: ignore[call-overload]
    return MailPreferencesOut(
        email=values["email"],
        kinds=values["kinds"],
        frequency=values["frequency"],
        confirmed=values["confirmed_at"] is not None,
    )


@preferences_router.put(
    "", summary="Receive notifications by e-mail (a new address is confirmed by a link first)"
)
async def set_preferences(
    body: MailPreferencesIn, actor: CurrentActor, pool: Pool
) -> MailPreferencesOut:
    kinds = list(check_event_types(body.kinds, NOTIFIED_TYPES | set(SELF_NOTICES), field="kinds"))

    async def save(conn: Connection) -> object:
        return await mailing.set_recipient(
            conn,
            actor.actor_id,
            actor.territory_id,
            _person(actor),
            str(body.email),
            kinds,
            body.frequency,
        )

    return _out(await in_transaction(pool, save))


@preferences_router.get("", summary="My e-mail preferences")
async def get_preferences(actor: CurrentActor, pool: Pool) -> MailPreferencesOut:
    async with pool.acquire() as conn:
        found = await mailing.recipient_of(conn, actor.actor_id, _person(actor))
    if found is None:
        raise NotFound("no e-mail preferences")
    return _out(found)


@preferences_router.delete(
    "", status_code=status.HTTP_204_NO_CONTENT, summary="Receive no more e-mail"
)
async def delete_preferences(actor: CurrentActor, pool: Pool) -> Response:
    async with pool.acquire() as conn:
        if not await mailing.stop_mail(conn, actor.actor_id, _person(actor)):
            raise NotFound("no e-mail preferences")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@links_router.get(
    "/confirm", response_class=HTMLResponse, summary="Confirm an address (from a mail)"
)
async def confirm(token: Token, pool: Pool) -> HTMLResponse:
    async with pool.acquire() as conn:
        done = await mailing.confirm(conn, token)
    if not done:
        return _page(404, "Lien inconnu", "Ce lien ne correspond à aucune adresse en attente.")
    return _page(
        200, "Adresse confirmée", "Vous recevrez désormais vos notifications MCVT par courriel."
    )


@links_router.get(
    "/unsubscribe", response_class=HTMLResponse, summary="The unsubscribe page (from a mail)"
)
async def unsubscribe_page(token: Token) -> HTMLResponse:
    return HTMLResponse(
        mailing.page(
            "Se désabonner",
            "Vous ne recevrez plus de notifications MCVT par courriel à cette adresse.",
            form_token=token,
            action=f"unsubscribe?token={token}",
        )
    )


@links_router.post(
    "/unsubscribe", response_class=HTMLResponse, summary="Unsubscribe (no sign-in: the token)"
)
async def unsubscribe(token: Token, pool: Pool) -> HTMLResponse:
    async with pool.acquire() as conn:
        done = await mailing.unsubscribe(conn, token)
    if not done:
        return _page(
            404, "Lien inconnu", "Cette adresse est déjà désabonnée, ou le lien est erroné."
        )
    return _page(200, "Désabonnement confirmé", "Vous ne recevrez plus de courriels de MCVT.")


def _page(code: int, title: str, message: str) -> HTMLResponse:
    return HTMLResponse(mailing.page(title, message), status_code=code)
