"""Events the actors service acts on: governance decisions to admit an actor."""

from __future__ import annotations

from uuid import UUID

from contracts.envelope import CloudEvent
from contracts.governance import DecisionMadeV1, Outcome, ProposalKind
from services.actors import handlers
from services.runtime.consumer import EventConsumer
from services.runtime.context import Context
from services.runtime.db import Connection
from services.runtime.errors import InvalidInput

governance_decisions = EventConsumer(
    "actors.governance-decisions",
    description="Admits actors when a governance decision says so.",
)


@governance_decisions.on(DecisionMadeV1)
async def on_decision(conn: Connection, event: CloudEvent[DecisionMadeV1], ctx: Context) -> None:
    decision = event.data
    if decision.kind != ProposalKind.ADMIT_ACTOR or decision.outcome != Outcome.ADOPTED:
        return
    try:
        actor_id = UUID(decision.subject_id or "")
    except ValueError:
        raise InvalidInput(
            "an admission decision must name the actor", field="subject_id"
        ) from None
    await handlers.admit_by_decision(conn, actor_id, decision.decision_id, ctx)
