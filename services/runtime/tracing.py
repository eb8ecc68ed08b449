"""OpenTelemetry traces: one trace from an HTTP request through the outbox and Kafka to consumers.

The guarantee: a span current when an event is enqueued (the HTTP request's, or the consumer's
that caused it) is the parent of the span of every consumer of that event. The W3C
`traceparent`/`tracestate` are written into the outbox row's headers in the enqueuing
transaction, the relay sends them as Kafka headers, and FastStream's Kafka telemetry middleware
continues the trace on the consuming side, where the handler's SQL (asyncpg) and the events it
emits join the same trace. A relay that republishes after a crash sends the same headers again.

Configured by the standard `OTEL_*` variables: tracing is on when an OTLP endpoint
(`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or `OTEL_TRACES_EXPORTER`
(`otlp` or `console`) is set, and off when none is or `OTEL_SDK_DISABLED=true`. Off, nothing is
instrumented and no exporter runs: what remains is the propagator finding no span to inject.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from fastapi import FastAPI
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

log = logging.getLogger(__name__)

# Probes and scrapes are not requests anyone traces.
_EXCLUDED_URLS = "/metrics,/healthz,/readyz"


def tracer_provider_from_env(
    service_name: str, environ: Mapping[str, str] = os.environ
) -> TracerProvider | None:
    """An SDK tracer provider exporting as the `OTEL_*` variables say, or None when tracing is off.

    The SDK itself reads the rest: sampler (`OTEL_TRACES_SAMPLER`), batch sizes (`OTEL_BSP_*`),
    exporter endpoint, headers and timeout, resource attributes; `OTEL_SERVICE_NAME` overrides
    the service's name.
    """
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    names = [
        name.strip().lower()
        for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",")
        if name.strip()
    ]
    endpoint_set = any(
        environ.get(variable)
        for variable in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )
    if not names:
        names = ["otlp"] if endpoint_set else []
    names = [name for name in names if name != "none"]
    if not names:
        return None
    attributes = {} if environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service_name}
    provider = TracerProvider(resource=Resource.create(attributes))
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    return provider


def _exporter(name: str) -> SpanExporter:
    if name == "otlp":
        # Imported here: the exporter pulls protobuf and requests, which an untraced service
        # never needs to load.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "console":
        return ConsoleSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER: unsupported exporter {name!r} (otlp, console, none)")


def instrument_app(app: FastAPI, provider: TracerProvider) -> None:
    """Trace the app's HTTP requests (server spans by route template) with `provider`."""
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls=_EXCLUDED_URLS)


def instrument_asyncpg(provider: TracerProvider) -> bool:
    """Trace every asyncpg query of the process; False when something already did.

    asyncpg is patched for the whole process, so with several traced apps in one process (tests)
    the first one's provider records the queries of all; each span still has the right parent.
    """
    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    if instrumentor.is_instrumented_by_opentelemetry:
        return False
    instrumentor.instrument(tracer_provider=provider)
    return True


def uninstrument_asyncpg() -> None:
    AsyncPGInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
