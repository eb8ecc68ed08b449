"""Consumer services as processes, killed and paused on the real broker.

The package has a broker of its own (`tests/brokers.py`), and each kill test one more
(`fresh_broker`): a consumer group new to a broker reads its topics from the beginning, so a
service would otherwise wade through the events of every case before it (every service's
access group reads `mcvt.actors`) before its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from services.devstack.tansu import TansuBroker, start_tansu
from tests.brokers import kafka, tansu  # noqa: F401


@pytest.fixture
def fresh_broker() -> Iterator[tuple[str, TansuBroker | None]]:
    """A Tansu of the test's own and its bootstrap servers (the broker of KAFKA_BOOTSTRAP_SERVERS
    when set, which cannot be held: then None)."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"], None
        return
    broker = start_tansu()
    try:
        yield broker.bootstrap_servers, broker
    finally:
        broker.stop()
