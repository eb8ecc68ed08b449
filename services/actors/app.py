"""The actors service assembled: its routes, consumer, published events and signing keys."""

from __future__ import annotations

from pathlib import Path

import jwt
from fastapi import FastAPI

from contracts import actors as actor_events
from services.actors import store
from services.actors.api import router, wellknown_router
from services.actors.consumers import governance_decisions
from services.actors.people_api import router as people_router
from services.actors.purge import SIGN_IN_PURGE
from services.actors.settings import ActorsSettings
from services.actors.tokens import jwks
from services.runtime.auth import TokenVerifier
from services.runtime.mail import mail_sender
from services.runtime.service import Runtime, ServiceSpec, create_app


async def load_signing_keys(app: FastAPI, runtime: Runtime) -> None:
    """Sign with the newest key; verify this service's own tokens without a JWKS round trip."""
    async with runtime.pool.acquire() as conn:
        keys = await store.ensure_signing_key(conn)
    app.state.signing_keys = keys
    app.state.verifier = TokenVerifier(
        issuer=runtime.settings.jwt_issuer,
        audience=runtime.settings.jwt_audience,
        keys=jwt.PyJWKSet.from_dict(jwks(keys)),
    )


async def start_mailer(app: FastAPI, runtime: Runtime) -> None:
    """The mail sender the settings name (SMTP, or a folder in development)."""
    settings = runtime.settings
    assert isinstance(settings, ActorsSettings)
    app.state.mailer = mail_sender(settings)


Settings = ActorsSettings


def spec(settings: ActorsSettings) -> ServiceSpec:
    """The service as these settings make it."""
    return ServiceSpec(
        name="actors",
        title="MCVT actors: territories, actors, their people, sign-in, API keys and tokens",
        migrations=Path(__file__).parent / "migrations",
        routers=(router, people_router),
        extra_routers=(wellknown_router,),
        consumers=(governance_decisions,),
        publishes=actor_events.PUBLISHED,
        on_start=(load_signing_keys, start_mailer),
        periodic=(SIGN_IN_PURGE,),
        # Actors holds the source of the access events: it checks its own tables, never lags,
        # and so never answers "not known yet" to an actor registered a moment ago.
        access=store.standing,
        export=store.personal_data,
    )


def build_app(settings: ActorsSettings | None = None) -> FastAPI:
    settings = settings or ActorsSettings()
    return create_app(spec(settings), settings)
