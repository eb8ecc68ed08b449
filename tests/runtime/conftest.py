from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from contracts.actors import ActorRegisteredV1
from contracts.envelope import CloudEvent, new_event
from contracts.topics import Topic
from services.runtime.db import create_pool, migrate
from services.runtime.kafka import ensure_topics, make_producer
from services.runtime.settings import ServiceSettings


@pytest.fixture
async def outbox_pool(new_database, tmp_path: Path) -> AsyncIterator[asyncpg.Pool]:
    """A database with only the runtime's tables (outbox, inbox)."""
    url = await new_database("runtime")
    await migrate(url, "test", tmp_path)
    pool = await create_pool(url)
    yield pool
    await pool.close()


@pytest.fixture
async def producer(kafka: str) -> AsyncIterator[AIOKafkaProducer]:
    await ensure_topics(kafka, [t.value for t in Topic], partitions=4)
    producer = make_producer(ServiceSettings(kafka_bootstrap_servers=kafka))
    await producer.start()
    yield producer
    await producer.stop()


def actor_event(subject: str, name: str) -> CloudEvent[ActorRegisteredV1]:
    payload = ActorRegisteredV1(
        actor_id=subject, territory_id="t-test", kind="business", name=name, status="pending", version=1
    )
    return new_event(payload, subject=subject, territory="t-test", source="/mcvt/test")


def new_subject() -> str:
    return str(uuid.uuid4())
