"""Governance events, version 1 (topic `mcvt.governance`, key: proposal id).

Only the decision is defined so far: the services that act on decisions (actors for admissions,
matching for policy changes) consume it. Proposals and votes come with the governance service.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from contracts.envelope import EventPayload
from contracts.topics import Topic


class ProposalKind(StrEnum):
    ADMIT_ACTOR = "admit_actor"
    CHANGE_MATCHING_POLICY = "change_matching_policy"
    ALLOCATE_COMMON_ASSET = "allocate_common_asset"
    APPROVE_PUBLIC_ASSET_AGREEMENT = "approve_public_asset_agreement"
    FREE_MOTION = "free_motion"


class Outcome(StrEnum):
    ADOPTED = "adopted"
    REJECTED = "rejected"


class DecisionMadeV1(EventPayload):
    event_type = "mcvt.governance.decision_made.v1"
    topic = Topic.GOVERNANCE

    decision_id: str
    proposal_id: str
    territory_id: str
    kind: ProposalKind
    outcome: Outcome
    subject_id: str | None = Field(
        default=None, description="What the decision is about: the actor to admit, the asset, ..."
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Kind-specific content, e.g. the new matching policy."
    )
    decided_at: datetime
