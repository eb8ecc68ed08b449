"""`GET /metrics` on every service: HTTP by route template, events consumed, lag, outbox."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from contracts.actors import ActorRegisteredV1
from services.actors.app import spec as actors_spec
from services.actors.handlers import bootstrap_territory
from services.actors.settings import ActorsSettings
from services.runtime.context import Context
from services.runtime.service import create_app
from tests.conftest import NewDatabase
from tests.flow.observability.conftest import Observed, register_actor
from tests.support import asgi_client, eventually


async def scrape(client: httpx.AsyncClient) -> dict[str, list[Sample]]:
    """The samples of each metric family, by family name."""
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family.samples for family in text_string_to_metric_families(response.text)}


def values(families: dict[str, list[Sample]], sample_name: str, **labels: str) -> list[float]:
    """Values of the samples named `sample_name` whose labels include `labels`."""
    family = sample_name.removesuffix("_total").removesuffix("_count")
    return [
        sample.value
        for sample in families.get(family, [])
        if sample.name == sample_name and labels.items() <= sample.labels.items()
    ]


async def test_every_service_counts_http_requests_by_route_template(observed: Observed) -> None:
    unknown = uuid.uuid4()
    routes = {
        "actors": (observed.actors, f"/v1/actors/{unknown}", "/v1/actors/{actor_id}"),
        "offers": (observed.offers, f"/v1/offers/{unknown}", "/v1/offers/{offer_id}"),
        "matching": (observed.matching, f"/v1/matches/{unknown}", "/v1/matches/{match_id}"),
    }
    for service, (client, path, template) in routes.items():
        assert (await client.get(path)).status_code == 401, service  # no token
        families = await scrape(client)
        assert values(
            families, "http_requests_total", handler=template, method="GET", status="4xx"
        ) == [1.0], service
        assert values(families, "http_request_duration_seconds_count", handler=template), service
        # Labelled by template, never by the raw path (one series per id would explode).
        assert not values(families, "http_requests_total", handler=path), service
        # The scrape does not count itself.
        await scrape(client)
        assert not values(await scrape(client), "http_requests_total", handler="/metrics")


async def test_consumers_report_events_by_type_and_outcome_and_their_lag(
    observed: Observed, territory_id: str
) -> None:
    response = await register_actor(observed, territory_id)
    actor_id = response.json()["actor"]["id"]
    registered = ActorRegisteredV1.event_type
    event_id = await observed.apps["actors"].state.runtime.pool.fetchval(
        "SELECT event_id FROM outbox WHERE key = $1 AND event_type = $2", actor_id, registered
    )
    # The partition the relay sends the event to (keyed by the actor, four partitions).
    partitions = [0, 1, 2, 3]
    partition = str(DefaultPartitioner()(actor_id.encode(), partitions, partitions))
    groups = {
        "offers": "offers.actors",
        "matching": observed.apps["matching"].state.runtime.settings.consumer_group,
    }
    for service, group in groups.items():
        client: httpx.AsyncClient = getattr(observed, service)
        pool = observed.apps[service].state.runtime.pool

        async def applied(pool: asyncpg.Pool = pool, group: str = group) -> bool:
            # A consumer group new to the shared broker first reads what earlier tests wrote.
            query = "SELECT true FROM inbox WHERE consumer = $1 AND event_id = $2"
            return bool(await pool.fetchval(query, group, str(event_id)))

        await eventually(applied, timeout=60)
        families = await scrape(client)
        processed = {"consumer": group, "type": registered, "outcome": "processed"}
        assert values(families, "mcvt_events_consumed_total", **processed), service
        assert values(families, "mcvt_event_handler_duration_seconds_count", consumer=group), (
            service
        )
        # FastStream's own count of records received by the subscriber of the topic.
        assert values(families, "faststream_received_messages_total", handler="mcvt.actors"), (
            service
        )

        async def caught_up(client: httpx.AsyncClient = client, group: str = group) -> bool:
            lags = {
                sample.labels["partition"]: sample.value
                for sample in (await scrape(client)).get("mcvt_consumer_lag", [])
                if sample.labels["consumer"] == group and sample.labels["topic"] == "mcvt.actors"
            }
            # Every partition is reported; the one holding the event has nothing after it.
            return set(lags) == {"0", "1", "2", "3"} and lags[partition] == 0

        await eventually(caught_up)


async def test_outbox_backlog_and_age_of_the_oldest_unpublished_row(
    new_database: NewDatabase, kafka: str
) -> None:
    """Without its relay (run_background off) an emitted event waits in the outbox."""
    settings = ActorsSettings(
        database_url=await new_database("obs_outbox"),
        kafka_bootstrap_servers=kafka,
        run_background=False,
    )
    app = create_app(actors_spec(settings), settings)
    async with asgi_client(app) as client:
        families = await scrape(client)
        assert values(families, "mcvt_outbox_backlog") == [0.0]
        assert values(families, "mcvt_outbox_oldest_unpublished_age_seconds") == [0.0]

        territory, _, _ = await bootstrap_territory(
            app.state.runtime.pool, "Vallée de la Drôme", None, Context("/mcvt/actors")
        )
        body = {
            "territory_id": str(territory),
            "kind": "business",
            "name": "Transports Frigo Diois",
            "email": "contact@frigo-diois.example",
        }
        assert (await client.post("/v1/actors", json=body)).status_code == 201
        await asyncio.sleep(0.05)  # the row ages

        families = await scrape(client)
        # The registration, and the two addresses it tells (the actor's and its first admin's).
        assert values(families, "mcvt_outbox_backlog") == [3.0]
        [age] = values(families, "mcvt_outbox_oldest_unpublished_age_seconds")
        assert 0.05 <= age < 30


async def test_scheduler_jobs_are_counted_by_state(observed: Observed) -> None:
    """Offers and matching declare periodic jobs: each is a scheduler row, counted by state."""
    for service in ("offers", "matching"):
        client = observed.stack[service].client

        async def counted(client: httpx.AsyncClient = client) -> bool:
            families = await scrape(client)
            states = {s.labels["state"]: s.value for s in families.get("mcvt_scheduler_jobs", [])}
            return (
                set(states) == {"due", "running", "waiting", "parked"} and sum(states.values()) >= 1
            )

        await eventually(counted)
