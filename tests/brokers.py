"""The Kafka-protocol broker the tests use: Tansu, in memory, up in a tenth of a second.

Package-scoped fixtures are scoped to the package of the conftest that defines them, so the root
conftest's copy serves the whole session, and a package whose conftest imports them
(`from tests.brokers import kafka, tansu`) gets a broker of its own. A package that starts a
stack should: its consumers then replay only what the package published. A new consumer group
reads a topic from its beginning, and an event of another package that it cannot place yet
(NotYet) would hold its partition for `consumer_not_yet_timeout_s`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator

import pytest

from services.devstack.tansu import TansuBroker, start_tansu


@pytest.fixture(scope="package")
def tansu(worker_id: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker | None]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        if worker_id != "master":
            # The services' consumer groups have fixed names: two sessions on one broker would
            # share their records between them.
            pytest.fail("KAFKA_BOOTSTRAP_SERVERS needs one test process: make test TEST_WORKERS=0")
        yield None
        return
    log_path = tmp_path_factory.mktemp("tansu") / "tansu.log"
    broker = start_tansu(log_path=log_path)
    yield broker
    exited = broker.process.poll()
    broker.stop()
    if exited is not None:
        # Its tests then fail on refused connections; what the broker said is the clue.
        tail = log_path.read_text(errors="replace")[-4000:]
        warnings.warn(
            f"the package's Tansu broker exited ({exited}) before its tests ended:\n{tail}",
            stacklevel=1,
        )


@pytest.fixture(scope="package")
def kafka(tansu: TansuBroker | None) -> str:
    """Bootstrap servers of the broker the package's tests use."""
    return tansu.bootstrap_servers if tansu else os.environ["KAFKA_BOOTSTRAP_SERVERS"]
