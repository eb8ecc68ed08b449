"""The notifications service over HTTP on real PostgreSQL, served on a real loopback socket (for
its event stream), with actors beside it for tokens; events are put on the broker as the other
services would, and webhooks go to a receiver on loopback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
from tests.harness import Databases, Stack, start_stack
from tests.mailbox import Mailbox, serving
from tests.scenario import Territory, new_territory
from tests.service.notifications.receiver import Receiver, receiver

NOTIFICATIONS_TEST_SETTINGS = {
    "webhook_require_https": False,
    "webhook_allow_loopback": True,
    "delivery_poll_interval_s": 0.1,
    "delivery_retry_schedule_s": (0.3, 0.3, 0.3),
    "delivery_timeout_s": 2.0,
    "delivery_lease_margin_s": 1.0,
    "endpoint_concurrency": 2,
    "delivery_concurrency": 16,
    "stream_ping_s": 1.0,
    "stream_poll_interval_s": 0.2,
    "stream_connections_per_actor": 2,
    "stream_buffer": 8,
}


@pytest.fixture(scope="package")
def mailbox() -> Iterator[FlakyMailbox]:
    with serving(FlakyMailbox()) as started:
        yield started


@pytest.fixture(scope="package")
async def stack(databases: Databases, kafka: str, mailbox: FlakyMailbox) -> AsyncIterator[Stack]:
    settings = {
        "notifications": {
            **NOTIFICATIONS_TEST_SETTINGS,
            **mailbox.settings,
            "public_url": "http://notifications.test",
            "scheduler_poll_interval_s": 0.2,
            "mail_gather_s": 0.5,
            "scheduler_retry_backoff_s": 0.2,
            "consumer_group_prefix": f"notifications.{uuid.uuid4().hex[:8]}",
        }
    }
    async with start_stack(
        databases, kafka, ["actors", "notifications"], settings, on_socket=["notifications"]
    ) as stack:
        yield stack


@pytest.fixture
async def territory(stack: Stack) -> Territory:
    return await new_territory(stack)


@pytest.fixture(scope="package")
async def partner() -> AsyncIterator[Receiver]:
    async with receiver() as started:
        yield started


class FlakyMailbox(Mailbox):
    """A mailbox whose server answers 451 (try again later) to the first mail to the addresses
    in `refuse_once`."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse_once: set[str] = set()
        self.refused: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for address in envelope.rcpt_tos:
            if address in self.refuse_once:
                self.refuse_once.discard(address)
                self.refused.append(address)
                return "451 4.3.0 Essayez plus tard"
        return await super().handle_DATA(server, session, envelope)
