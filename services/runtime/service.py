"""The service factory: one FastAPI app with its pool, migrations, broker, relay, consumers and
scheduler.

A service describes itself with a `ServiceSpec` (routers, migrations, consumers, the events it
publishes, its timed jobs); `create_app` builds the app and its lifespan; `serve` runs it with
uvicorn. Every app gets Prometheus metrics on `GET /metrics` (services/runtime/metrics.py) and,
when the `OTEL_*` variables ask for it, OpenTelemetry traces (services/runtime/tracing.py). Every
service gets the access check of `services.runtime.access`: by default its access read model and
the `<service>.access` consumer group that keeps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

import asyncpg
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, FastAPI, Request
from faststream._internal.types import BrokerMiddleware
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from opentelemetry.sdk.trace import TracerProvider
from prometheus_fastapi_instrumentator import Instrumentator

from contracts.envelope import CloudEvent, EventPayload
from services.runtime.access import (
    StandingOf,
    access_check,
    access_consumer,
    standing_from_read_model,
)
from services.runtime.auth import MaybeActor, TokenVerifier
from services.runtime.consumer import ConsumerRuntime, EventConsumer, subscribe
from services.runtime.context import Context
from services.runtime.db import create_pool, migrate
from services.runtime.docs import install_docs
from services.runtime.edge import ErrorBoundary, ProblemH11Protocol, RequestGuard
from services.runtime.health import health_router
from services.runtime.kafka import client_options, ensure_topics, make_producer, security
from services.runtime.logs import configure_logging, correlation_middleware, current_correlation_id
from services.runtime.metrics import ServiceMetrics, metrics_router
from services.runtime.outbox import OutboxRelay
from services.runtime.personal import Export, export_router
from services.runtime.problems import PROBLEM_RESPONSES, install_problem_handlers, problem_openapi
from services.runtime.ratelimit import install_rate_limits, rate_limit
from services.runtime.scheduler import JobKind, Periodic, Scheduler
from services.runtime.settings import ServiceSettings
from services.runtime.tracing import (
    instrument_app,
    instrument_asyncpg,
    tracer_provider_from_env,
    uninstrument_asyncpg,
)

log = logging.getLogger(__name__)

# Called once the pool and producer are up, before consumers start; may set app.state entries.
StartHook = Callable[[FastAPI, "Runtime"], Awaitable[None]]


@dataclass(frozen=True)
class ServiceSpec:
    """What a service is made of; the runtime does the rest."""

    name: str
    title: str
    migrations: Path
    routers: Sequence[APIRouter] = ()
    consumers: Sequence[EventConsumer] = ()
    publishes: Sequence[type[EventPayload]] = ()
    extra_routers: Sequence[APIRouter] = ()  # mounted at the root, not under /v1
    on_start: Sequence[StartHook] = ()
    jobs: Sequence[JobKind] = ()  # one-off timed jobs, scheduled with `scheduler.schedule`
    periodic: Sequence[Periodic[Any]] = ()
    # Where the auth dependency learns whether a caller may still come in. None: the runtime's
    # access read model, kept by a `<name>.access` consumer group added to `consumers`.
    access: StandingOf | None = None
    # What `GET /v1/me/export` returns of this service's own data about the caller.
    export: Export | None = None
    # Topics created with a partition count of their own (a service's internal topics); the
    # others get the settings' `kafka_topic_partitions`.
    partitions: Mapping[str, int] = field(default_factory=dict)


@dataclass
class Runtime:
    """The live parts of a running service, kept on `app.state.runtime`."""

    settings: ServiceSettings
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    broker: KafkaBroker
    relay: OutboxRelay
    consumers: ConsumerRuntime
    scheduler: Scheduler
    metrics: ServiceMetrics
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)


def build_broker(
    spec: ServiceSpec,
    settings: ServiceSettings,
    consumers: ConsumerRuntime | None,
    *,
    document: bool = False,
    middlewares: Sequence[BrokerMiddleware[Any, Any]] = (),
) -> KafkaBroker:
    """The FastStream broker with the service's subscribers (and, to document, its publishers).

    Publishing goes through the outbox relay; the publishers declared with `document=True` only
    describe the events in the generated AsyncAPI. `middlewares` wrap every subscriber (metrics,
    traces).
    """
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        enable_idempotence=settings.kafka_enable_idempotence,
        security=security(settings),
        client_id=f"mcvt-{settings.service_name}",
        description=spec.title,
        logger=logging.getLogger(f"mcvt.{spec.name}.broker"),
        middlewares=middlewares,
    )
    for consumer in consumers_of(spec, settings):
        subscribe(broker, consumer, consumers)
    for model in spec.publishes if document else ():
        broker.publisher(
            str(model.topic),
            title=f"{model.topic}:{model.event_type}",
            description=(model.__doc__ or "").strip() or None,
            schema=CloudEvent[model],  # type: ignore[valid-type]
        )
    return broker


def consumers_of(spec: ServiceSpec, settings: ServiceSettings) -> tuple[EventConsumer, ...]:
    """The service's consumer groups and, unless it checks access itself, the access one."""
    if spec.access is not None:
        return tuple(spec.consumers)
    group = settings.access_consumer_group or f"{spec.name}.access"
    return (*spec.consumers, access_consumer(group))


def topics_of(spec: ServiceSpec, settings: ServiceSettings) -> set[str]:
    topics = {str(model.topic) for model in spec.publishes}
    for consumer in consumers_of(spec, settings):
        topics.update(consumer.topics)
        topics.add(consumer.dead_letter_topic)
    return topics


def _by_partitions(spec: ServiceSpec, settings: ServiceSettings) -> dict[int, list[str]]:
    """The service's topics grouped by the partition count they are created with."""
    grouped: dict[int, list[str]] = {}
    for topic in sorted(topics_of(spec, settings) | set(spec.partitions)):
        count = spec.partitions.get(topic, settings.kafka_topic_partitions)
        grouped.setdefault(count, []).append(topic)
    return grouped


def create_app(
    spec: ServiceSpec, settings: ServiceSettings, *, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    """Build the service's FastAPI app; its lifespan starts and stops every part.

    Traces go to `tracer_provider` when given (tests), else to the one the `OTEL_*` variables
    describe, else nowhere: then nothing is instrumented.
    """
    metrics = ServiceMetrics(spec.name)
    owns_provider = tracer_provider is None
    provider = tracer_provider or tracer_provider_from_env(spec.name)
    middlewares: list[BrokerMiddleware[Any, Any]] = []
    if provider is not None:
        middlewares.append(KafkaTelemetryMiddleware(tracer_provider=provider))
    middlewares.append(KafkaPrometheusMiddleware(registry=metrics.registry, app_name=spec.name))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await migrate(settings.database_url, spec.name, spec.migrations)
        pool = await create_pool(settings.database_url)
        producer = make_producer(settings)
        consumers = ConsumerRuntime(
            pool=pool,
            producer=producer,
            source=settings.source,
            max_attempts=settings.consumer_max_attempts,
            retry_backoff_s=settings.consumer_retry_backoff_s,
            not_yet_timeout_s=settings.consumer_not_yet_timeout_s,
            session_timeout_ms=settings.kafka_session_timeout_ms,
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
            metrics=metrics.consumers,
        )
        broker = build_broker(spec, settings, consumers, middlewares=middlewares)
        relay = OutboxRelay(
            pool,
            producer,
            batch_size=settings.outbox_batch_size,
            poll_interval_s=settings.outbox_poll_interval_s,
            retention_s=settings.outbox_retention_hours * 3600,
            max_record_bytes=settings.outbox_max_record_bytes,
        )
        scheduler = Scheduler(
            pool,
            settings,
            jobs=spec.jobs,
            periodic=spec.periodic,
            context=lambda: system_context(settings),
        )
        runtime = Runtime(settings, pool, producer, broker, relay, consumers, scheduler, metrics)
        app.state.runtime = runtime
        metrics.watch_outbox(pool)
        metrics.watch_scheduler(pool)
        metrics.watch_consumer_lag(
            lambda: (
                (getattr(sub, "group_id", None) or "", getattr(sub, "consumer", None))
                for sub in broker.subscribers
            )
        )
        traces_queries = provider is not None and instrument_asyncpg(provider)
        try:
            for count, topics in _by_partitions(spec, settings).items():
                await ensure_topics(
                    settings.kafka_bootstrap_servers,
                    topics,
                    count,
                    settings.kafka_topic_replication,
                    client_options(settings),
                )
            await producer.start()
            app.state.verifier = TokenVerifier(
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                jwks_url=settings.jwks_url,
            )
            app.state.check_access = access_check(pool, spec.access or standing_from_read_model)
            for hook in spec.on_start:
                await hook(app, runtime)
            if settings.run_background:
                await broker.start()
                runtime.tasks.append(
                    asyncio.create_task(relay.run(), name=f"{spec.name}-outbox-relay")
                )
                if scheduler.kinds:
                    runtime.tasks.append(
                        asyncio.create_task(scheduler.run(), name=f"{spec.name}-scheduler")
                    )
            log.info("%s ready on port %d", spec.name, settings.port)
            yield
        finally:
            for task in runtime.tasks:
                task.cancel()
            await asyncio.gather(*runtime.tasks, return_exceptions=True)
            await broker.stop()
            await producer.stop()
            await pool.close()
            if traces_queries:
                uninstrument_asyncpg()
            if provider is not None and owns_provider:
                # Flushes the spans still batched; the exporter's own timeout bounds it.
                await asyncio.to_thread(provider.shutdown)

    app = FastAPI(
        title=spec.title,
        version="1.0.0",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # /docs and /redoc are served offline by install_docs
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    # Innermost first: bodies are checked inside the error boundary, both inside the
    # correlation id so that every answer and log line carries it.
    app.add_middleware(
        RequestGuard,
        max_body_bytes=settings.max_body_bytes,
        max_json_depth=settings.max_json_depth,
        max_header_bytes=settings.max_header_bytes,
    )
    app.add_middleware(ErrorBoundary)
    app.middleware("http")(correlation_middleware)
    install_problem_handlers(app, retry_after_s=settings.unavailable_retry_after_s)
    install_rate_limits(app, settings)
    app.openapi = problem_openapi(app)  # type: ignore[method-assign]
    install_docs(app)
    app.include_router(health_router)
    for router in spec.routers:
        app.include_router(
            router, prefix="/v1", responses=PROBLEM_RESPONSES, dependencies=[Depends(rate_limit)]
        )
    app.include_router(
        export_router(spec.name, spec.export),
        prefix="/v1",
        responses=PROBLEM_RESPONSES,
        dependencies=[Depends(rate_limit)],
    )
    for router in spec.extra_routers:
        app.include_router(router)
    app.include_router(metrics_router)
    # HTTP requests and latency by route template; the scrape itself is not counted.
    Instrumentator(excluded_handlers=["/metrics"], registry=metrics.registry).instrument(app)
    if provider is not None:
        instrument_app(app, provider)
    return app


def server_config(app: FastAPI, settings: ServiceSettings, **overrides: Any) -> uvicorn.Config:
    """uvicorn's configuration of a service: its header limit (h11's incomplete-event size,
    answered with 431 by `ProblemH11Protocol`), no log configuration of its own. An idle
    connection is kept longer than clients keep theirs (httpx: 5 s), so a client never sends a
    request on a connection the server is closing at that moment (a ReadError, not a retry)."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "http": ProblemH11Protocol,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "timeout_keep_alive": 30,
        **overrides,
    }
    return uvicorn.Config(app, **options)


def serve(spec: ServiceSpec, settings: ServiceSettings) -> None:
    """Run the service in this process (the `python -m services.<name>` entry point)."""
    configure_logging(settings.log_level, json=settings.log_json)
    uvicorn.Server(server_config(create_app(spec, settings), settings)).run()


# Dependencies for routes: `pool: Pool`, `runtime: RuntimeDep`, `ctx: RequestContext`.
def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_pool(request: Request) -> asyncpg.Pool:
    return get_runtime(request).pool


def get_settings(request: Request) -> ServiceSettings:
    settings: ServiceSettings = request.app.state.settings
    return settings


S = TypeVar("S", bound=ServiceSettings)


def settings_of(kind: type[S]) -> Callable[[Request], S]:
    """A dependency giving the service's own settings class, e.g.
    `Annotated[OffersSettings, Depends(settings_of(OffersSettings))]`."""

    def typed(request: Request) -> S:
        settings = get_settings(request)
        if not isinstance(settings, kind):
            raise TypeError(
                f"this service runs with {type(settings).__name__}, not {kind.__name__}"
            )
        return settings

    return typed


def request_context(request: Request, principal: MaybeActor) -> Context:
    """The context of an HTTP command: this service as source, the request's correlation id,
    the authenticated actor (if any) as initiator, no causing event."""
    return Context(
        source=get_settings(request).source,
        correlation_id=current_correlation_id(),
        actor_id=principal.actor_id if principal else None,
    )


def system_context(settings: ServiceSettings) -> Context:
    """The context of what the service does by itself (its timed jobs): no request, no event,
    no initiating actor."""
    return Context(settings.source)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
RequestContext = Annotated[Context, Depends(request_context)]
Pool = Annotated[asyncpg.Pool, Depends(get_pool)]
