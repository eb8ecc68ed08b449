"""The actors service alone, one stack for the package.

Starting a service costs about a second, so the tests share one and keep apart by working in a
territory of their own (a new one for each test). Tests that need a fresh service (the rate
limits) start their own stack.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from services.actors.domain import ActorRegistration
from services.actors.handlers import bootstrap_territory
from services.runtime.context import Context
from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
from tests.harness import Databases, Running, start_stack
from tests.mailbox import Mailbox, smtp_server
from tests.scenario import token_for


@pytest.fixture(scope="package")
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server on loopback that receives what actors mails (tests read the mails to
    their own addresses)."""
    with smtp_server() as mailbox:
        yield mailbox


@pytest.fixture(scope="package")
async def actors(databases: Databases, kafka: str, mailbox: Mailbox) -> AsyncIterator[Running]:
    settings = {"actors": {"outbox_poll_interval_s": 0.2, **mailbox.settings}}
    async with start_stack(databases, kafka, ["actors"], settings) as stack:
        yield stack["actors"]


@dataclass
class Territory:
    id: str
    facilitator_id: str
    facilitator: dict[str, str]  # auth headers


@pytest.fixture
async def territory(actors: Running) -> Territory:
    draft = ActorRegistration.model_validate(
        {
            "territory_id": "00000000-0000-0000-0000-000000000000",
            "kind": "association",
            "name": "Équipe MCVT",
            "email": "facilitation@mcvt.example",
        }
    )
    territory_id, actor, key = await bootstrap_territory(
        actors.pool, f"Vallée de la Drôme {uuid.uuid4().hex[:8]}", draft, Context("/mcvt/actors")
    )
    assert actor is not None and key is not None
    return Territory(str(territory_id), str(actor.id), await token_for(actors.client, key.api_key))
