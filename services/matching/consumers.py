"""Matching's two consumer groups: the read model of the public topics, and the territories'
owners on the internal topic (see `ownership`).

1. `<group>` (`matching.read-model`) reads offers, needs, actors, governance decisions and the
   agreements' ends and amendments, keyed by aggregate as their services publish them, on as
   many replicas as there are. It stores each offer's, need's and actor's newest version and
   each adopted policy, and forwards to the internal topic, keyed by territory and in the same
   transaction (the outbox), what a territory's owner must act on. Asset events ride on
   mcvt.offers too; offers carry their asset, so asset events are not handled.
2. `<group>.territories` reads the internal topic: each record is applied by the replica that
   owns its partition, under the territory's lock, with the territory's indexes.

A shadow instance (proposing nothing) runs the first group only and keeps no index: it applies
what matches need itself (allocations, agreements' ends), proposing nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from contracts import actors, needs
from contracts.actors import ActorState, ActorStatus
from contracts.agreements import AgreementAmendedV1, AgreementState
from contracts.envelope import CloudEvent, EventPayload
from contracts.governance import DecisionMadeV1, Outcome, ProposalKind
from contracts.needs import NeedState
from contracts.offers import OFFER_EVENTS, OfferState
from services.matching import handlers, ownership, store
from services.matching.agreements import ENDINGS, apply_agreement
from services.matching.ownership import Rebalance, Territories
from services.matching.readmodel import ReadModel
from services.runtime.consumer import EventConsumer
from services.runtime.context import Context
from services.runtime.db import Connection
from services.runtime.outbox import emit, enqueue, envelope
from services.runtime.rows import newest

# The decisions a territory's owner acts on.
_OWNED_DECISIONS = frozenset(
    {ProposalKind.CHANGE_MATCHING_POLICY, ProposalKind.ALLOCATE_COMMON_ASSET}
)


def read_model_consumer(group: str, territories: Territories) -> EventConsumer:
    """The group that keeps the read model and hands each territory's work to its owner."""
    consumer = EventConsumer(
        group,
        batch=EventConsumer.READ_MODEL_BATCH,
        # Its rows are its events' aggregates, each in one partition; the owners' state in
        # memory is not touched here.
        partitions_at_once=True,
        description="Keeps the read model of offers, needs and actors and the territories' "
        "matching policies; forwards what each territory's owner acts on to "
        f"{ownership.topic_of(group)}.",
    )
    topic = ownership.topic_of(group)

    async def forward(
        conn: Connection, payload: EventPayload, territory_id: str, ctx: Context
    ) -> None:
        await emit(
            conn, payload, subject=territory_id, territory=territory_id, ctx=ctx, topic=topic
        )

    async def forward_stored(
        conn: Connection, events: Sequence[CloudEvent[Any]], ctx: Context
    ) -> None:
        """The stored versions to their territories' owners, in the events' order: what a
        version superseded in the same batch would have told its owner, the owner, reading the
        newest version stored, would have skipped."""
        forwarded = [
            envelope(
                event.data,
                subject=event.data.territory_id,
                territory=event.data.territory_id,
                ctx=ctx.caused_by(event),
            )
            for event in events
        ]
        await enqueue(conn, *forwarded, topic=topic)

    # Offers and needs are written in sets: of each aggregate's events in the run, the newest
    # version is stored (`rows.newest`), older and repeated ones change nothing, as one record
    # at a time.
    @consumer.on_batch(*OFFER_EVENTS)
    async def on_offers(
        conn: Connection, events: Sequence[CloudEvent[OfferState]], ctx: Context
    ) -> None:
        kept = newest(events, lambda e: e.data.offer_id, lambda e: e.data.version)
        stored = await store.save_offers(conn, [event.data for event in kept])
        if territories.proposing:
            await forward_stored(conn, [e for e in kept if e.data.offer_id in stored], ctx)

    @consumer.on_batch(*needs.EVENTS)
    async def on_needs(
        conn: Connection, events: Sequence[CloudEvent[NeedState]], ctx: Context
    ) -> None:
        kept = newest(events, lambda e: e.data.need_id, lambda e: e.data.version)
        stored = await store.save_needs(conn, [event.data for event in kept])
        if territories.proposing:
            await forward_stored(conn, [e for e in kept if e.data.need_id in stored], ctx)

    @consumer.on(*actors.EVENTS)
    async def on_actor(conn: Connection, event: CloudEvent[ActorState], ctx: Context) -> None:
        state = event.data
        if not await store.save_actor(conn, state) or not territories.proposing:
            return
        if state.status == ActorStatus.SUSPENDED:
            for territory_id in sorted(await store.party_territories(conn, state.actor_id)):
                await forward(conn, state, territory_id, ctx)

    @consumer.on(DecisionMadeV1)
    async def on_decision(
        conn: Connection, event: CloudEvent[DecisionMadeV1], ctx: Context
    ) -> None:
        decision = event.data
        adopted = await handlers.adopt_policy(conn, decision)
        if decision.outcome != Outcome.ADOPTED or decision.kind not in _OWNED_DECISIONS:
            return
        if territories.proposing:
            if adopted or decision.kind == ProposalKind.ALLOCATE_COMMON_ASSET:
                await forward(conn, decision, decision.territory_id, ctx)
        elif decision.kind == ProposalKind.ALLOCATE_COMMON_ASSET:
            await handlers.allocate_by_decision(conn, ReadModel(proposing=False), decision, ctx)

    @consumer.on(*ENDINGS, AgreementAmendedV1)
    async def on_agreement(
        conn: Connection, event: CloudEvent[AgreementState], ctx: Context
    ) -> None:
        if territories.proposing:
            await forward(conn, event.data, event.territory, ctx)
        else:
            await apply_agreement(conn, ReadModel(proposing=False), event.data, ctx)

    return consumer


def owners_consumer(group: str, territories: Territories) -> EventConsumer:
    """The group whose partitions decide which replica owns which territory, and applies
    their records there."""
    consumer = EventConsumer(
        ownership.owners_group(group),
        batch=EventConsumer.WORK_BATCH,
        description="Applies each territory's changes on the replica that owns its partition: "
        "indexes, cancellations, proposals, allocations.",
        topics=(ownership.topic_of(group),),
        listener=Rebalance(territories),
    )

    def forwarded(ctx: Context, event: CloudEvent[Any]) -> Context:
        # What the owner does is caused by the public event the record forwards.
        return replace(ctx, causation_id=event.causationid)

    async def owned(conn: Connection, event: CloudEvent[Any]) -> ReadModel:
        return await territories.own(conn, event.territory)

    @consumer.on(*OFFER_EVENTS)
    async def on_offer(conn: Connection, event: CloudEvent[OfferState], ctx: Context) -> None:
        model = await owned(conn, event)
        await handlers.apply_offer(conn, model, event.data, forwarded(ctx, event))

    @consumer.on(*needs.EVENTS)
    async def on_need(conn: Connection, event: CloudEvent[NeedState], ctx: Context) -> None:
        model = await owned(conn, event)
        await handlers.apply_need(conn, model, event.data, forwarded(ctx, event))

    @consumer.on(*actors.EVENTS)
    async def on_actor(conn: Connection, event: CloudEvent[ActorState], ctx: Context) -> None:
        model = await owned(conn, event)
        await handlers.apply_actor(conn, model, event.data, event.territory, forwarded(ctx, event))

    @consumer.on(DecisionMadeV1)
    async def on_decision(
        conn: Connection, event: CloudEvent[DecisionMadeV1], ctx: Context
    ) -> None:
        model = await owned(conn, event)
        await handlers.apply_decision(conn, model, event.data, forwarded(ctx, event))

    @consumer.on(*ENDINGS, AgreementAmendedV1)
    async def on_agreement(
        conn: Connection, event: CloudEvent[AgreementState], ctx: Context
    ) -> None:
        model = await owned(conn, event)
        await apply_agreement(conn, model, event.data, forwarded(ctx, event))

    return consumer
