"""An agreement's lifecycle: who acts on it, signatures, approval, start, end.

draft → (both parties sign the terms, in either order, each once; governance approves when the
territory's rule asks) → signed → active at its start → completed at its end, or terminated
early by either party with the clause's notice (at once when the notice is nil or the agreement
has not started); a draft not signed by both within the set days lapses. Amendments are new
versions of the terms: both sign them again, and meanwhile the version in force stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.agreements import (
    AgreementStatus,
    Approval,
    Party,
    Signature,
    TerminationReason,
    Terms,
)
from services.agreements.domain.schedule import start_of
from services.agreements.domain.terms import NeedVersion, OfferVersion, terms_hash
from services.runtime.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.runtime.principal import Principal

LIVE = frozenset({AgreementStatus.DRAFT, AgreementStatus.SIGNED, AgreementStatus.ACTIVE})
ENDED = frozenset({AgreementStatus.COMPLETED, AgreementStatus.TERMINATED, AgreementStatus.LAPSED})


class Termination(BaseModel):
    model_config = ConfigDict(frozen=True)

    reason: TerminationReason
    by: Party | None = None
    explanation: str = ""
    effective_at: datetime


class Agreement(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    match_id: UUID
    territory_id: UUID
    provider_id: UUID
    beneficiary_id: UUID
    offer_id: UUID
    offer_version: int
    need_id: UUID
    need_version: int
    asset_id: UUID
    category: str
    provider_kind: str
    beneficiary_kind: str
    public_asset: bool
    status: AgreementStatus
    approval: Approval
    terms_version: int = Field(ge=1, description="The version of the terms in force.")
    pending_version: int | None = Field(
        default=None, description="An amendment awaiting both signatures."
    )
    starts_at: datetime | None = None
    ends_at: datetime
    lapses_at: datetime
    termination: Termination | None = None
    version: int = Field(ge=1)
    created_at: datetime
    updated_at: datetime

    def party_of(self, actor_id: str) -> Party | None:
        if actor_id == str(self.provider_id):
            return Party.PROVIDER
        if actor_id == str(self.beneficiary_id):
            return Party.BENEFICIARY
        return None

    def actor_of(self, party: Party) -> UUID:
        return self.provider_id if party is Party.PROVIDER else self.beneficiary_id

    @property
    def signing_version(self) -> int:
        """The version of the terms awaiting signatures: a pending amendment, else the draft."""
        return self.pending_version or self.terms_version


def _next(agreement: Agreement, now: datetime, **changes: Any) -> Agreement:
    return agreement.model_copy(
        update={**changes, "version": agreement.version + 1, "updated_at": now}
    )


# --- who ------------------------------------------------------------------------------------


def may_read(principal: Principal, agreement: Agreement) -> None:
    """The parties and the territory's facilitators read it; for anyone else it does not exist."""
    if agreement.party_of(principal.actor_id) is None and not principal.facilitates(
        str(agreement.territory_id)
    ):
        raise NotFound("no such agreement")


def party_acting(principal: Principal, agreement: Agreement) -> Party:
    """The caller's side; only the parties act (a facilitator reads but does not act)."""
    may_read(principal, agreement)
    party = agreement.party_of(principal.actor_id)
    if party is None:
        raise Forbidden("only the parties act on an agreement")
    return party


def other(party: Party) -> Party:
    return Party.BENEFICIARY if party is Party.PROVIDER else Party.PROVIDER


# --- birth ----------------------------------------------------------------------------------


def draft(
    *,
    agreement_id: UUID,
    match_id: UUID,
    offer: OfferVersion,
    need: NeedVersion,
    terms: Terms,
    provider_kind: str,
    public_asset: bool,
    approval_required: bool,
    now: datetime,
    lapse_after: timedelta,
) -> Agreement:
    """The draft a confirmed match becomes."""
    if terms.ends_at <= now:
        raise InvalidInput("the offer or the need has already ended", field="ends_at")
    return Agreement(
        id=agreement_id,
        match_id=match_id,
        territory_id=UUID(offer.territory_id),
        provider_id=UUID(offer.provider_id),
        beneficiary_id=UUID(need.requester_id),
        offer_id=UUID(offer.offer_id),
        offer_version=offer.version,
        need_id=UUID(need.need_id),
        need_version=need.version,
        asset_id=UUID(offer.asset_id),
        category=offer.category,
        provider_kind=provider_kind,
        beneficiary_kind=need.requester_kind,
        public_asset=public_asset,
        status=AgreementStatus.DRAFT,
        approval=Approval.PENDING if approval_required else Approval.NOT_REQUIRED,
        terms_version=1,
        ends_at=terms.ends_at,
        lapses_at=min(now + lapse_after, terms.ends_at),
        version=1,
        created_at=now,
        updated_at=now,
    )


# --- signatures -----------------------------------------------------------------------------


class Signed(StrEnum):
    ONE = "one"  # one party so far
    BOTH = "both"  # the draft is signed by both
    AMENDED = "amended"  # an amendment is signed by both: in force now


@dataclass(frozen=True)
class Signing:
    agreement: Agreement
    signature: Signature
    outcome: Signed


def sign(
    agreement: Agreement,
    terms: Terms,
    signatures: list[Signature],
    *,
    party: Party,
    actor_id: str,
    version: int,
    expected_hash: str | None,
    now: datetime,
) -> Signing:
    """`party` signs version `version` of the terms (which must be the one awaiting signatures)."""
    if agreement.status not in LIVE:
        raise Conflict(f"a {agreement.status} agreement is not signed any more", field="status")
    if agreement.status is not AgreementStatus.DRAFT and agreement.pending_version is None:
        raise Conflict("both parties have signed already; nothing awaits a signature")
    if version != agreement.signing_version or terms.version != version:
        raise Conflict(
            f"version {agreement.signing_version} of the terms awaits signatures",
            field="terms_version",
        )
    digest = terms_hash(terms)
    if expected_hash is not None and expected_hash != digest:
        raise Conflict("the terms changed since you read them", field="terms_hash")
    if any(s.party is party and s.terms_version == version for s in signatures):
        raise Conflict("you have signed this version already", field="terms_version")
    signature = Signature(
        party=party, actor_id=actor_id, terms_version=version, terms_hash=digest, signed_at=now
    )
    if not any(s.party is other(party) and s.terms_version == version for s in signatures):
        return Signing(_next(agreement, now), signature, Signed.ONE)
    if agreement.pending_version is not None:
        amended = _next(
            agreement,
            now,
            terms_version=version,
            pending_version=None,
            ends_at=terms.ends_at,
        )
        return Signing(amended, signature, Signed.AMENDED)
    signed = _next(agreement, now, status=AgreementStatus.SIGNED, ends_at=terms.ends_at)
    return Signing(_ready(signed, terms, now), signature, Signed.BOTH)


def _ready(agreement: Agreement, terms: Terms, now: datetime) -> Agreement:
    """Fix the start once both signed and governance (if asked) approved."""
    if agreement.status is not AgreementStatus.SIGNED or agreement.approval is Approval.PENDING:
        return agreement
    return agreement.model_copy(update={"starts_at": start_of(terms, now)})


def propose_amendment(agreement: Agreement, terms: Terms, *, now: datetime) -> Agreement:
    """New terms await both signatures; the version in force stays meanwhile. In a draft the
    new version replaces the one to sign (and its end, the draft's)."""
    if agreement.status not in LIVE:
        raise Conflict(f"a {agreement.status} agreement is not amended", field="status")
    if agreement.termination is not None:
        raise Conflict("the agreement is ending: it is not amended any more", field="status")
    if agreement.status is AgreementStatus.DRAFT:
        return _next(
            agreement,
            now,
            terms_version=terms.version,
            pending_version=None,
            ends_at=terms.ends_at,
            lapses_at=min(agreement.lapses_at, terms.ends_at),
        )
    return _next(agreement, now, pending_version=terms.version)


# --- approval -------------------------------------------------------------------------------


def decide_approval(
    agreement: Agreement, terms: Terms, *, adopted: bool, now: datetime
) -> Agreement | None:
    """Governance's decision on the agreement; None when it no longer waits for one."""
    if agreement.approval is not Approval.PENDING or agreement.status not in LIVE:
        return None
    if not adopted:
        rejected = agreement.model_copy(update={"approval": Approval.REJECTED})
        return terminate(
            rejected, TerminationReason.APPROVAL_REJECTED, None, "", now=now, notice=timedelta(0)
        )
    approved = _next(agreement, now, approval=Approval.APPROVED)
    return _ready(approved, terms, now)


# --- time -----------------------------------------------------------------------------------


def activate(agreement: Agreement, *, now: datetime) -> Agreement | None:
    """signed → active at its start; None when it is not due (a repeated or stale timer)."""
    if (
        agreement.status is not AgreementStatus.SIGNED
        or agreement.starts_at is None
        or agreement.starts_at > now
    ):
        return None
    return _next(agreement, now, status=AgreementStatus.ACTIVE)


def complete(agreement: Agreement, *, now: datetime) -> Agreement | None:
    """active → completed at its end; None when it is not due."""
    if agreement.status is not AgreementStatus.ACTIVE or agreement.ends_at > now:
        return None
    if agreement.termination is not None:
        return _next(agreement, now, status=AgreementStatus.TERMINATED)
    return _next(agreement, now, status=AgreementStatus.COMPLETED)


def lapse(agreement: Agreement, *, now: datetime) -> Agreement | None:
    """An unsigned draft lapses at `lapses_at`; None when it is signed or not due."""
    if agreement.status is not AgreementStatus.DRAFT or agreement.lapses_at > now:
        return None
    return _next(agreement, now, status=AgreementStatus.LAPSED)


def terminate(
    agreement: Agreement,
    reason: TerminationReason,
    by: Party | None,
    explanation: str,
    *,
    now: datetime,
    notice: timedelta,
) -> Agreement:
    """End the agreement early. An active one runs until the notice is over (its end moves
    there and the last period closes then); a draft or a signed one ends at once."""
    if agreement.status not in LIVE:
        raise Conflict(f"a {agreement.status} agreement cannot be terminated", field="status")
    if agreement.termination is not None:
        raise Conflict("the agreement is already ending", field="status")
    running = agreement.status is AgreementStatus.ACTIVE and notice > timedelta(0)
    effective = min(now + notice, agreement.ends_at) if running else now
    termination = Termination(reason=reason, by=by, explanation=explanation, effective_at=effective)
    if running and effective > now:
        return _next(
            agreement, now, termination=termination, ends_at=effective, pending_version=None
        )
    return _next(
        agreement,
        now,
        status=AgreementStatus.TERMINATED,
        termination=termination,
        ends_at=min(agreement.ends_at, now),
        pending_version=None,
    )


def ensure_reportable(agreement: Agreement) -> None:
    """Usage is reported on an active agreement, or late on a completed one; never on a draft,
    a signed one not started yet, a terminated or a lapsed one."""
    if agreement.status in (AgreementStatus.DRAFT, AgreementStatus.SIGNED):
        raise Conflict("usage is reported once the agreement is active", field="status")
    if agreement.status in (AgreementStatus.TERMINATED, AgreementStatus.LAPSED):
        raise Conflict(f"a {agreement.status} agreement takes no usage report", field="status")
