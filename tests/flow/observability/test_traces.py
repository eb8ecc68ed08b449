"""One trace from an HTTP request through the outbox and Kafka to a consumer and its SQL."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from services.runtime.tracing import tracer_provider_from_env
from tests.flow.observability.conftest import Observed, register_actor
from tests.support import eventually


def _in_trace(observed: Observed, trace_id: int) -> list[ReadableSpan]:
    return [
        span
        for span in observed.spans.get_finished_spans()
        if span.context is not None and span.context.trace_id == trace_id
    ]


async def test_a_consumer_continues_the_trace_of_the_request_that_emitted_its_event(
    observed: Observed, territory_id: str
) -> None:
    observed.spans.clear()  # spans of other tests in the package
    response = await register_actor(observed, territory_id)
    actor_id = response.json()["actor"]["id"]

    [request] = [
        span
        for span in observed.spans.get_finished_spans()
        if span.kind is SpanKind.SERVER
        and span.attributes is not None
        and span.attributes.get("http.route") == "/v1/actors"
        and span.attributes.get("http.request.method", span.attributes.get("http.method")) == "POST"
    ]
    assert request.context is not None
    trace_id = request.context.trace_id

    # Offers' consumer records the event in its inbox inside the consumer's span, in this trace.
    offers_db = observed.databases["offers"]

    def offers_inbox_insert() -> list[ReadableSpan]:
        spans = _in_trace(observed, trace_id)
        by_id = {span.context.span_id: span for span in spans if span.context is not None}
        found = []
        for span in spans:
            attributes = span.attributes or {}
            if attributes.get("db.name") != offers_db:
                continue
            if "INSERT INTO inbox" not in str(attributes.get("db.statement", "")):
                continue
            ancestor = by_id.get(span.parent.span_id) if span.parent else None
            while ancestor is not None and ancestor.kind is not SpanKind.CONSUMER:
                ancestor = by_id.get(ancestor.parent.span_id) if ancestor.parent else None
            if ancestor is not None and ancestor.name == "mcvt.actors process":
                found.append(span)
        return found

    await eventually(offers_inbox_insert)

    # The consumer's span descends from the request's span, not merely shares its trace id.
    consumer = next(
        span
        for span in _in_trace(observed, trace_id)
        if span.kind is SpanKind.CONSUMER and span.name == "mcvt.actors process"
    )
    assert consumer.parent is not None
    assert consumer.parent.span_id == request.context.span_id
    # And the read model the consumer built is the one for this actor (the span of its inbox
    # insert ends before the consumer's transaction commits).
    offers_pool = observed.apps["offers"].state.runtime.pool
    await eventually(
        lambda: offers_pool.fetchval(
            "SELECT count(*) FROM actors WHERE actor_id = $1::uuid", actor_id
        )
    )


def test_tracing_is_off_unless_the_otel_variables_ask_for_it() -> None:
    assert tracer_provider_from_env("actors", {}) is None
    assert tracer_provider_from_env("actors", {"OTEL_TRACES_EXPORTER": "none"}) is None
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    assert tracer_provider_from_env("actors", {**endpoint, "OTEL_SDK_DISABLED": "true"}) is None

    provider = tracer_provider_from_env("actors", endpoint)
    assert provider is not None
    assert provider.resource.attributes["service.name"] == "actors"
    provider.shutdown()
    console = tracer_provider_from_env("offers", {"OTEL_TRACES_EXPORTER": "console"})
    assert console is not None
    console.shutdown()
