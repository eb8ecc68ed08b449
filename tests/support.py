"""Helpers for tests that use the real parts: services in-process, records read off the broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from services.devstack.ports import free_port
from services.runtime.service import server_config

# Consumer settings for tests on Tansu, which makes a new group member wait about half the session
# timeout and answers a fetch only when its wait runs out.
QUICK_CONSUMERS: dict[str, Any] = {"kafka_session_timeout_ms": 2000, "kafka_fetch_max_wait_ms": 20}


@contextlib.asynccontextmanager
async def asgi_client(
    app: FastAPI, base_url: str = "http://service"
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (pool, migrations, broker, relay) and an HTTP client on it."""
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


@contextlib.asynccontextmanager
async def http_server(app: FastAPI, *, lifespan: bool = True) -> AsyncIterator[str]:
    """Serve the app on a free loopback port (for calls that cross a real socket, e.g. JWKS);
    `lifespan=False` for an app already started, served on a socket as well."""
    port = free_port()
    config = server_config(
        app, app.state.settings, host="127.0.0.1", port=port, lifespan="on" if lifespan else "off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 60
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            task.cancel()
            raise RuntimeError("test server did not start")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    timeout: float = 20.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read `topic` from the beginning (no group) until `until(records)` holds or time runs out."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + timeout
        while not until(records) and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


def events_of(records: list[ConsumerRecord[bytes, bytes]], **match: Any) -> list[dict[str, Any]]:
    """Decoded CloudEvents whose top-level attributes equal `match` (e.g. subject=..., type=...)."""
    decoded = [json.loads(r.value) for r in records if r.value]
    return [e for e in decoded if all(e.get(k) == v for k, v in match.items())]


async def produce(bootstrap: str, topic: str, value: bytes, key: bytes | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


async def eventually(
    check: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.05
) -> Any:
    """Await `check()` (sync or async) until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
