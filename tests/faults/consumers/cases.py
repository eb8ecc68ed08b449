"""What each consumer service is fed in the kill tests, and how its effects are counted.

A case names the events a service consumes (as their services publish them), the query that
counts the effects applied so far (polled to kill the service mid-stream), and the figures that
must hold once every event is applied: rows, sums and deliveries, each exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from contracts.actors import ActorAdmittedV1, ActorRegisteredV1
from contracts.envelope import CloudEvent, new_event
from contracts.needs import NeedPublishedV1
from contracts.projects import ProjectEvaluatedV1
from tests.scenario import Member
from tests.service.notifications.steps import proposed
from tests.unit.matching.payloads import event, need_state

SOURCE = "/mcvt/tests"
# No request reaches it: these services verify no token in the kill tests (but notifications,
# which runs with actors beside it).
NO_JWKS = "http://127.0.0.1:9/.well-known/jwks.json"


@dataclass
class World:
    """The territory the events belong to, and what a case prepared in the service."""

    database_url: str
    territory_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    member: Member | None = None  # an actor known to actors (notifications' subscriber)
    hook_url: str = ""  # a webhook receiver's address (notifications)
    project_id: str = ""  # a project with `carrier` as its carrier (projects)
    carrier: str = ""


# Figures that must hold at the end: (what, SQL, its expected value given the events).
Check = tuple[str, str, Callable[[list[CloudEvent[Any]]], Any]]


@dataclass(frozen=True)
class Case:
    service: str
    events: Callable[[World, int], list[CloudEvent[Any]]]
    applied: str  # SQL: how many events' effects are in the database now
    checks: tuple[Check, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    with_actors: bool = False  # actors beside it, for a token (and its JWKS)
    prepare: Callable[[World], Awaitable[None]] | None = None
    # Events fed: enough that they are still streaming in when the kill lands.
    count: int = 1000

    def __str__(self) -> str:
        return self.service


def _count(events: list[CloudEvent[Any]]) -> int:
    return len(events)


def needs(world: World, n: int) -> list[CloudEvent[Any]]:
    """Needs published by associations of the territory (for a project, when one is set)."""
    project: dict[str, Any] = {"project_id": world.project_id} if world.project_id else {}
    states = [
        need_state(
            need_id=str(uuid.uuid4()),
            requester_id=world.carrier or str(uuid.uuid4()),
            territory_id=world.territory_id,
            **project,
        )
        for _ in range(n)
    ]
    return [event(NeedPublishedV1, state) for state in states]


def actors(model: type[ActorRegisteredV1] | type[ActorAdmittedV1]) -> Callable[..., Any]:
    def made(world: World, n: int) -> list[CloudEvent[Any]]:
        events: list[CloudEvent[Any]] = []
        for i in range(n):
            actor_id = str(uuid.uuid4())
            payload = model(
                actor_id=actor_id,
                territory_id=world.territory_id,
                kind="association" if i % 2 else "business",
                name=f"Acteur {i}",
                status="active" if model is ActorAdmittedV1 else "pending",
                version=1 if model is ActorRegisteredV1 else 2,
            )
            events.append(
                new_event(payload, subject=actor_id, territory=world.territory_id, source=SOURCE)
            )
        return events

    return made


def evaluations(world: World, n: int) -> list[CloudEvent[Any]]:
    """One trial's evaluation per project, each worth its index in cents plus one."""
    events: list[CloudEvent[Any]] = []
    for i in range(n):
        payload = ProjectEvaluatedV1(
            evaluation_id=str(uuid.uuid4()),
            project_id=str(uuid.uuid4()),
            territory_id=world.territory_id,
            theme="agriculture_wood",
            indicators=[{"name": "paniers", "target": 100, "measured": 90}],
            jobs_created=0.5,
            jobs_consolidated=0,
            people_served=3,
            value_created_cents=i + 1,
            evaluated_by=str(uuid.uuid4()),
            evaluated_at=datetime.now(UTC),
        )
        events.append(
            new_event(
                payload, subject=payload.project_id, territory=world.territory_id, source=SOURCE
            )
        )
    return events


def matches(world: World, n: int) -> list[CloudEvent[Any]]:
    """Matches proposed to the subscribed member, as matching publishes them."""
    assert world.member is not None
    payloads = [proposed(world.territory_id, world.member.id, str(uuid.uuid4())) for _ in range(n)]
    return [
        new_event(p, subject=p.match_id, territory=world.territory_id, source=SOURCE)
        for p in payloads
    ]


async def a_project(world: World) -> None:
    """A project carried by one association, as the projects API leaves it: the needs it opens
    are kept in the project."""
    world.project_id, world.carrier = str(uuid.uuid4()), str(uuid.uuid4())
    conn = await asyncpg.connect(world.database_url)
    try:
        now = datetime.now(UTC)
        await conn.execute(
            """INSERT INTO projects (id, territory_id, title, description, theme, stage,
                   created_by, created_at, updated_at)
               VALUES ($1, $2, 'Pisciculture', 'Un élevage de truites', 'agriculture_wood',
                   'idea', $3, $4, $4)""",
            uuid.UUID(world.project_id),
            uuid.UUID(world.territory_id),
            uuid.UUID(world.carrier),
            now,
        )
        await conn.execute(
            "INSERT INTO carriers (project_id, actor_id) VALUES ($1, $2)",
            uuid.UUID(world.project_id),
            uuid.UUID(world.carrier),
        )
    finally:
        await conn.close()


def _cents(events: list[CloudEvent[Any]]) -> int:
    return sum(e.data.value_created_cents for e in events)


CASES = (
    Case(
        "matching",
        needs,
        "SELECT count(*) FROM needs",
        (
            ("needs in the read model", "SELECT count(*) FROM needs", _count),
            # Each need forwarded once to its territory's owner, through the outbox.
            (
                "needs forwarded to the owners",
                "SELECT count(*) FROM outbox WHERE topic LIKE '%.territories'",
                _count,
            ),
        ),
        # Its read model applies up to 2,000 records at once, a fetch's partitions side by
        # side: 1,000 were at times all applied before the kill could land.
        count=10_000,
    ),
    Case(
        "agreements",
        evaluations,
        "SELECT count(DISTINCT project_id) FROM project_value",
        (
            (
                "projects in the impact ledger",
                "SELECT count(DISTINCT project_id) FROM project_value",
                _count,
            ),
            ("ledger rows", "SELECT count(*) FROM project_value", lambda e: 4 * len(e)),
            (
                "value created in the ledger (cents)",
                "SELECT sum(amount)::bigint FROM project_value WHERE kind = 'value_created'",
                _cents,
            ),
        ),
        urls={"matching": "http://127.0.0.1:9"},
    ),
    Case(
        "governance",
        actors(ActorAdmittedV1),
        "SELECT count(*) FROM members",
        (
            ("members", "SELECT count(*) FROM members", _count),
            ("members who vote", "SELECT count(*) FROM members WHERE status = 'active'", _count),
            ("actors allowed in", "SELECT count(*) FROM access_actors", _count),
        ),
    ),
    Case(
        "notifications",
        matches,
        "SELECT count(*) FROM notifications WHERE type = 'mcvt.match.proposed.v1'",
        (
            (
                "notifications logged",
                "SELECT count(*) FROM notifications WHERE type = 'mcvt.match.proposed.v1'",
                _count,
            ),
            ("deliveries queued", "SELECT count(*) FROM deliveries", _count),
            (
                "deliveries succeeded",
                "SELECT count(*) FROM deliveries WHERE status = 'succeeded'",
                _count,
            ),
        ),
        settings={
            "webhook_require_https": False,
            "webhook_allow_loopback": True,
            "delivery_timeout_s": 2,
            "delivery_lease_margin_s": 1,
            "delivery_poll_interval_s": 0.1,
            "delivery_retry_schedule_s": [0.3, 0.3, 0.3],
        },
        with_actors=True,
    ),
    Case(
        "offers",
        actors(ActorRegisteredV1),
        "SELECT count(*) FROM actors",
        (
            ("actors in the read model", "SELECT count(*) FROM actors", _count),
            ("actors allowed in", "SELECT count(*) FROM access_actors", _count),
        ),
    ),
    Case(
        "projects",
        needs,
        "SELECT count(*) FROM project_needs",
        (("needs of the project", "SELECT count(*) FROM project_needs", _count),),
        prepare=a_project,
    ),
)
