"""The portal assembled: pages, static files, security headers and French error pages.

Unlike the other services it owns no database and consumes no topic: it serves pages and calls
the public APIs of the other services (services/portal/upstream.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.portal import (
    pages_account,
    pages_agreements,
    pages_facilitation,
    pages_impact,
    pages_live,
    pages_market,
    pages_matches,
    pages_notifications,
    pages_people,
    pages_projects,
    pages_votes,
)
from services.portal.i18n import Words
from services.portal.session import SessionCodec
from services.portal.settings import PortalSettings
from services.portal.upstream import ApiError, Upstream
from services.portal.web import (
    CsrfRefused,
    Portal,
    SignInNeeded,
    save_session,
    sign_in_url,
    visit,
)
from services.portal.wording import quantity_words

Settings = PortalSettings
HERE = Path(__file__).parent
log = logging.getLogger(__name__)

# The libraries `npm ci` installs, served under /static/vendor/<name>/ (no CDN).
VENDOR = {
    "htmx": "htmx.org/dist",
    "alpine": "@alpinejs/csp/dist",
    "leaflet": "leaflet/dist",
    "markercluster": "leaflet.markercluster/dist",
    "chart": "chart.js/dist",
    "axe": "axe-core",  # the accessibility check the browser tests run on every page
}


def content_security_policy(settings: PortalSettings) -> str:
    """Scripts and styles from the portal only (Alpine's CSP build needs no eval); images from
    the portal and the tile server."""
    tiles = ""
    if settings.tile_url:
        scheme, _, rest = settings.tile_url.partition("://")
        host = rest.split("/", 1)[0].replace("{s}", "*")
        tiles = f" {scheme}://{host}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data:{tiles}; connect-src 'self'; font-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def options(items: list[dict[str, Any]], value: str, label: str) -> list[tuple[str, str]]:
    """(value, label) pairs of a list of API objects, for a <select>."""
    return [(str(item[value]), str(item[label])) for item in items]


def make_templates(words: Words) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        words.gettext, words.ngettext, newstyle=True
    )
    env.globals.update(words=words, quantity=lambda n, unit: quantity_words(words, n, unit))
    env.filters.update(
        number=words.number, money=words.money, percent=words.percent, day=words.day,
        moment=words.moment, options=options,
    )  # fmt: skip
    return Jinja2Templates(env=env)


def error_page(request: Request, status: int, message: str) -> Response:
    """A French error page (or, for htmx, a message in place)."""
    portal = request.app.state.portal
    response = portal.templates.TemplateResponse(
        request,
        "error.html",
        {"session": visit(request).session, "message": message, "status": status, "flash": ""},
        status_code=status,
    )
    return save_session(request, response)


def install_error_pages(app: FastAPI, words: Words) -> None:
    _ = words.gettext

    @app.exception_handler(SignInNeeded)
    async def sign_in(request: Request, error: SignInNeeded) -> Response:
        url = sign_in_url(request)
        if request.headers.get("hx-request") == "true":
            return save_session(request, Response(status_code=204, headers={"HX-Redirect": url}))
        return save_session(request, Response(status_code=303, headers={"Location": url}))

    @app.exception_handler(CsrfRefused)
    async def csrf(request: Request, error: CsrfRefused) -> Response:
        return error_page(
            request, 403, _("Ce formulaire a expiré. Rechargez la page et recommencez.")
        )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> Response:
        messages = {
            400: _("Cette adresse contient une valeur que la plateforme ne connaît pas."),
            422: _("Cette adresse contient une valeur que la plateforme ne connaît pas."),
            403: _("Vous n'avez pas accès à cette page."),
            404: _("Cette page n'existe pas ou n'est pas visible pour vous."),
            409: _("Cette action n'est plus possible : la situation a changé entre-temps."),
            429: _("Trop de demandes d'un coup : patientez un instant et recommencez."),
        }
        status = {422: 400}.get(error.status, error.status) if error.status in messages else 503
        message = messages.get(
            error.status,
            _("Un service de la plateforme ne répond pas. Réessayez dans un instant."),
        )
        if status == 503:
            log.warning("upstream answered %s: %s", error.status, error.detail)
        return error_page(request, status, message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 404:
            return error_page(request, 404, _("Cette page n'existe pas."))
        if error.status_code == 405:
            return error_page(request, 405, _("Cette adresse ne s'utilise pas ainsi."))
        return error_page(request, error.status_code, _("La demande n'a pas pu aboutir."))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return error_page(request, 500, _("Une erreur inattendue s'est produite. Réessayez."))


def build_app(settings: PortalSettings | None = None) -> FastAPI:
    settings = settings or PortalSettings()
    words = Words()
    key = settings.session_key or SessionCodec.new_key()
    upstream = Upstream(
        {
            "actors": settings.actors_url.rstrip("/"),
            "offers": settings.offers_url.rstrip("/"),
            "matching": settings.matching_url.rstrip("/"),
            "agreements": settings.agreements_url.rstrip("/"),
            "governance": settings.governance_url.rstrip("/"),
            "notifications": settings.notifications_url.rstrip("/"),
            "projects": settings.projects_url.rstrip("/"),
        },
        settings.upstream_timeout_s,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await upstream.close()

    app = FastAPI(
        title="MCVT portal", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.settings = settings
    app.state.portal = Portal(
        settings=settings,
        upstream=upstream,
        codec=SessionCodec(key, settings.session_max_age_s),
        words=words,
        templates=make_templates(words),
    )
    pages_live.install(app.state.portal.templates, words)
    policy = content_security_policy(settings)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Cache-Control"] = "no-store"  # pages hold personal data
        return response

    install_error_pages(app, words)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        return JSONResponse({"status": "ready"})

    for router in (
        pages_account.router,
        pages_market.router,
        pages_matches.router,
        pages_facilitation.router,
        pages_people.router,
        pages_votes.router,
        pages_live.router,
        pages_notifications.router,
        pages_agreements.router,
        pages_impact.router,
        pages_projects.router,
    ):
        app.include_router(router)
    app.mount("/static/portal", StaticFiles(directory=HERE / "static"), name="static")
    for name, folder in VENDOR.items():
        path = settings.assets_dir / folder
        if path.is_dir():
            app.mount(f"/static/vendor/{name}", StaticFiles(directory=path), name=name)
        else:
            log.warning("%s missing: run `make install` (npm ci) to serve %s", path, name)
    return app
