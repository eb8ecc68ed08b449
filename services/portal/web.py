"""What every page of the portal shares: the session of the visit, calls to the APIs with the
person's token (refreshed when it is about to expire), rendering and the CSRF check."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from services.portal.i18n import Words
from services.portal.session import (
    COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    Membership,
    Session,
    SessionCodec,
)
from services.portal.settings import PortalSettings
from services.portal.upstream import ApiError, Service, Upstream


class SignInNeeded(Exception):
    """The page needs a signed-in person (or the session has ended)."""


class CsrfRefused(Exception):
    """An unsafe request without the session's CSRF token."""


@dataclass
class Portal:
    """The portal's long-lived parts, on `app.state.portal`."""

    settings: PortalSettings
    upstream: Upstream
    codec: SessionCodec
    words: Words
    templates: Jinja2Templates
    cache: dict[str, Any] = field(default_factory=dict)


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def session_of(request: Request) -> Session:
    """The visit's session, read from its cookie once per request."""
    session: Session | None = getattr(request.state, "session", None)
    if session is None:
        session = portal_of(request).codec.load(request.cookies.get(COOKIE))
        request.state.session = session
    return session


def save_session(request: Request, response: Response) -> Response:
    portal = portal_of(request)
    response.set_cookie(
        COOKIE,
        portal.codec.dump(session_of(request)),
        max_age=portal.settings.session_max_age_s,
        httponly=True,
        secure=portal.settings.cookie_secure,
        samesite="lax",
        path="/",
    )
    return response


def apply_grant(session: Session, grant: dict[str, Any]) -> None:
    """Keep what actors' sign-in answer (a session grant) says of the person and the actor."""
    session.access_token = grant["access_token"]
    session.refresh_token = grant.get("refresh_token")
    session.expires_at = time.time() + float(grant.get("expires_in", 900))
    person = grant.get("person") or {}
    session.person_name = str(person.get("name") or "")
    session.person_email = str(person.get("email") or "")
    session.actor_id = grant.get("actor_id")
    session.memberships = [
        Membership(
            actor_id=str(m.get("actor_id")),
            actor_name=str(m.get("actor_name", "")),
            role=str(m.get("role", "")),
            status=str(m.get("status", "")),
        )
        for m in grant.get("memberships") or []
    ]


@dataclass
class Visit:
    """One request of one browser: its session, the APIs on its behalf, and rendering."""

    request: Request
    portal: Portal
    session: Session
    # Calls made together must not each refresh: a refresh token used twice ends the session.
    refreshing: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def words(self) -> Words:
        return self.portal.words

    @property
    def htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    async def api(
        self,
        service: Service,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        anonymous: bool = False,
    ) -> Any:
        """Call an API as the signed-in person (or as nobody, `anonymous`)."""
        token = None
        if not anonymous:
            token = await self.token()
        try:
            return await self.portal.upstream.call(
                service, method, path, token=token, json=json, params=params
            )
        except ApiError as error:
            if error.status == 401 and not anonymous:
                self.session.sign_out()
                raise SignInNeeded from error
            raise

    def ensure_facilitator(self) -> None:
        """A page for facilitators: others sign in, or are refused (the API refuses them too)."""
        if not self.session.signed_in:
            raise SignInNeeded
        if not self.session.is_facilitator:
            raise ApiError(403)

    async def token(self) -> str:
        async with self.refreshing:
            return await self._fresh_token()

    async def _fresh_token(self) -> str:
        session = self.session
        if not session.signed_in:
            raise SignInNeeded
        if session.needs_refresh():
            if not session.refresh_token:
                session.sign_out()
                raise SignInNeeded
            try:
                grant = await self.portal.upstream.call(
                    "actors",
                    "POST",
                    "/v1/sign-in/refresh",
                    json={"refresh_token": session.refresh_token},
                )
            except ApiError as error:
                if error.status in (400, 401, 403, 404):
                    session.sign_out()
                    raise SignInNeeded from error
                raise
            apply_grant(session, grant)
        assert session.access_token is not None
        return session.access_token

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        flash, self.session.flash = self.session.flash, ""
        response = self.portal.templates.TemplateResponse(
            self.request,
            template,
            {"session": self.session, "flash": flash, "settings": self.portal.settings, **context},
            status_code=status_code,
        )
        save_session(self.request, response)
        return response

    def redirect(self, url: str, flash: str = "") -> Response:
        if flash:
            self.session.flash = flash
        response: Response = RedirectResponse(url, status_code=303)
        if self.htmx:  # htmx follows a redirect inside the swap: make it a full page change
            response = Response(status_code=204, headers={"HX-Redirect": url})
        return save_session(self.request, response)

    async def form(self) -> FormData:
        """The posted form, once its CSRF token matched the session's."""
        form = await self.request.form()
        sent = form.get(CSRF_FIELD) or self.request.headers.get(CSRF_HEADER)
        if not self.session.csrf_matches(sent if isinstance(sent, str) else None):
            raise CsrfRefused
        return form


def visit(request: Request) -> Visit:
    return Visit(request, portal_of(request), session_of(request))


VisitDep = Annotated[Visit, Depends(visit)]


def sign_in_url(request: Request) -> str:
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/connexion?retour={quote(back, safe='')}"


def safe_return(target: str | None) -> str:
    """Only a path of this site: a sign-in must never send the person elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"
