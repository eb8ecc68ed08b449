"""Prometheus metrics of one service, on its own registry, served at `GET /metrics`.

Every app gets a `ServiceMetrics` with a `CollectorRegistry` of its own, so two services in one
process (the tests run several) never register the same metric twice. What the registry holds:
HTTP requests and latency by route template (prometheus-fastapi-instrumentator), records
received per subscriber (FastStream's Kafka Prometheus middleware), events consumed by consumer
group, type and outcome, handler duration and dead-lettered events (`ConsumerMetrics`, fed by
the consumer runtime), and gauges read at scrape time: consumer lag per partition and the outbox
backlog with the age of its oldest unpublished row. Other parts (the scheduler) add their own
gauges with `gauge()` and refresh them with a provider given to `add_provider()`.

A provider that fails or hangs does not fail the scrape: its gauges keep their last values and
`mcvt_metrics_provider_errors_total` counts the failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Literal

import asyncpg
from aiokafka import TopicPartition
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from services.runtime.scheduler import scheduler_backlog

log = logging.getLogger(__name__)

# What a consumed event came to (see services/runtime/consumer.py).
Outcome = Literal["processed", "duplicate", "retried", "dead_lettered", "failed"]

# Refreshes some gauges at scrape time; it should answer in milliseconds (a cheap query).
GaugeProvider = Callable[[], Awaitable[None]]

_PROVIDER_TIMEOUT_S = 2.0
# Handlers are database transactions: from a millisecond to the seconds of a retried one.
_HANDLER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_OUTBOX_BACKLOG = """
SELECT count(*) AS backlog,
       (SELECT extract(epoch FROM now() - created_at) FROM outbox
        WHERE published_at IS NULL ORDER BY seq LIMIT 1) AS oldest_age_s
FROM outbox WHERE published_at IS NULL
"""


class ConsumerMetrics:
    """What the consumer runtime reports: one call per outcome, per handler run, per dead letter."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._consumed = Counter(
            "mcvt_events_consumed",
            "Events consumed, by consumer group, event type and outcome",
            ["consumer", "type", "outcome"],
            registry=registry,
        )
        self._duration = Histogram(
            "mcvt_event_handler_duration_seconds",
            "Time of one handler attempt with its transaction, by consumer group and event type",
            ["consumer", "type"],
            buckets=_HANDLER_BUCKETS,
            registry=registry,
        )
        self._dead_lettered = Counter(
            "mcvt_events_dead_lettered",
            "Records copied to a dead-letter topic, by consumer group and error type",
            ["consumer", "error"],
            registry=registry,
        )

    def consumed(self, consumer: str, event_type: str, outcome: Outcome, count: int = 1) -> None:
        self._consumed.labels(consumer, event_type, outcome).inc(count)

    def handled(self, consumer: str, event_type: str, seconds: float, count: int = 1) -> None:
        """`count` handler runs of `seconds` each (a batch's events share its time)."""
        child = self._duration.labels(consumer, event_type)
        for _ in range(count):
            child.observe(seconds)

    def dead_lettered(self, consumer: str, error: BaseException) -> None:
        self._dead_lettered.labels(consumer, type(error).__name__).inc()


class ServiceMetrics:
    """The registry of one app and the gauge providers it refreshes before each scrape."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.consumers = ConsumerMetrics(self.registry)
        self._providers: list[tuple[str, GaugeProvider]] = []
        self._provider_errors = Counter(
            "mcvt_metrics_provider_errors",
            "Scrape-time gauge providers that failed or timed out, by provider",
            ["provider"],
            registry=self.registry,
        )

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        """A gauge on this app's registry (for a provider to set at scrape time)."""
        return Gauge(name, documentation, list(labels), registry=self.registry)

    def add_provider(self, name: str, provider: GaugeProvider) -> None:
        """Call `provider` before every scrape; `name` labels its failures."""
        self._providers.append((name, provider))

    async def refresh(self) -> None:
        """Run every provider, concurrently; a failure is logged and counted, never raised."""

        async def run(name: str, provider: GaugeProvider) -> None:
            try:
                async with asyncio.timeout(_PROVIDER_TIMEOUT_S):
                    await provider()
            except Exception as error:
                self._provider_errors.labels(name).inc()
                log.warning("metrics provider %s failed: %r", name, error)

        await asyncio.gather(*(run(name, provider) for name, provider in self._providers))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def watch_outbox(self, pool: asyncpg.Pool) -> None:
        """Outbox backlog and the age of its oldest unpublished row, read at scrape time."""
        backlog = self.gauge("mcvt_outbox_backlog", "Outbox rows not yet published")
        oldest = self.gauge(
            "mcvt_outbox_oldest_unpublished_age_seconds",
            "Age of the oldest unpublished outbox row (0 when none is waiting)",
        )

        async def read() -> None:
            # Both read the partial index of unpublished rows; the oldest is the first by `seq`
            # (a row of a long transaction may be older by a moment: close enough for an alert).
            row = await pool.fetchrow(_OUTBOX_BACKLOG)
            assert row is not None
            backlog.set(row["backlog"])
            oldest.set(float(row["oldest_age_s"] or 0.0))

        self.add_provider("outbox", read)

    def watch_scheduler(self, pool: asyncpg.Pool) -> None:
        """Timed jobs by state (due, running, waiting, parked), read at scrape time."""
        jobs = self.gauge("mcvt_scheduler_jobs", "Timed jobs of the scheduler by state", ["state"])

        async def read() -> None:
            async with pool.acquire() as conn:
                for state, count in (await scheduler_backlog(conn)).items():
                    jobs.labels(state=state).set(count)

        self.add_provider("scheduler", read)

    def watch_consumer_lag(self, groups: Callable[[], Iterable[tuple[str, Any]]]) -> None:
        """Consumer lag per partition: highwater minus position of each live aiokafka consumer.

        `groups()` yields (consumer group, aiokafka consumer or None) at scrape time. A partition
        not fetched yet has no highwater and is left out; partitions no longer assigned to this
        replica are removed, since another replica reports them.
        """
        lag = self.gauge(
            "mcvt_consumer_lag",
            "Records on the broker not yet consumed, by consumer group, topic and partition",
            ["consumer", "topic", "partition"],
        )

        async def read() -> None:
            seen: set[tuple[str, ...]] = set()
            for group, consumer in groups():
                if consumer is None:
                    continue
                assigned: Iterable[TopicPartition] = consumer.assignment()
                for tp in assigned:
                    highwater = consumer.highwater(tp)
                    if highwater is None:
                        continue
                    position = await consumer.position(tp)
                    labels: tuple[str, ...] = (group, str(tp.topic), str(tp.partition))
                    lag.labels(*labels).set(max(0, highwater - position))
                    seen.add(labels)
            for gone in _label_sets(lag) - seen:
                lag.remove(*gone)

        self.add_provider("consumer_lag", read)


def _label_sets(gauge: Gauge) -> set[tuple[str, ...]]:
    return {
        tuple(sample.labels[name] for name in ("consumer", "topic", "partition"))
        for metric in gauge.collect()
        for sample in metric.samples
    }


metrics_router = APIRouter(tags=["metrics"])


@metrics_router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    service_metrics: ServiceMetrics = request.app.state.metrics
    await service_metrics.refresh()
    return Response(service_metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
