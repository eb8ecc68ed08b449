"""A logged error's traceback is plain text: rich's, with highlighted source and every frame's
locals, took seconds of the event loop each, and a service whose database was down logged one
per retry until it answered no request at all (tests/faults/infrastructure)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from services.runtime.logs import configure_logging


@pytest.fixture(params=[False, True], ids=["console", "json"])
def logged(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """What the services' logging writes, in each of its formats."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(json=request.param)
    written = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(written)
    yield written
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def test_an_error_is_logged_with_a_plain_traceback_without_locals(logged: io.StringIO) -> None:
    secret = "a-local-that-must-not-be-logged"
    try:
        raise ConnectionRefusedError(111, "Connect call failed")
    except ConnectionRefusedError:
        logging.getLogger("relay").exception("relay failed; retrying (%s)", len(secret))
    text = logged.getvalue()
    if text.startswith("{"):
        text = json.loads(text)["event"] + "\n" + json.loads(text)["exception"]
    assert "relay failed; retrying (31)" in text
    assert "Traceback (most recent call last):" in text
    assert "ConnectionRefusedError: [Errno 111] Connect call failed" in text
    assert secret not in text
    assert "╭" not in text  # no rich panel
