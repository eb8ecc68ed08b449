"""The events the projects service acts on: governance's decisions (the vision adopted, the
projects selected for a trial), the needs opened for a project, the agreements that activate."""

from __future__ import annotations

from contracts import needs
from contracts.agreements import AgreementActivatedV1
from contracts.envelope import CloudEvent
from contracts.governance import DecisionMadeV1, Outcome, ProposalKind
from contracts.needs import NeedState
from services.projects import handlers
from services.runtime.consumer import EventConsumer
from services.runtime.context import Context
from services.runtime.db import Connection


def decision_events(group: str) -> EventConsumer:
    consumer = EventConsumer(
        group,
        description="Adopts the vision a free_motion names; moves the projects a "
        "select_for_trial decision selects to trial.",
    )

    @consumer.on(DecisionMadeV1)
    async def on_decision(
        conn: Connection, event: CloudEvent[DecisionMadeV1], ctx: Context
    ) -> None:
        decision = event.data
        if decision.outcome is not Outcome.ADOPTED:
            return
        if decision.kind is ProposalKind.SELECT_FOR_TRIAL:
            await handlers.select_for_trial(conn, decision, ctx)
        elif decision.kind is ProposalKind.FREE_MOTION:
            await handlers.adopt_vision(conn, decision, ctx)

    return consumer


def need_events(group: str) -> EventConsumer:
    consumer = EventConsumer(
        group,
        batch=EventConsumer.READ_MODEL_BATCH,
        description="Keeps the needs opened for a project.",
    )

    @consumer.on(*needs.EVENTS)
    async def on_need(conn: Connection, event: CloudEvent[NeedState], ctx: Context) -> None:
        await handlers.apply_need(conn, event.data)

    return consumer


def agreement_events(group: str) -> EventConsumer:
    consumer = EventConsumer(
        group, description="Fulfils the pledges on a project's need when its agreement activates."
    )

    @consumer.on(AgreementActivatedV1)
    async def on_activated(
        conn: Connection, event: CloudEvent[AgreementActivatedV1], ctx: Context
    ) -> None:
        await handlers.agreement_activated(conn, event.data, ctx)

    return consumer
