"""HTTP routes for people: sign-in links, sessions, refresh and sign-out, an actor's people.

Mails leave after the answer (a background task), so asking for a link answers the same, as
fast, whether or not the e-mail is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status
from limits import parse
from pydantic import BaseModel, ConfigDict, StringConstraints

from contracts.fields import CleanText, Name
from services.actors import colleagues, letters, sign_in
from services.actors.domain import Actor
from services.actors.people import Invitation, Membership, Role, SignInRequest
from services.actors.settings import ActorsSettings
from services.actors.tokens import SigningKey, issue_token
from services.runtime.auth import CurrentActor
from services.runtime.mail import Mail, MailSender, send_quietly
from services.runtime.ratelimit import RateLimits, sensitive_rate_limit
from services.runtime.service import Pool, settings_of
from services.runtime.service import RequestContext as Ctx

router = APIRouter()
Settings = Annotated[ActorsSettings, Depends(settings_of(ActorsSettings))]


@dataclass(frozen=True)
class Outgoing:
    """Mails of one request, sent once the answer is given."""

    portal_url: str
    mailer: MailSender
    background: BackgroundTasks

    def send(self, mail: Mail) -> None:
        """After the answer; a failure is logged (the person asks for another link)."""
        self.background.add_task(send_quietly, self.mailer, mail)


def _outgoing(request: Request, settings: Settings, background: BackgroundTasks) -> Outgoing:
    return Outgoing(settings.portal_url, request.app.state.mailer, background)


Mails = Annotated[Outgoing, Depends(_outgoing)]


def mint(
    request: Request, settings: ActorsSettings, actor: Actor, key_id: str, person_id: str | None
) -> str:
    """An access token for the actor, named after the API key or session it comes from."""
    signing: SigningKey = request.app.state.signing_keys[0]
    return issue_token(
        actor,
        signing,
        api_key_id=key_id,
        person_id=person_id,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(seconds=settings.token_ttl_s),
    )


# --- sign-in --------------------------------------------------------------------------------------

Secret = Annotated[str, StringConstraints(min_length=1, max_length=200), CleanText()]


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: Secret
    actor_id: UUID | None = None


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: Secret


class PersonOut(BaseModel):
    id: UUID
    email: str
    name: str


class GrantOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    refresh_token: str
    person: PersonOut
    actor_id: UUID
    memberships: list[Membership]
    return_to: str | None = None


def _grant_out(request: Request, settings: ActorsSettings, grant: sign_in.Grant) -> GrantOut:
    person = grant.person
    return GrantOut(
        access_token=mint(request, settings, grant.actor, grant.session_id, str(person.id)),
        expires_in=settings.token_ttl_s,
        refresh_token=grant.refresh_token,
        person=PersonOut(id=person.id, email=person.email, name=person.name),
        actor_id=grant.actor.id,
        memberships=list(grant.memberships),
        return_to=grant.return_to,
    )


def _refresh_ttl(settings: ActorsSettings) -> timedelta:
    return timedelta(seconds=settings.refresh_ttl_s)


@router.post(
    "/sign-in/links",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["sign-in"],
    dependencies=[Depends(sensitive_rate_limit)],
    summary="Mail a single-use sign-in link (valid 15 minutes) to a known person; the answer is "
    "the same for an unknown e-mail, to which nothing is sent",
)
async def request_link(
    body: SignInRequest, request: Request, pool: Pool, settings: Settings, mails: Mails
) -> dict[str, str]:
    limits: RateLimits = request.app.state.rate_limits
    await limits.hit(
        parse(settings.rate_limit_sign_in_per_email), "for this e-mail", body.email.lower()
    )
    link = await sign_in.request_link(pool, body.email, body.return_to)
    if link is not None:
        person = link.person
        mails.send(letters.sign_in(person.email, person.name, mails.portal_url, link.token))
    return {}


@router.post(
    "/sign-in/sessions",
    tags=["sign-in"],
    dependencies=[Depends(sensitive_rate_limit)],
    summary="Exchange a sign-in link's token for a session: an access token and a refresh token "
    "(acting for `actor_id`, else the person's first admitted actor)",
)
async def open_session(
    body: SessionRequest, request: Request, pool: Pool, settings: Settings
) -> GrantOut:
    grant = await sign_in.open_session(pool, body.token, body.actor_id, _refresh_ttl(settings))
    return _grant_out(request, settings, grant)


@router.post(
    "/sign-in/refresh",
    tags=["sign-in"],
    summary="A new access token and refresh token for the session (the old refresh token is used "
    "up; using it again ends the session)",
)
async def refresh(
    body: RefreshRequest, request: Request, pool: Pool, settings: Settings, ctx: Ctx
) -> GrantOut:
    grant = await sign_in.refresh(pool, body.refresh_token, ctx, _refresh_ttl(settings))
    return _grant_out(request, settings, grant)


@router.post(
    "/sign-out",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["sign-in"],
    summary="End the session: its access tokens are refused by every service from the event on",
)
async def sign_out(body: RefreshRequest, pool: Pool, ctx: Ctx) -> Response:
    await sign_in.sign_out(pool, body.refresh_token, ctx)
    return Response(status_code=204)


# --- the signed-in person ------------------------------------------------------------------------


class MeOut(PersonOut):
    memberships: list[Membership]


class Rename(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name


@router.get("/people/me", tags=["people"], summary="The signed-in person and their actors")
async def myself(pool: Pool, me: CurrentActor) -> MeOut:
    person, memberships = await colleagues.myself(pool, me)
    return MeOut(id=person.id, email=person.email, name=person.name, memberships=memberships)


@router.patch("/people/me", tags=["people"], summary="Change the signed-in person's name")
async def rename_me(body: Rename, pool: Pool, me: CurrentActor) -> PersonOut:
    person = await colleagues.rename_myself(pool, me, body.name)
    return PersonOut(id=person.id, email=person.email, name=person.name)


# --- an actor's people ----------------------------------------------------------------------------


class MemberOut(PersonOut):
    role: Role


@router.get(
    "/actors/{actor_id}/people",
    tags=["people"],
    summary="The people of my actor and their roles",
)
async def list_people(actor_id: UUID, pool: Pool, me: CurrentActor) -> list[MemberOut]:
    rows = await colleagues.list_people(pool, actor_id, me)
    return [MemberOut.model_validate(dict(row)) for row in rows]


@router.post(
    "/actors/{actor_id}/people",
    status_code=status.HTTP_201_CREATED,
    tags=["people"],
    summary="Invite a person into my actor (admin): they get a sign-in link by mail",
)
async def invite(
    actor_id: UUID, body: Invitation, pool: Pool, me: CurrentActor, mails: Mails, ctx: Ctx
) -> MemberOut:
    invited = await colleagues.invite(pool, actor_id, body, me, ctx)
    person = invited.person
    mails.send(
        letters.invitation(
            person.email, person.name, invited.actor.name, mails.portal_url, invited.link.token
        )
    )
    return MemberOut(id=person.id, email=person.email, name=person.name, role=invited.role)


@router.delete(
    "/actors/{actor_id}/people/{person_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["people"],
    summary="Remove a person from my actor (admin; never its last admin): their sessions end",
)
async def remove(
    actor_id: UUID, person_id: UUID, pool: Pool, me: CurrentActor, ctx: Ctx
) -> Response:
    await colleagues.remove(pool, actor_id, person_id, me, ctx)
    return Response(status_code=204)
