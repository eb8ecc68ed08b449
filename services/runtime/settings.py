"""Settings common to every service, read from the environment (pydantic-settings)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Base settings; each service subclasses it to set its name, port and own options.

    Built by the service's factory and passed down, never read from a module global, so that
    tests can build a service against their own database and broker.
    """

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    service_name: str = "service"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    host: str = "127.0.0.1"
    port: int = 8000

    # SASL/SCRAM-SHA-512 credentials on a cluster whose listener authenticates clients (the
    # Strimzi KafkaUser of the service, whose ACLs say what it may read and write); no user
    # name: an unauthenticated listener (development). TLS for a listener that encrypts.
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_tls: bool = False
    # Apache Kafka supports the idempotent producer; Tansu (development) does not.
    kafka_enable_idempotence: bool = False
    kafka_topic_partitions: int = Field(default=4, ge=1)
    # Replicas of the topics a service creates (its dead-letter topics, in a cluster): 3 on a
    # three-broker Kafka with min.insync.replicas=2, 1 on a single development broker.
    kafka_topic_replication: int = Field(default=1, ge=1)
    # A consumer that dies is noticed after this; a new group member also waits about half of it.
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1000)
    # How long a fetch waits for records. Kafka answers as soon as a record arrives; Tansu only
    # when the wait runs out, so on Tansu this bounds a consumer's latency (10-50 ms there).
    kafka_fetch_max_wait_ms: int = Field(default=500, ge=1)

    jwks_url: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    jwt_issuer: str = "mcvt-actors"
    jwt_audience: str = "mcvt"

    outbox_batch_size: int = Field(default=1000, ge=1)
    outbox_poll_interval_s: float = Field(default=1.0, gt=0)
    outbox_retention_hours: float = Field(default=168.0, gt=0)
    # A row bigger than this is parked, not sent: Apache Kafka refuses records over its
    # message.max.bytes (about 1 MB by default) and the relay would retry it for ever.
    outbox_max_record_bytes: int = Field(default=1_000_000, ge=1024)

    # The HTTP edge (services/runtime/edge.py). Bigger bodies get 413, bigger headers 431.
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    max_json_depth: int = Field(default=32, ge=2)
    # Retry-After of a 503 when the database or the broker is out of reach.
    unavailable_retry_after_s: int = Field(default=2, ge=1)

    # Rate limits (services/runtime/limits.py), in the `limits` library's notation. Memory is
    # per replica; a shared store (e.g. redis://host:6379) makes them hold across replicas.
    rate_limit_storage_uri: str = "memory://"
    rate_limit_per_token: str = "600/minute"
    rate_limit_per_address: str = "1200/minute"
    # Logging in and registering, per address: what guessing keys or mass sign-ups need.
    rate_limit_sensitive: str = "20/minute"

    # The consumer group of the access read model, `<service>.access` when empty. A new name
    # reads mcvt.actors from the beginning: how a service on a fresh database learns who exists.
    access_consumer_group: str = ""

    consumer_max_attempts: int = Field(default=3, ge=1)
    consumer_retry_backoff_s: float = Field(default=0.2, ge=0)
    # How long an event that refers to something not yet known (NotYet) is retried before it is
    # dead-lettered; the partition waits meanwhile, so keep it short.
    consumer_not_yet_timeout_s: float = Field(default=30.0, ge=0)

    # The durable scheduler (services/runtime/scheduler.py). The poll is only the fallback: it
    # wakes at the earliest due time and on NOTIFY. A run longer than its lease is cancelled.
    scheduler_poll_interval_s: float = Field(default=5.0, gt=0)
    scheduler_lease_s: float = Field(default=60.0, gt=0)
    scheduler_max_attempts: int = Field(default=5, ge=1)
    scheduler_retry_backoff_s: float = Field(default=1.0, ge=0)
    scheduler_retry_backoff_max_s: float = Field(default=300.0, ge=0)
    scheduler_concurrency: int = Field(default=4, ge=1)

    log_level: str = "INFO"
    log_json: bool = False
    # Start the outbox relay, the consumers and the scheduler with the app (tests of the HTTP
    # layer alone may not).
    run_background: bool = True

    @property
    def source(self) -> str:
        """CloudEvents `source` of everything this service publishes."""
        return f"/mcvt/{self.service_name}"
