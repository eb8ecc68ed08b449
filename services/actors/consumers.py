"""Events the actors service acts on: governance decisions to admit an actor."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from contracts.envelope import CloudEvent
from contracts.governance import DecisionMadeV1, Outcome, ProposalKind
from contracts.topics import Topic
from services.actors import handlers
from services.runtime.consumer import EventConsumer
from services.runtime.db import Connection
from services.runtime.outbox import Context


async def on_decision(conn: Connection, event: CloudEvent[Any]) -> None:
    decision: DecisionMadeV1 = event.data
    if decision.kind != ProposalKind.ADMIT_ACTOR or decision.outcome != Outcome.ADOPTED:
        return
    if decision.subject_id is None:
        raise ValueError("an admission decision must name the actor (subject_id)")
    ctx = Context.caused_by(event)
    await handlers.admit_by_decision(conn, UUID(decision.subject_id), decision.decision_id, ctx)


governance_decisions = EventConsumer(
    group="actors.governance-decisions",
    topics=(Topic.GOVERNANCE,),
    handlers={DecisionMadeV1.event_type: on_decision},
    description="Admits actors when a governance decision says so.",
)
