"""Performance-of-use agreements, version 1 (topic `mcvt.agreements`, key: agreement id).

A confirmed match becomes an agreement between the provider of the offer and the beneficiary
(the requester of the need), on the terms of the offer at the version that was matched and the
schedule of the need at its matched version. Every event carries the references any consumer
needs without calling back: the territory, both parties, the match, the offer, the need and the
asset. Agreement state events (`created` ... `lapsed`) carry the agreement's full current state;
`version` grows by one with each change of the agreement, `terms_version` with each amendment
in force. Usage, evaluation and statement events carry their own record.

Money is in integer cents of euro, time credits in integer minutes (`AmountUnit`); ratios are
decimal strings, never floats.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, NaiveDatetime

from contracts.envelope import EventPayload
from contracts.offers import (
    Comparator,
    DatedWindow,
    PerformanceClause,
    PriceModel,
    StatementPeriod,
    WeeklySlot,
)
from contracts.taxonomy import Unit
from contracts.topics import Topic


class AgreementStatus(StrEnum):
    DRAFT = "draft"  # awaiting one or both signatures (and the approval, when one is asked)
    SIGNED = "signed"  # signed by both (and approved when asked): active from `starts_at`
    ACTIVE = "active"
    COMPLETED = "completed"
    TERMINATED = "terminated"
    LAPSED = "lapsed"  # unsigned after the set number of days


class AgreementParty(StrEnum):
    """A side of an agreement (named apart from a match's sides: provider and requester)."""

    PROVIDER = "provider"
    BENEFICIARY = "beneficiary"


Party = AgreementParty


class Approval(StrEnum):
    """Whether the agreement waits for a governance decision (`approve_public_asset_agreement`)."""

    NOT_REQUIRED = "not_required"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class AmountUnit(StrEnum):
    """What an amount counts: integer cents of euro, or integer minutes of time credit."""

    EUR_CENTS = "eur_cents"
    TIME_CREDIT_MINUTES = "time_credit_minutes"


class TerminationReason(StrEnum):
    BY_PARTY = "by_party"  # a party ended it early, with the clause's notice
    APPROVAL_REJECTED = "approval_rejected"  # governance rejected the public asset's agreement
    ACTOR_SUSPENDED = "actor_suspended"


class IndicatorTerm(BaseModel):
    """A promised performance with its tolerance, e.g. availability gte 95 %, tolerance 2."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    unit: str
    target: str = Field(description="Decimal, as text.")
    comparator: Comparator
    tolerance: str = Field(default="0", description="Decimal ≥ 0 in the indicator's unit.")


class PriceTerm(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    model: PriceModel
    unit_amount: int = Field(
        ge=0, description="Per use, hour, performance unit or period, in `amount_unit`."
    )
    amount_unit: AmountUnit


class Terms(BaseModel):
    """One version of what the parties agree to."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: int = Field(ge=1)
    quantity: float = Field(gt=0, description="What the beneficiary uses of the asset's capacity.")
    unit: Unit
    indicators: list[IndicatorTerm] = Field(default_factory=list)
    price: PriceTerm
    clause: PerformanceClause
    weekly_windows: list[WeeklySlot] = Field(default_factory=list)
    dated_windows: list[DatedWindow] = Field(default_factory=list)
    ends_at: datetime = Field(description="The earlier of the need's expiry and offer's valid_to.")


class Signature(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    party: Party
    actor_id: str
    terms_version: int = Field(ge=1)
    terms_hash: str = Field(description="SHA-256 (hex) of the canonical JSON of the terms signed.")
    signed_at: datetime


class AgreementRef(EventPayload):
    """What every agreements event names."""

    topic = Topic.AGREEMENTS

    agreement_id: str
    territory_id: str
    provider_id: str
    beneficiary_id: str
    match_id: str
    offer_id: str
    need_id: str
    asset_id: str


class AgreementState(AgreementRef):
    """An agreement as it is after the event."""

    offer_version: int = Field(ge=1)
    need_version: int = Field(ge=1)
    category: str = Field(description="The asset's category code (contracts.taxonomy).")
    status: AgreementStatus
    approval: Approval
    terms: Terms = Field(description="The version of the terms in force (or to sign).")
    signatures: list[Signature] = Field(
        default_factory=list, description="Signatures of the terms version in `terms`."
    )
    starts_at: datetime | None = Field(
        default=None, description="Start of the first window after both signatures."
    )
    ends_at: datetime
    version: int = Field(ge=1)


class AgreementCreatedV1(AgreementState):
    """A confirmed match became a draft agreement, to be signed by both parties."""

    event_type = "mcvt.agreement.created.v1"

    public_asset: bool = Field(description="The asset belongs to a local authority.")
    awaits_approval: bool = Field(
        description="The territory's rule asks a governance decision of kind "
        "approve_public_asset_agreement (subject: the agreement id) before it may start."
    )
    lapses_at: datetime = Field(description="When the draft lapses unless both have signed.")


class AgreementSignedV1(AgreementState):
    event_type = "mcvt.agreement.signed.v1"

    by: Party
    signature: Signature


class AgreementActivatedV1(AgreementState):
    event_type = "mcvt.agreement.activated.v1"

    project_id: str | None = Field(
        default=None,
        description="The territorial project its need serves, if any (projects fulfils the "
        "pledges on that need).",
    )


class AgreementAmendmentProposedV1(AgreementState):
    """A party proposed new terms; they take effect once both have signed them."""

    event_type = "mcvt.agreement.amendment_proposed.v1"

    by: Party
    proposed: Terms


class AgreementAmendedV1(AgreementState):
    """Both parties signed the new terms (`terms`): they are in force; the previous stay
    readable."""

    event_type = "mcvt.agreement.amended.v1"

    previous_terms_version: int = Field(ge=1)
    changed: list[str] = Field(default_factory=list, description="Fields of the terms changed.")


class AgreementCompletedV1(AgreementState):
    event_type = "mcvt.agreement.completed.v1"


class AgreementTerminatedV1(AgreementState):
    event_type = "mcvt.agreement.terminated.v1"

    reason: TerminationReason
    by: Party | None = Field(default=None, description="The party that ended it, if a party did.")
    explanation: str = ""
    effective_at: datetime = Field(description="When the use ends: now plus the clause's notice.")


class AgreementLapsedV1(AgreementState):
    event_type = "mcvt.agreement.lapsed.v1"


class UsageStatus(StrEnum):
    REPORTED = "reported"
    CONFIRMED = "confirmed"
    DISPUTED = "disputed"
    WITHDRAWN = "withdrawn"


class Measurement(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    indicator: str
    value: str = Field(description="Decimal, as text.")


class UsageReport(AgreementRef):
    """A usage report as it is after the event."""

    report_id: str
    reported_by: Party
    period_start: NaiveDatetime = Field(description="Territory wall-clock time, inclusive.")
    period_end: NaiveDatetime = Field(description="Territory wall-clock time, exclusive.")
    quantity: str = Field(description="Decimal ≥ 0 in `unit`.")
    unit: Unit
    measurements: list[Measurement] = Field(default_factory=list)
    status: UsageStatus
    corrects: str | None = Field(default=None, description="The disputed report it corrects.")


class UsageRecordedV1(UsageReport):
    event_type = "mcvt.agreement.usage_recorded.v1"


class UsageConfirmedV1(UsageReport):
    event_type = "mcvt.agreement.usage_confirmed.v1"

    confirmed_by: Party


class UsageDisputedV1(UsageReport):
    event_type = "mcvt.agreement.usage_disputed.v1"

    disputed_by: Party
    reason: str


class IndicatorResult(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    indicator: str
    target: str
    comparator: Comparator
    tolerance: str
    measured: str | None = Field(description="Mean of the confirmed measurements; null if none.")
    met: bool


class PerformanceEvaluatedV1(AgreementRef):
    """A period closed: each indicator compared with its target."""

    event_type = "mcvt.agreement.performance_evaluated.v1"

    period_start: NaiveDatetime
    period_end: NaiveDatetime
    results: list[IndicatorResult]
    ratio: str = Field(description="Share of indicators met, a decimal in [0, 1]; 1 if none.")


class StatementIssuedV1(AgreementRef):
    """What is due for one period under the agreement (not an invoice). Immutable."""

    event_type = "mcvt.agreement.statement_issued.v1"

    statement_id: str
    sequence: int = Field(ge=1, description="1 for the period's first statement; a correction +1.")
    supersedes: str | None = Field(default=None, description="The statement it corrects.")
    period_start: NaiveDatetime
    period_end: NaiveDatetime
    terms_version: int = Field(ge=1)
    price_model: PriceModel
    amount_unit: AmountUnit
    quantity: str = Field(description="Confirmed usage counted, decimal.")
    fixed_amount: int
    variable_amount: int
    total_amount: int = Field(ge=0)
    ratio: str
    payer_id: str
    payee_id: str
    issued_at: datetime


STATE_EVENTS: tuple[type[AgreementState], ...] = (
    AgreementCreatedV1,
    AgreementSignedV1,
    AgreementActivatedV1,
    AgreementAmendmentProposedV1,
    AgreementAmendedV1,
    AgreementCompletedV1,
    AgreementTerminatedV1,
    AgreementLapsedV1,
)
USAGE_EVENTS: tuple[type[UsageReport], ...] = (
    UsageRecordedV1,
    UsageConfirmedV1,
    UsageDisputedV1,
)
EVENTS: tuple[type[EventPayload], ...] = (
    *STATE_EVENTS,
    *USAGE_EVENTS,
    PerformanceEvaluatedV1,
    StatementIssuedV1,
)

__all__ = [
    "EVENTS",
    "STATE_EVENTS",
    "USAGE_EVENTS",
    "AgreementStatus",
    "AmountUnit",
    "Approval",
    "DatedWindow",
    "IndicatorTerm",
    "Party",
    "PerformanceClause",
    "StatementPeriod",
    "Terms",
]
