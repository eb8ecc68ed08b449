"""The events agreements acts on.

- `<prefix>.views`: offers, needs and actors, kept as versioned views (the terms of an agreement
  are taken from the offer and need versions that were matched, never by calling back);
- `<prefix>.matches`: a confirmed match becomes a draft agreement (the inbox and the unique
  match id make a redelivered confirmation create nothing);
- `<prefix>.decisions`: governance's approval of agreements on public assets and the
  territories' rules (whether that approval is needed, the time credit floor);
- `<prefix>.projects`: a territorial project's evaluation, booked in the impact ledger.
A confirmed match may arrive before the offer or need version it names (other topics): the
consumer answers NotYet and the runtime tries again.
"""

from __future__ import annotations

from uuid import UUID

from contracts import actors, needs
from contracts.actors import ActorState
from contracts.envelope import CloudEvent
from contracts.governance import DecisionMadeV1, TerritoryRulesChangedV1
from contracts.matches import MatchConfirmedV1
from contracts.needs import NeedState
from contracts.offers import OFFER_EVENTS, OfferState
from contracts.projects import ProjectEvaluatedV1
from services.agreements import handlers, projects
from services.agreements.settings import AgreementsSettings
from services.runtime.consumer import EventConsumer
from services.runtime.context import Context
from services.runtime.db import Connection


def event_consumers(settings: AgreementsSettings) -> tuple[EventConsumer, ...]:
    prefix = settings.consumer_group_prefix
    views = EventConsumer(
        f"{prefix}.views",
        batch=EventConsumer.READ_MODEL_BATCH,
        description="Keeps every version of offers and needs, and actors' kinds, that "
        "agreements are made from.",
    )

    @views.on(*OFFER_EVENTS)
    async def on_offer(conn: Connection, event: CloudEvent[OfferState], ctx: Context) -> None:
        await handlers.apply_offer(conn, event.data)

    @views.on(*needs.EVENTS)
    async def on_need(conn: Connection, event: CloudEvent[NeedState], ctx: Context) -> None:
        await handlers.apply_need(conn, event.data)

    @views.on(*actors.EVENTS)
    async def on_actor(conn: Connection, event: CloudEvent[ActorState], ctx: Context) -> None:
        await handlers.apply_actor(conn, event.data)

    matches = EventConsumer(
        f"{prefix}.matches",
        batch=EventConsumer.WORK_BATCH,
        description="A confirmed match becomes a draft agreement.",
    )

    @matches.on(MatchConfirmedV1)
    async def on_confirmed(
        conn: Connection, event: CloudEvent[MatchConfirmedV1], ctx: Context
    ) -> None:
        await handlers.create_from_match(conn, event.data, ctx, settings)
        await projects.tag(conn, UUID(event.data.match_id), event.data.project_id)

    decisions = EventConsumer(
        f"{prefix}.decisions",
        description="Governance's approval or rejection of agreements on public assets, and "
        "the territories' rules (approval of public assets' agreements, time credit floor).",
    )

    @decisions.on(DecisionMadeV1)
    async def on_decision(
        conn: Connection, event: CloudEvent[DecisionMadeV1], ctx: Context
    ) -> None:
        await handlers.apply_decision(conn, event.data, ctx, settings)

    @decisions.on(TerritoryRulesChangedV1)
    async def on_rules(
        conn: Connection, event: CloudEvent[TerritoryRulesChangedV1], ctx: Context
    ) -> None:
        await handlers.apply_rules(conn, event.data)

    evaluations = EventConsumer(
        f"{prefix}.projects",
        description="Books a territorial project's evaluation in the impact ledger, tagged "
        "with the project; the jobs of its agreements become the project's.",
    )

    @evaluations.on(ProjectEvaluatedV1)
    async def on_evaluated(
        conn: Connection, event: CloudEvent[ProjectEvaluatedV1], ctx: Context
    ) -> None:
        await projects.book_evaluation(conn, event.data)

    return views, matches, decisions, evaluations
