"""Matching on several replicas: each territory is matched by the replica that owns its
partition of the internal topic, one at a time, and none is missed when replicas come and go.

Every replica is a real `python -m services.matching` process on the real broker, sharing one
database and one consumer group; a replica's name is its REPLICA_ID, which the journal of
territory tenures records.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.flow.matching_replicas.replicas import (
    OFFERS_PER_TERRITORY,
    SESSION_TIMEOUT_MS,
    Market,
    all_proposed,
    overlapping_tenures,
    owners,
    proposals,
    replicas,
    taken_over,
    territories,
    until,
)
from tests.harness import Databases

pytestmark = pytest.mark.long

TERRITORIES = 8
ALLOWANCE = timedelta(seconds=15)


async def test_two_replicas_share_the_territories_each_proposing_for_its_own(
    databases: Databases, kafka: str, tmp_path: Path
) -> None:
    market = Market(kafka, territories(TERRITORIES))
    async with replicas(databases, kafka, tmp_path) as group:
        await group.start("a", "b")
        await market.publish_offers()
        needs = await market.publish_needs()
        await all_proposed(group, needs)

        owned = await owners(group, market.territories)
        assert set(owned) == set(market.territories)
        assert all(len(names) == 1 for names in owned.values()), owned
        by_replica = {name: [t for t, n in owned.items() if name in n] for name in ("a", "b")}
        assert all(by_replica.values()), f"one replica did all the work: {by_replica}"
        found = await proposals(group, needs)
        assert all(len(set(offers)) == OFFERS_PER_TERRITORY for offers in found.values())
        assert await overlapping_tenures(group) == []


async def test_a_killed_replicas_territories_move_to_the_other_and_their_needs_are_matched(
    databases: Databases, kafka: str, tmp_path: Path
) -> None:
    market = Market(kafka, territories(TERRITORIES))
    async with replicas(databases, kafka, tmp_path) as group:
        await group.start("a", "b")
        await market.publish_offers()
        await all_proposed(group, await market.publish_needs())
        owned = await owners(group, market.territories)
        lost = sorted(t for t, names in owned.items() if names == {"a"})
        assert lost

        group.kill("a")
        killed_at = datetime.now(UTC)
        needs = await market.publish_needs()  # published while a's session runs out
        await all_proposed(group, needs)

        async def all_taken() -> dict[str, set[str]] | None:
            owned = await owners(group, market.territories)
            return owned if all("b" in owned.get(t, set()) for t in lost) else None

        await until(all_taken)
        # b took them once a's session ran out, plus the rebalance on a shared machine.
        moved = await taken_over(group, "b", lost)
        assert moved - killed_at < timedelta(milliseconds=SESSION_TIMEOUT_MS) + ALLOWANCE
        found = await proposals(group, needs)
        assert all(sorted(set(o)) == sorted(o) for o in found.values()), "a pair proposed twice"
        assert await overlapping_tenures(group) == []


async def test_a_third_replica_joining_takes_some_territories(
    databases: Databases, kafka: str, tmp_path: Path
) -> None:
    market = Market(kafka, territories(TERRITORIES))
    async with replicas(databases, kafka, tmp_path) as group:
        await group.start("a", "b")
        await market.publish_offers()
        await all_proposed(group, await market.publish_needs())

        await group.start("c")

        async def c_took_some() -> bool:
            await all_proposed(group, await market.publish_needs())
            return any("c" in names for names in (await owners(group, market.territories)).values())

        await until(c_took_some, timeout=90)
        assert await overlapping_tenures(group) == []


async def test_a_need_published_during_a_rebalance_gets_exactly_one_set_of_proposals(
    databases: Databases, kafka: str, tmp_path: Path
) -> None:
    market = Market(kafka, territories(TERRITORIES))
    async with replicas(databases, kafka, tmp_path) as group:
        await group.start("a", "b")
        await market.publish_offers()
        await all_proposed(group, await market.publish_needs())

        # A third replica joins and the first dies while the needs arrive: two rebalances.
        joining = asyncio.create_task(group.start("c"))
        needs = await market.publish_needs()
        await asyncio.sleep(0.5)
        group.kill("a")
        needs += await market.publish_needs()
        await joining
        await all_proposed(group, needs, timeout=90)
        await asyncio.sleep(2)  # time for a second set, were one on its way

        found = await proposals(group, needs)
        assert all(len(offers) == OFFERS_PER_TERRITORY for offers in found.values()), found
        assert all(len(set(offers)) == OFFERS_PER_TERRITORY for offers in found.values())
        assert await overlapping_tenures(group) == []
