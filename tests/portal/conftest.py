"""The portal in front of the real actors, offers and matching services.

offers and matching run in-process (tests.harness) and are also served on loopback sockets,
because the portal reaches them over HTTP as it does in production. Until people sign in by
e-mail here, a test's session is made with the portal's own codec around an access token that
the test obtained with the actor's API key (tests only: the portal never holds a key).
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from services.portal.app import build_app
from services.portal.session import COOKIE, Session, SessionCodec
from services.portal.settings import PortalSettings
from tests.harness import Databases, Stack, start_stack
from tests.scenario import Member
from tests.support import http_server

SESSION_KEY = SessionCodec.new_key()


@dataclass
class Portal:
    app: FastAPI
    settings: PortalSettings
    stack: Stack

    def client(self) -> httpx.AsyncClient:
        """A browser without a session: no redirects followed, errors answered as pages."""
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url="http://portal", timeout=30)


@pytest.fixture(scope="package")
async def stack(databases: Databases, kafka: str) -> AsyncIterator[Stack]:
    settings = {"matching": {"consumer_group": f"matching.read-model.{uuid.uuid4().hex[:8]}"}}
    async with start_stack(databases, kafka, ["actors", "offers", "matching"], settings) as stack:
        yield stack


def portal_settings(actors: str, offers: str, matching: str) -> PortalSettings:
    return PortalSettings(
        actors_url=actors,
        offers_url=offers,
        matching_url=matching,
        session_key=SESSION_KEY,
        tile_url="",
        assets_dir="/nonexistent",  # pages only: the browser libraries are not needed here
    )


@pytest.fixture(scope="package")
async def portal(stack: Stack) -> AsyncIterator[Portal]:
    async with contextlib.AsyncExitStack() as served:
        offers = await served.enter_async_context(http_server(stack["offers"].app, lifespan=False))
        matching = await served.enter_async_context(
            http_server(stack["matching"].app, lifespan=False)
        )
        actors = str(stack.actors.base_url).rstrip("/")
        settings = portal_settings(actors, offers, matching)
        yield Portal(build_app(settings), settings, stack)


async def signed_in(
    portal: Portal, member: Member, *, roles: tuple[str, ...] = ()
) -> httpx.AsyncClient:
    """A browser whose session acts for `member`."""
    session = Session(
        access_token=member.headers["Authorization"].removeprefix("Bearer "),
        expires_at=time.time() + 600,
        person_name="Camille Test",
        person_email="camille@example.org",
        actor_id=member.id,
        roles=list(roles),
    )
    client = portal.client()
    client.cookies.set(COOKIE, SessionCodec(SESSION_KEY, 3600).dump(session))
    return client


def csrf_in(page: str) -> str:
    """The CSRF token a page's forms carry, as a browser would send it back."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF token in the page"
    return found.group(1)
