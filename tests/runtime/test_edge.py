"""The runtime's HTTP edge on a bare app: out-of-reach dependencies, unmapped errors, 405."""

from __future__ import annotations

import asyncio
import logging
import socket

import asyncpg
import httpx
import pytest
from aiokafka.errors import KafkaConnectionError
from fastapi import FastAPI

from services.runtime.edge import ErrorBoundary
from services.runtime.problems import install_problem_handlers
from services.runtime.settings import ServiceSettings
from tests.support import http_server


def _app(error: Exception) -> FastAPI:
    app = FastAPI()
    app.add_middleware(ErrorBoundary)
    install_problem_handlers(app, retry_after_s=3)

    @app.get("/fails")
    async def fails() -> None:
        raise error

    @app.get("/pool")
    async def pool() -> None:
        # A real refusal: nothing listens on a port just freed.
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/x", timeout=2)

    return app


async def _get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
        return await client.get(path)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.InternalClientError("cannot switch to state 11; another operation is in progress"),
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError(),  # what pool.acquire(timeout=...) raises
        KafkaConnectionError("broker down"),
        asyncpg.DeadlockDetectedError("deadlock detected"),
        asyncpg.SerializationError("could not serialize access due to concurrent update"),
    ],
    ids=lambda error: type(error).__name__,
)
async def test_a_dependency_out_of_reach_is_503_with_retry_after(error) -> None:
    response = await _get(_app(error), "/fails")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["Retry-After"] == "3"


async def test_a_refused_database_connection_is_503() -> None:
    response = await _get(_app(RuntimeError()), "/pool")
    assert response.status_code == 503


async def test_an_unmapped_error_is_500_logged_once(caplog) -> None:
    with caplog.at_level(logging.ERROR):
        response = await _get(_app(KeyError("boom")), "/fails")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    logged = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(logged) == 1 and logged[0].exc_info is not None


async def test_405_names_the_allowed_methods() -> None:
    transport = httpx.ASGITransport(app=_app(RuntimeError()))
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
        response = await client.delete("/fails")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_idle_connection_outlives_the_clients_keep_alive() -> None:
    """A pooled connection idle for as long as httpx keeps one (5 s) is still open: the server
    closing it at that moment would fail the client's next request with a ReadError."""
    app = FastAPI()
    app.state.settings = ServiceSettings()

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    client_expiry = httpx.Limits().keepalive_expiry
    assert client_expiry is not None
    async with http_server(app, lifespan=False) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        request = f"GET /ping HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        writer.write(request)
        assert (await reader.readuntil(b'{"ok":true}')).startswith(b"HTTP/1.1 200")
        await asyncio.sleep(client_expiry + 0.5)
        writer.write(request)
        answer = await asyncio.wait_for(reader.readuntil(b'{"ok":true}'), timeout=5)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200")
