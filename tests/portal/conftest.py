"""The portal in front of the real services.

They run in-process (tests.harness) and are served on loopback sockets, because the portal
reaches them over HTTP as it does in production. actors mails to an SMTP
server on loopback (tests.mailbox); a test signs in as a person does: it asks the portal for a
link, takes the link from the mail, and opens it. The API keys of `tests.scenario` serve only
the tests' own checks against the APIs.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.actors.domain import ActorRegistration
from services.actors.handlers import bootstrap_territory
from services.portal.app import build_app
from services.portal.session import COOKIE, SessionCodec
from services.portal.settings import PortalSettings
from services.runtime.context import Context
from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
from tests.harness import Databases, Stack, groups_of_its_own, start_stack
from tests.mailbox import Mailbox, smtp_server
from tests.scenario import DIE, Member, Territory, known_to_offers, new_member, token_for

SESSION_KEY = SessionCodec.new_key()
PORTAL_URL = "http://portal"


@dataclass
class Portal:
    app: FastAPI
    settings: PortalSettings
    stack: Stack
    mailbox: Mailbox

    def client(self) -> httpx.AsyncClient:
        """A browser without a session: no redirects followed, errors answered as pages."""
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url=PORTAL_URL, timeout=30)


@pytest.fixture(scope="package")
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as mailbox:
        yield mailbox


@pytest.fixture(scope="package")
async def stack(databases: Databases, kafka: str, mailbox: Mailbox) -> AsyncIterator[Stack]:
    settings = groups_of_its_own(uuid.uuid4().hex[:8])
    settings["actors"] = {**mailbox.settings, "portal_url": PORTAL_URL}
    settings["notifications"] = {
        **settings["notifications"],  # type: ignore[dict-item]
        "stream_ping_s": 1.0,
        "stream_poll_interval_s": 0.2,
    }
    async with start_stack(
        databases, kafka, PORTAL_UPSTREAMS, settings, on_socket=PORTAL_UPSTREAMS[1:]
    ) as stack:
        yield stack


# actors first: the others verify tokens with its key set.
PORTAL_UPSTREAMS = [
    "actors", "offers", "matching", "agreements", "governance", "notifications", "projects"
]  # fmt: skip


def portal_settings(urls: dict[str, str]) -> PortalSettings:
    return PortalSettings.model_validate(
        {
            **{f"{name}_url": url for name, url in urls.items()},
            "public_url": PORTAL_URL,
            "session_key": SESSION_KEY,
            "tile_url": "",
            "assets_dir": Path("/nonexistent"),  # pages only: no browser libraries needed
        }
    )


@pytest.fixture(scope="package")
async def portal(stack: Stack, mailbox: Mailbox) -> AsyncIterator[Portal]:
    urls = {name: stack.urls[name].rstrip("/") for name in PORTAL_UPSTREAMS}
    settings = portal_settings(urls)
    yield Portal(build_app(settings), settings, stack, mailbox)


def csrf_in(page: str) -> str:
    """The CSRF token a page's forms carry, as a browser would send it back."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF token in the page"
    return found.group(1)


def replace_session_cookie(client: httpx.AsyncClient, value: str) -> None:
    """Put another session cookie where the portal set its own (same domain and path)."""
    domains = [cookie.domain for cookie in client.cookies.jar if cookie.name == COOKIE]
    client.cookies.delete(COOKIE)
    client.cookies.set(COOKIE, value, domain=domains[0] if domains else "", path="/")


@dataclass
class Person:
    """Someone who signs in at the portal for an actor (its first admin, by e-mail), and the
    actor's API headers for the tests' own checks."""

    email: str
    member: Member

    @property
    def id(self) -> str:
        return self.member.id


async def new_person(
    stack: Stack, territory: Territory, *, kind: str = "association", name: str = "Épicerie",
    admit: bool = True,
) -> Person:  # fmt: skip
    """Register an actor whose registrant (its first admin) has an e-mail of its own."""
    email = f"{kind}-{uuid.uuid4().hex[:10]}@exemple.org"
    member = await new_member(stack, territory, kind=kind, name=name, admit=admit, email=email)
    return Person(email, member)


@dataclass
class Place:
    """A territory whose facilitator is a person with an e-mail of their own."""

    territory: Territory
    facilitator: Person


async def new_place(stack: Stack) -> Place:
    email = f"animation-{uuid.uuid4().hex[:10]}@exemple.org"
    draft = ActorRegistration.model_validate(
        {"territory_id": str(uuid.uuid4()), "kind": "association", "name": "Équipe d'animation",
         "email": email, "location": DIE}
    )  # fmt: skip
    territory_id, actor, key = await bootstrap_territory(
        stack.pool("actors"), f"Vallée {uuid.uuid4().hex[:8]}", draft, Context("/mcvt/actors")
    )
    assert actor is not None and key is not None
    headers = await token_for(stack.actors, key.api_key)
    await known_to_offers(stack, str(actor.id), "active")
    member = Member(str(actor.id), str(territory_id), headers)
    return Place(Territory(str(territory_id), member), Person(email, member))


@contextlib.asynccontextmanager
async def signed_in(portal: Portal, person: Person) -> AsyncIterator[httpx.AsyncClient]:
    """A browser in which `person` signed in: link asked, taken from the mail, opened."""
    async with portal.client() as client:
        await sign_in(portal, client, person)
        yield client


async def sign_in(portal: Portal, client: httpx.AsyncClient, person: Person) -> None:
    page = await client.get("/connexion")
    seen = len(portal.mailbox.to(person.email))
    asked = await client.post(
        "/connexion", data={"email": person.email, "csrf": csrf_in(page.text)}
    )
    assert asked.status_code == 200 and "Regardez vos e-mails" in asked.text, asked.text
    token = await portal.mailbox.link_to(person.email, seen=seen)
    confirm = await client.get(f"/connexion/{token}")
    opened = await client.post(f"/connexion/{token}", data={"csrf": csrf_in(confirm.text)})
    assert opened.status_code == 303, opened.text
