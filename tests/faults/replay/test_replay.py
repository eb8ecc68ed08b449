"""Every topic replayed from offset 0 into fresh read models gives the state the live services
hold: matching's offers, needs and actors, agreements' view of the confirmed matches, governance's
electorate (its members and colleges), notifications' log and visibility filters.

A small territory is built live through the public APIs (members, an offer and a need matched
and confirmed into an agreement, a proposal opened), then a fresh instance of each of these
services starts on a new database with consumer groups of its own, reads every topic from the
beginning, and its tables are compared with the live ones, row set for row set."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.faults.replay.readmodels import READ_MODELS, difference, replayed
from tests.flow.matching.steps import Flow, accept, proposals_for, status_of
from tests.governance_steps import members_known, propose
from tests.harness import Databases, Stack, groups_of_its_own, start_stack
from tests.scenario import declare, need, new_member, new_territory, offer
from tests.service.agreements.steps import agreement_of
from tests.support import eventually

# A table of each read model, and the least it holds after the scenario.
KEY = {
    "matching": ("needs", 1),
    "agreements": ("agreements", 1),
    "governance": ("members", 4),
    "notifications": ("notifications", 3),
}
SERVICES = ["actors", "offers", "matching", "agreements", "governance", "notifications"]


@pytest.fixture
async def live(databases: Databases, kafka: str) -> AsyncIterator[Stack]:
    settings: dict[str, Any] = dict(groups_of_its_own(uuid.uuid4().hex[:8]))
    async with start_stack(databases, kafka, SERVICES, settings, on_socket=["matching"]) as stack:
        yield stack


async def territory_at_work(stack: Stack) -> None:
    """Members of four kinds, a van offered and a need for it matched, accepted by both and
    made an agreement, and a proposal opened to the territory's members."""
    flow = Flow(stack)
    territory = await new_territory(stack)
    business = await new_member(stack, territory, name="Frigo Diois")
    association = await new_member(stack, territory, kind="association", name="Paniers")
    citizen = await new_member(stack, territory, kind="citizen", name="Jeanne Martin")
    asset = await declare(stack, business)
    await offer(stack, business, asset["id"])
    wanted = await need(stack, association)
    [proposal] = await proposals_for(flow, wanted["id"])
    match_id = proposal["data"]["match_id"]
    for member in (business, association):
        assert (await accept(flow, member, match_id)).status_code == 200
    await status_of(flow, business, match_id, "confirmed")
    await agreement_of(stack, business, match_id)
    await members_known(stack, territory.facilitator, business, association, citizen)
    await propose(stack, territory.facilitator)


@pytest.mark.long
async def test_a_replay_from_offset_zero_rebuilds_the_live_read_models(
    live: Stack, databases: Databases
) -> None:
    await territory_at_work(live)
    for service in READ_MODELS:
        async with replayed(databases, live, service) as pool:

            async def same() -> bool:
                return not await difference(live.pool(service), pool, service)  # noqa: B023

            try:
                await eventually(same, timeout=90, interval=1.0)
            except Exception:
                found = await difference(live.pool(service), pool, service)
                raise AssertionError(f"{service}: the replay differs: {found}") from None
            # Something was compared: the scenario's rows are there.
            table, count = KEY[service]
            assert await pool.fetchval(f"SELECT count(*) FROM {table}") >= count, service
