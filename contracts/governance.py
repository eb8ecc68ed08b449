"""Governance events, version 1 (topic `mcvt.governance`; key: proposal id, or territory id for
the colleges and rules of a territory).

The governance service publishes proposals opened and closed, votes, decisions, and the
territory's colleges and rules as they change. The services that act on decisions (actors for
admissions, matching for policy changes and contested assets, agreements for approvals) consume
`decision_made`; every consumer ignores the kinds it does not handle, so a new kind never breaks
one. Each kind's `parameters` are validated by its model in `PAYLOADS`.

Privacy: a secret ballot's vote events carry neither the voter nor the choice; no event carries
a name or a contact, only ids.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.actors import ActorKind
from contracts.envelope import EventPayload
from contracts.fields import Code, Description
from contracts.topics import Topic


class ProposalKind(StrEnum):
    ADMIT_ACTOR = "admit_actor"
    CHANGE_MATCHING_POLICY = "change_matching_policy"
    ALLOCATE_COMMON_ASSET = "allocate_common_asset"
    APPROVE_PUBLIC_ASSET_AGREEMENT = "approve_public_asset_agreement"
    FREE_MOTION = "free_motion"
    CHANGE_COLLEGES = "change_colleges"
    CHANGE_TERRITORY_RULES = "change_territory_rules"
    SELECT_FOR_TRIAL = "select_for_trial"


class Outcome(StrEnum):
    ADOPTED = "adopted"
    REJECTED = "rejected"


class Method(StrEnum):
    """How a proposal is decided: more yes than no, at least two thirds yes, or no objection."""

    MAJORITY = "majority"
    TWO_THIRDS = "two_thirds"
    CONSENT = "consent"


class Choice(StrEnum):
    YES = "yes"
    NO = "no"
    ABSTAIN = "abstain"
    OBJECTION = "objection"  # under consent only


# A college is named by the actor kind whose members it gathers by default.
College = ActorKind


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the payload of each kind ---------------------------------------------------------------------


class AdmitActor(_Payload):
    actor_id: str = Field(min_length=1, max_length=100, description="The pending actor to admit.")


class MatchingPolicyChange(_Payload):
    """The policy schema matching applies: what is left out stays, except the weights (given,
    they replace every weight; a part left out then weighs 0)."""

    weights: dict[Code, Annotated[float, Field(ge=0, le=1000)]] | None = Field(
        default=None, description="Every part's weight; a part left out weighs 0."
    )
    threshold: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=1, le=50)
    ttl_hours: float | None = Field(default=None, gt=0, le=24 * 90)
    fairness_cap: int | None = Field(default=None, ge=1)
    social_priority: dict[ActorKind, Annotated[float, Field(ge=0, le=1)]] | None = Field(
        default=None, description="Priority in [0, 1] per requester kind; replaces the old one."
    )

    @model_validator(mode="after")
    def _changes_something(self) -> MatchingPolicyChange:
        if not self.model_dump(exclude_none=True):
            raise ValueError("a policy change must change something")
        return self


class AllocateCommonAsset(_Payload):
    offer_id: str = Field(min_length=1, max_length=100, description="The contested offer.")
    need_id: str = Field(min_length=1, max_length=100, description="The need chosen for it.")


class ApprovePublicAssetAgreement(_Payload):
    agreement_id: str = Field(min_length=1, max_length=100)


class FreeMotion(_Payload):
    text: Description = ""
    vision_id: str | None = Field(
        default=None,
        max_length=100,
        description="The territory's shared vision (a draft of the projects service) it adopts.",
    )


class ChangeColleges(_Payload):
    """The weight of every college, integers summing to 100."""

    weights: dict[College, Annotated[int, Field(ge=0, le=100)]]

    @model_validator(mode="after")
    def _sum_to_100(self) -> ChangeColleges:
        if set(self.weights) != set(College):
            raise ValueError("every college needs a weight: " + ", ".join(College))
        if sum(self.weights.values()) != 100:
            raise ValueError("the colleges' weights must sum to 100")
        return self


class ChangeTerritoryRules(_Payload):
    """The rules to change; what is left out stays."""

    public_asset_agreements_need_approval: bool | None = None
    college_quorum_percent: int | None = Field(
        default=None, ge=0, le=100, description="Share of a college's electorate that must vote."
    )
    quorum_weight_percent: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Share of the total weight the colleges reaching their quorum must carry.",
    )
    time_credit_floor: int | None = Field(
        default=None, ge=-100_000, le=0, description="Lowest time-credit balance allowed."
    )
    offers_visible_to_other_territories: bool | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> ChangeTerritoryRules:
        if not self.model_dump(exclude_none=True):
            raise ValueError("a rules change must change something")
        return self


class SelectForTrial(_Payload):
    """The territory's project (its vision, or any reference) selects projects for a trial."""

    project_id: str = Field(min_length=1, max_length=100)
    selected_ids: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        min_length=1,
        max_length=100,
        description="The projects (of the projects service) that go to trial when adopted.",
    )


PAYLOADS: dict[ProposalKind, type[BaseModel]] = {
    ProposalKind.ADMIT_ACTOR: AdmitActor,
    ProposalKind.CHANGE_MATCHING_POLICY: MatchingPolicyChange,
    ProposalKind.ALLOCATE_COMMON_ASSET: AllocateCommonAsset,
    ProposalKind.APPROVE_PUBLIC_ASSET_AGREEMENT: ApprovePublicAssetAgreement,
    ProposalKind.FREE_MOTION: FreeMotion,
    ProposalKind.CHANGE_COLLEGES: ChangeColleges,
    ProposalKind.CHANGE_TERRITORY_RULES: ChangeTerritoryRules,
    ProposalKind.SELECT_FOR_TRIAL: SelectForTrial,
}


def subject_of(kind: ProposalKind, payload: BaseModel) -> str | None:
    """What a decision of this kind is about (`DecisionMadeV1.subject_id`)."""
    if isinstance(payload, AdmitActor):
        return payload.actor_id
    if isinstance(payload, AllocateCommonAsset):
        return payload.offer_id
    if isinstance(payload, ApprovePublicAssetAgreement):
        return payload.agreement_id
    if isinstance(payload, SelectForTrial):
        return payload.project_id
    if isinstance(payload, FreeMotion):
        return payload.vision_id
    return None


# --- events -------------------------------------------------------------------------------------


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


class ProposalOpenedV1(EventPayload):
    """A proposal opened: its electorate and the college weights are frozen for it."""

    event_type = "mcvt.governance.proposal_opened.v1"
    topic = Topic.GOVERNANCE

    proposal_id: str
    territory_id: str
    kind: ProposalKind
    title: str
    method: Method
    secret: bool
    subject_id: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    opens_at: datetime
    closes_at: datetime
    college_weights: dict[str, int]
    electorate_size: int = Field(ge=0)
    opened_by: str | None = Field(default=None, description="The actor, or null for governance.")


class CollegeTally(BaseModel):
    """One college's votes and result (a fraction written `p/q`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    college: str
    weight: int
    electorate: int
    yes: int
    no: int
    abstain: int
    objection: int
    quorum_reached: bool
    result: str | None = Field(description="yes / (yes + no), as `p/q`; null with no yes or no.")


class ProposalClosedV1(EventPayload):
    event_type = "mcvt.governance.proposal_closed.v1"
    topic = Topic.GOVERNANCE

    proposal_id: str
    territory_id: str
    outcome: Outcome
    reason: str = Field(description="`adopted`, `rejected`, `no_quorum` or `objection`.")
    result: str | None = Field(description="The weighted result, as `p/q`.")
    colleges: list[CollegeTally]
    closed_at: datetime
    closed_early: bool


class VoteCastV1(EventPayload):
    """A vote cast or changed. Under a secret ballot: no voter, no choice, only the commitment."""

    event_type = "mcvt.governance.vote_cast.v1"
    topic = Topic.GOVERNANCE

    proposal_id: str
    territory_id: str
    voter_id: str | None = None
    choice: Choice | None = None
    receipt: str = Field(description="The hash of the vote's audit entry.")
    cast_at: datetime


class CollegesChangedV1(EventPayload):
    """The territory's college weights (key: territory id)."""

    event_type = "mcvt.governance.colleges_changed.v1"
    topic = Topic.GOVERNANCE

    territory_id: str
    weights: dict[str, int]
    version: int = Field(ge=1)
    decision_id: str


class TerritoryRulesChangedV1(EventPayload):
    """The territory's rules, whole, for the services that apply them (key: territory id)."""

    event_type = "mcvt.governance.territory_rules_changed.v1"
    topic = Topic.GOVERNANCE

    territory_id: str
    public_asset_agreements_need_approval: bool
    college_quorum_percent: int
    quorum_weight_percent: int
    time_credit_floor: int
    offers_visible_to_other_territories: bool
    version: int = Field(ge=1)
    decision_id: str


class MemberCollegeChangedV1(EventPayload):
    """A facilitator put a member in another college than its kind's (key: actor id)."""

    event_type = "mcvt.governance.member_college_changed.v1"
    topic = Topic.GOVERNANCE

    territory_id: str
    actor_id: str
    college: College
    changed_by: str


EVENTS: tuple[type[EventPayload], ...] = (
    DecisionMadeV1,
    ProposalOpenedV1,
    ProposalClosedV1,
    VoteCastV1,
    CollegesChangedV1,
    TerritoryRulesChangedV1,
    MemberCollegeChangedV1,
)
