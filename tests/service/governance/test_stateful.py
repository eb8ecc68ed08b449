"""Any sequence of votes, changed votes, membership changes, openings and closings leaves one
current vote per member and a tally equal to a replay of the audit chain (Hypothesis stateful
test on the real database, through the service's use cases)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import asyncpg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from contracts.actors import ActorKind, ActorRegisteredV1
from contracts.governance import Choice, Method, ProposalKind
from services.governance import handlers, store
from services.governance.chain import verify_territory
from services.governance.domain.audit import Entry
from services.governance.domain.ballots import ALLOWED, Draft
from services.governance.domain.replay import replay
from services.runtime import clock
from services.runtime.context import Context
from services.runtime.db import create_pool, in_transaction
from services.runtime.errors import DomainError
from services.runtime.principal import FACILITATOR, Principal
from tests.harness import Databases

T = TypeVar("T")
CTX = Context("/mcvt/governance")


@pytest.fixture
def loop_and_pool(databases: Databases) -> Iterator[tuple[asyncio.AbstractEventLoop, Any]]:
    """A loop of the test's own (Hypothesis drives the machine synchronously) and a pool on a
    fresh governance database."""
    loop = asyncio.new_event_loop()
    url = loop.run_until_complete(databases.for_service("governance"))
    pool = loop.run_until_complete(create_pool(url))
    try:
        yield loop, pool
    finally:
        loop.run_until_complete(pool.close())
        loop.close()


def test_votes_and_membership_changes_replay_from_the_audit_chain(
    loop_and_pool: tuple[asyncio.AbstractEventLoop, asyncpg.Pool],
) -> None:
    loop, pool = loop_and_pool

    class Assembly(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.territory = uuid.uuid4()
            # Ids that sort in the order they were made (the database outlives each example,
            # and Hypothesis replays an example only if it draws from the same lists).
            self.base = uuid.uuid4().int >> 64 << 64
            self.versions: dict[str, int] = {}
            self.status: dict[str, str] = {}
            self.kinds: dict[str, ActorKind] = {}
            self.open: list[uuid.UUID] = []
            self.proposals: list[uuid.UUID] = []

        def run(self, work: Awaitable[T]) -> T:
            return loop.run_until_complete(work)

        def actor(self, actor_id: str, status: str) -> None:
            self.versions[actor_id] = self.versions.get(actor_id, 0) + 1
            self.status[actor_id] = status
            state = ActorRegisteredV1(
                actor_id=actor_id,
                territory_id=str(self.territory),
                kind=self.kinds[actor_id],
                name="",
                status=status,
                version=self.versions[actor_id],
            )
            self.run(in_transaction(pool, lambda conn: handlers.apply_actor(conn, state)))

        def principal(self, actor_id: str, roles: frozenset[str] = frozenset()) -> Principal:
            return Principal(
                actor_id=actor_id,
                territory_id=str(self.territory),
                kind=str(self.kinds[actor_id]),
                roles=roles,
                token_id="t",
                status=self.status[actor_id],
            )

        @initialize(kinds=st.lists(st.sampled_from(list(ActorKind)), min_size=3, max_size=8))
        def members(self, kinds: list[ActorKind]) -> None:
            for kind in kinds:
                self.join(kind)

        @rule(kind=st.sampled_from(list(ActorKind)))
        def join(self, kind: ActorKind) -> None:
            actor_id = str(uuid.UUID(int=self.base + len(self.kinds) + 1))
            self.kinds[actor_id] = kind
            self.actor(actor_id, "active")

        @rule(data=st.data())
        def suspend_or_reinstate(self, data: st.DataObject) -> None:
            actor_id = data.draw(st.sampled_from(sorted(self.status)))
            self.actor(actor_id, "suspended" if self.status[actor_id] == "active" else "active")

        @rule(method=st.sampled_from(list(Method)), secret=st.booleans())
        def open_proposal(self, method: Method, secret: bool) -> None:
            facilitator = next(iter(self.kinds))
            draft = Draft(
                kind=ProposalKind.FREE_MOTION,
                title="Motion",
                description="",
                method=method,
                secret=secret,
                parameters={"text": "x"},
                opens_at=None,
                closes_at=clock.now() + timedelta(hours=1),
            )
            opener = self.principal(facilitator, frozenset({FACILITATOR}))
            proposal_id = self.run(
                in_transaction(
                    pool,
                    lambda conn: handlers.open_proposal(conn, self.territory, draft, opener, CTX),
                )
            )
            assert proposal_id is not None
            self.open.append(proposal_id)
            self.proposals.append(proposal_id)

        @precondition(lambda self: bool(self.proposals))
        @rule(data=st.data(), choice=st.sampled_from(list(Choice)))
        def vote(self, data: st.DataObject, choice: Choice) -> None:
            proposal_id = data.draw(st.sampled_from(self.proposals))
            voter = data.draw(st.sampled_from(sorted(self.status)))
            before = self.run(self.rows(proposal_id))
            try:
                self.run(
                    in_transaction(
                        pool,
                        lambda conn: handlers.cast_vote(
                            conn, proposal_id, self.principal(voter), choice, CTX
                        ),
                    )
                )
            except DomainError:
                assert self.run(self.rows(proposal_id)) == before  # a refusal changes nothing

        @precondition(lambda self: bool(self.open))
        @rule(data=st.data())
        def change_a_vote(self, data: st.DataObject) -> None:
            """A member of an open proposal's electorate votes (again) with a choice its
            method takes: it must count."""
            proposal_id = data.draw(st.sampled_from(self.open))
            electorate = self.run(
                pool.fetch(
                    "SELECT actor_id FROM electorate WHERE proposal_id = $1 ORDER BY actor_id",
                    proposal_id,
                )
            )
            voters = [str(row["actor_id"]) for row in electorate]
            voters = [v for v in voters if self.status[v] == "active"]
            if not voters:
                return
            voter = data.draw(st.sampled_from(voters))
            method = Method(
                self.run(pool.fetchval("SELECT method FROM proposals WHERE id = $1", proposal_id))
            )
            choice = data.draw(st.sampled_from(sorted(ALLOWED[method])))
            self.run(
                in_transaction(
                    pool,
                    lambda conn: handlers.cast_vote(
                        conn, proposal_id, self.principal(voter), choice, CTX
                    ),
                )
            )

        @precondition(lambda self: bool(self.open))
        @rule(data=st.data())
        def close(self, data: st.DataObject) -> None:
            proposal_id = data.draw(st.sampled_from(self.open))
            self.open.remove(proposal_id)

            async def due_and_closed(conn: Any) -> bool:
                await conn.execute(
                    "UPDATE proposals SET closes_at = now() - interval '1 second' WHERE id = $1",
                    proposal_id,
                )
                return await handlers.close_proposal(conn, proposal_id, CTX)

            assert self.run(in_transaction(pool, due_and_closed))

        async def rows(self, proposal_id: uuid.UUID) -> list[tuple[Any, ...]]:
            rows = await pool.fetch(
                "SELECT voter_id, choice, current FROM votes WHERE proposal_id = $1 ORDER BY id",
                proposal_id,
            )
            return [tuple(row) for row in rows]

        @invariant()
        def one_current_vote_per_member(self) -> None:
            row = self.run(
                pool.fetchrow(
                    """SELECT count(DISTINCT (proposal_id, voter_id)) AS voters,
                              count(*) FILTER (WHERE current) AS current
                       FROM votes WHERE proposal_id = ANY($1::uuid[])""",
                    self.proposals,
                )
            )
            assert row is not None and row["voters"] == row["current"]

        @invariant()
        def the_tally_replays_from_the_chain(self) -> None:
            async def compare() -> None:
                async with pool.acquire() as conn:
                    entries = store.stored(
                        await store.audit_page(conn, self.territory, 0, 1_000_000)
                    )
                    replayed = replay(Entry.content(e) for e in entries)
                    for proposal_id in self.proposals:
                        proposal = await store.get_proposal(conn, proposal_id)
                        assert proposal is not None
                        stored = await handlers.tally_of(conn, proposal)
                        if not proposal["secret"]:
                            assert replayed[str(proposal_id)] == stored
                        if proposal["status"] == "closed":
                            assert proposal["tally"] == handlers.tally_json(stored)
                    verified = await verify_territory(conn, self.territory)
                    assert verified.valid, verified

            self.run(compare())

    run_state_machine_as_test(
        Assembly,
        settings=settings(
            max_examples=30,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
