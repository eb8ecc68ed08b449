"""Read models compared between a live service and a fresh one replayed from offset 0: the
tables each service keeps from events, without the columns that say when (or under which
generated id) this instance applied them."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from services.runtime.outbox import _RELAY_LOCK
from services.runtime.service import create_app
from tests.harness import TEST_SETTINGS, Databases, Stack, app_module, groups_of_its_own
from tests.support import asgi_client

# When this instance applied an event, not what the event said.
APPLIED = {"created_at", "updated_at", "recorded_at", "revoked_at", "seq"}

# Per service: each read-model table, and its columns that the instance draws for itself.
READ_MODELS: dict[str, dict[str, set[str]]] = {
    "matching": {
        "offers": set(),
        "needs": set(),
        "actors": set(),
        "policies": set(),
        "access_actors": set(),
        "access_territories": set(),
    },
    "agreements": {
        # Its view of the confirmed matches: the agreement each one became (the agreement's id
        # and its signature deadline are drawn when the match is applied).
        "agreements": {"id", "lapses_at"},
        "offer_versions": set(),
        "need_versions": set(),
        "actor_kinds": set(),
        "territory_rules": set(),
    },
    "governance": {"members": set(), "territories": set(), "access_actors": set()},
    "notifications": {
        "notifications": set(),
        "access_actors": set(),
        "access_territories": set(),
    },
}


async def rows_of(pool: asyncpg.Pool, table: str, drawn: set[str]) -> Counter[str]:
    """The table's rows as canonical JSON, without the application columns and `drawn`."""
    records = await pool.fetch(f"SELECT * FROM {table}")
    ignored = APPLIED | drawn
    return Counter(
        json.dumps(
            {k: v for k, v in dict(r).items() if k not in ignored}, default=str, sort_keys=True
        )
        for r in records
    )


async def difference(live: asyncpg.Pool, replayed: asyncpg.Pool, service: str) -> dict[str, Any]:
    """Per table whose row sets differ: the rows only live has, and those only the replay has."""
    found: dict[str, Any] = {}
    for table, drawn in READ_MODELS[service].items():
        a, b = await rows_of(live, table, drawn), await rows_of(replayed, table, drawn)
        if a != b:
            found[table] = {
                "live only": list((a - b).elements()),
                "replay only": list((b - a).elements()),
            }
    return found


@contextlib.asynccontextmanager
async def replayed(
    databases: Databases, stack: Stack, service: str, **overrides: Any
) -> AsyncIterator[asyncpg.Pool]:
    """A fresh instance of `service` on a new database, with consumer groups of its own that read
    every topic from offset 0; its outbox relay is kept standing by (the test holds its lock),
    so that it publishes nothing into the topics the live services read. Its pool."""
    url = await databases.for_service(service)
    guard = await asyncpg.connect(url)
    try:
        assert await guard.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK)
        tag = uuid.uuid4().hex[:8]
        groups = groups_of_its_own(tag).get(service, {})
        module = app_module(service)
        settings = module.Settings(
            **{
                **TEST_SETTINGS,
                "database_url": url,
                "kafka_bootstrap_servers": stack.kafka,
                "jwks_url": f"{stack.urls['actors']}/.well-known/jwks.json",
                "access_consumer_group": f"{service}.access.{tag}",
                **(groups(stack) if callable(groups) else groups),
                **overrides,
            }
        )
        app = create_app(module.spec(settings), settings)
        async with asgi_client(app):
            yield app.state.runtime.pool
    finally:
        await guard.close()
        await databases.drop([url.rsplit("/", 1)[1]])
