"""Kafka clients from the settings: the producer shared by the relay and dead-lettering, topics."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLScram512

from services.runtime.settings import ServiceSettings

log = logging.getLogger(__name__)


def security(settings: ServiceSettings) -> BaseSecurity | None:
    """How the clients authenticate: the service's SCRAM user when one is set, else not at all.

    One object for FastStream's broker and, through `client_options`, the plain aiokafka
    clients, so that every connection of a service presents the same identity.
    """
    tls = ssl.create_default_context() if settings.kafka_tls else None
    if settings.kafka_sasl_username:
        return SASLScram512(
            settings.kafka_sasl_username,
            settings.kafka_sasl_password.get_secret_value(),
            ssl_context=tls,
            use_ssl=settings.kafka_tls,
        )
    if tls is not None:
        return BaseSecurity(ssl_context=tls, use_ssl=True)
    return None


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """The aiokafka keyword arguments of `security(settings)`."""
    return parse_security(security(settings))


def make_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """A producer that waits for all in-sync replicas; idempotent where the broker supports it."""
    return AIOKafkaProducer(
        **client_options(settings),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        linger_ms=2,
        max_batch_size=256 * 1024,
        client_id=f"mcvt-{settings.service_name}",
    )


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    partitions: int,
    replication: int = 1,
    options: dict[str, Any] | None = None,
) -> None:
    """Create the missing topics with `partitions` partitions and `replication` copies each.

    A topic auto-created on first produce would get a single partition; creating them up front
    keeps per-aggregate ordering with room for consumer replicas. `options`: `client_options`.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **(options or {}))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = sorted(set(topics) - existing)
        if not missing:
            return
        try:
            await admin.create_topics(
                [
                    NewTopic(name, num_partitions=partitions, replication_factor=replication)
                    for name in missing
                ]
            )
        except TopicAlreadyExistsError:
            pass  # another service created it first
        log.info("topics created: %s", ", ".join(missing))
    finally:
        await admin.close()
