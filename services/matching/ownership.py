"""Which territories this replica matches: those whose partitions of the internal topic the Kafka
group gives it.

Every record that asks a territory's owner to act (an offer or need changed, a party suspended,
a policy adopted, an agreement ended) is forwarded, keyed by the territory, to one internal
topic (`feed`); the partitions of that topic are shared out by the consumer group, so each
territory has one owner, decided by Kafka's group coordinator and by nothing of ours. The owner
holds the territory's indexes in memory; other replicas hold none of them.

- A territory's indexes are loaded from the database the first time its owner applies a record
  of it, inside that record's transaction and after the territory's lock (below), so they hold
  every change committed before; the changes committed after are forwarded behind that record
  on the same partition, and applying one already loaded changes nothing.
- On a rebalance the replica drops every territory it holds. aiokafka rebalances eagerly: every
  member gives back all its partitions, and may get some of them back after other replicas
  held them (when its session ran out), so a kept index could miss their changes; those it
  owns again are loaded before their next record.
- Every transaction that proposes for a territory first takes the territory's transaction-level
  advisory lock. The owner's consumer takes it for each record (its batch's transaction holds
  the territories of all its records until it commits); a command served by another
  replica (accept, decline, cancel, expiry, a facilitator's re-match) takes it too and works on
  indexes loaded for that transaction only. So a replica that lost a territory while one of its
  transactions was still running (a pause longer than the session timeout) cannot propose beside
  the new owner: the new owner loads the territory only once that transaction has ended.
- Each replica journals the spans during which it applied a territory's records
  (`territory_tenures`), by replica and by assignment: the test of "one replica at a time".
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from aiokafka import ConsumerRebalanceListener, TopicPartition

from services.matching import projection, store
from services.matching.model import NeedView, OfferView
from services.matching.readmodel import ReadModel
from services.runtime import clock
from services.runtime.db import Connection

log = logging.getLogger(__name__)


def topic_of(consumer_group: str) -> str:
    """The internal topic of a read model's consumer group, named after it (as Kafka Streams
    names its repartition topics after the application): a rebuild under a new group gets a
    topic and an owners' group of its own."""
    return f"mcvt.{consumer_group}.territories"


def owners_group(consumer_group: str) -> str:
    return f"{consumer_group}.territories"


async def lock(conn: Connection, territory_id: str) -> None:
    """Hold the territory until the transaction ends (see the module docstring)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('matching.territory:' || $1, 0))",
        territory_id,
    )


async def load_territory(conn: Connection, territory_id: str, *, proposing: bool) -> ReadModel:
    """The territory's indexes and policy, from its live offers and open needs as stored."""
    model = ReadModel(proposing=proposing)
    model.set_policy(await store.current_policy(conn, territory_id))
    offers = (
        projection.matchable_offer(projection.offer_state(row.state))
        for row in await store.published_offers(conn, territory_id)
    )
    rows = await store.open_needs(conn, territory_id)
    needs = projection.need_views((row.state for row in rows), model.policy)
    model.load((o for o in offers if o is not None), needs, ())
    return model


class Territories:
    """The territories this replica owns and has loaded, with their indexes."""

    def __init__(self, *, replica: str, proposing: bool = True) -> None:
        self.replica = replica
        self.proposing = proposing
        self.assignments = 0
        """How many times the group gave this replica partitions: one tenure each."""
        self.partitions: frozenset[int] = frozenset()
        self._held: dict[str, ReadModel] = {}

    def __len__(self) -> int:
        return len(self._held)

    def __contains__(self, territory_id: object) -> bool:
        return territory_id in self._held

    def held(self, territory_id: str) -> ReadModel | None:
        """The territory's indexes if this replica holds them (for reads and tests)."""
        return self._held.get(territory_id)

    @property
    def offers(self) -> Iterator[OfferView]:
        for model in self._held.values():
            yield from model.offers

    @property
    def needs(self) -> Iterator[NeedView]:
        for model in self._held.values():
            yield from model.needs

    async def own(self, conn: Connection, territory_id: str) -> ReadModel:
        """The indexes of a territory whose record the owner applies: locked, loaded if need
        be, and the tenure journalled, all in the record's transaction."""
        tenure = self.assignments
        await lock(conn, territory_id)
        # After the lock: a tenure starts once the previous owner's last transaction ended.
        await store.record_tenure(conn, territory_id, self.replica, tenure, clock.now())
        model = self._held.get(territory_id)
        if model is None:
            model = await load_territory(conn, territory_id, proposing=self.proposing)
            if tenure != self.assignments or not self.partitions:
                return model  # the partition went meanwhile: not held past this record
            self._held[territory_id] = model
            log.info("territory %s loaded: %d offers, %d needs", territory_id,
                     len(model.offers), len(model.needs))  # fmt: skip
        return model

    async def borrow(self, conn: Connection, territory_id: str, *, locked: bool) -> ReadModel:
        """The territory's indexes for a command or a read on any replica: those held here,
        else loaded for this transaction only. `locked` first takes the territory's lock, as
        every transaction that proposes must."""
        if locked:
            await lock(conn, territory_id)
        held = self._held.get(territory_id)
        if held is not None:
            return held
        return await load_territory(conn, territory_id, proposing=self.proposing)

    def drop_all(self) -> int:
        dropped = len(self._held)
        self._held.clear()
        return dropped


class Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Drops the territories when the group takes the partitions back; counts assignments."""

    def __init__(self, territories: Territories) -> None:
        self.territories = territories

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        dropped = self.territories.drop_all()
        self.territories.partitions = frozenset()
        log.info("partitions revoked: %d territories dropped", dropped)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.territories.assignments += 1
        self.territories.partitions = frozenset(tp.partition for tp in assigned)
        log.info(
            "partitions assigned (tenure %d): %s",
            self.territories.assignments,
            sorted(self.territories.partitions),
        )
