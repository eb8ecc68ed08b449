"""Lifecycle rules of an agreement, pure."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from contracts.agreements import AgreementStatus, Approval, Party, TerminationReason
from services.agreements.domain import lifecycle, schedule, usage
from services.agreements.domain.lifecycle import Signed
from services.agreements.domain.terms import Amendment, amend, terms_hash
from services.runtime.errors import Conflict, Forbidden, InvalidInput, NotFound
from tests.unit.agreements.builders import (
    BENEFICIARY,
    NOW,
    PROVIDER,
    SATURDAY,
    draft,
    principal,
)


def sign_both(approval: bool = False) -> tuple[lifecycle.Agreement, lifecycle.Signing]:
    agreement, terms = draft(approval=approval)
    first = lifecycle.sign(
        agreement, terms, [], party=Party.PROVIDER, actor_id=PROVIDER, version=1,
        expected_hash=None, now=NOW,
    )  # fmt: skip
    second = lifecycle.sign(
        first.agreement, terms, [first.signature], party=Party.BENEFICIARY,
        actor_id=BENEFICIARY, version=1, expected_hash=terms_hash(terms), now=NOW,
    )  # fmt: skip
    return first.agreement, second


def test_both_sign_in_either_order_and_it_starts_at_the_next_window() -> None:
    one, both = sign_both()
    assert one.status is AgreementStatus.DRAFT
    assert both.outcome is Signed.BOTH and both.agreement.status is AgreementStatus.SIGNED
    starts = both.agreement.starts_at
    assert starts is not None and starts > NOW
    local = schedule.local(starts)
    assert (local.weekday(), local.hour, local.minute) == (SATURDAY, 8, 0)
    assert both.signature.terms_hash == terms_hash(draft()[1])


def test_a_party_cannot_sign_twice() -> None:
    agreement, terms = draft()
    first = lifecycle.sign(
        agreement, terms, [], party=Party.PROVIDER, actor_id=PROVIDER, version=1,
        expected_hash=None, now=NOW,
    )  # fmt: skip
    with pytest.raises(Conflict) as refused:
        lifecycle.sign(
            first.agreement, terms, [first.signature], party=Party.PROVIDER, actor_id=PROVIDER,
            version=1, expected_hash=None, now=NOW,
        )  # fmt: skip
    assert refused.value.field == "terms_version"


def test_a_changed_hash_is_refused() -> None:
    agreement, terms = draft()
    with pytest.raises(Conflict) as refused:
        lifecycle.sign(
            agreement, terms, [], party=Party.PROVIDER, actor_id=PROVIDER, version=1,
            expected_hash="0" * 64, now=NOW,
        )  # fmt: skip
    assert refused.value.field == "terms_hash"


def test_only_parties_act_a_facilitator_reads_others_see_nothing() -> None:
    agreement, _ = draft()
    assert lifecycle.party_acting(principal(PROVIDER), agreement) is Party.PROVIDER
    assert lifecycle.party_acting(principal(BENEFICIARY), agreement) is Party.BENEFICIARY
    facilitator = principal(str(uuid4()), roles=frozenset({"facilitator"}))
    lifecycle.may_read(facilitator, agreement)
    with pytest.raises(Forbidden):
        lifecycle.party_acting(facilitator, agreement)
    with pytest.raises(NotFound):
        lifecycle.may_read(principal(str(uuid4())), agreement)


def test_cannot_report_on_a_draft_nor_a_terminated_agreement() -> None:
    agreement, terms = draft()
    with pytest.raises(Conflict):
        usage.report(
            agreement, terms, report_id=uuid4(), party=Party.PROVIDER, period_start=NOW,
            period_end=NOW + timedelta(hours=1), quantity=Decimal(1), measurements={},
            corrects=None, now=NOW,
        )  # fmt: skip
    ended = lifecycle.terminate(
        agreement, TerminationReason.BY_PARTY, Party.PROVIDER, "", now=NOW, notice=timedelta(0)
    )
    assert ended.status is AgreementStatus.TERMINATED
    with pytest.raises(Conflict):
        usage.report(
            ended, terms, report_id=uuid4(), party=Party.PROVIDER, period_start=NOW,
            period_end=NOW + timedelta(hours=1), quantity=Decimal(1), measurements={},
            corrects=None, now=NOW,
        )  # fmt: skip


def test_an_active_agreement_runs_out_its_notice() -> None:
    _, both = sign_both()
    assert both.agreement.starts_at is not None
    later = both.agreement.starts_at + timedelta(minutes=1)
    active = lifecycle.activate(both.agreement, now=later)
    assert active is not None and active.status is AgreementStatus.ACTIVE
    ending = lifecycle.terminate(
        active, TerminationReason.BY_PARTY, Party.BENEFICIARY, "", now=later,
        notice=timedelta(days=30),
    )  # fmt: skip
    assert ending.status is AgreementStatus.ACTIVE and ending.ends_at == later + timedelta(days=30)
    assert lifecycle.complete(ending, now=later) is None
    done = lifecycle.complete(ending, now=ending.ends_at)
    assert done is not None and done.status is AgreementStatus.TERMINATED


def test_a_draft_lapses_only_unsigned_and_when_due() -> None:
    agreement, _ = draft()
    assert lifecycle.lapse(agreement, now=NOW) is None
    lapsed = lifecycle.lapse(agreement, now=agreement.lapses_at)
    assert lapsed is not None and lapsed.status is AgreementStatus.LAPSED
    _, both = sign_both()
    assert lifecycle.lapse(both.agreement, now=both.agreement.lapses_at) is None


def test_approval_holds_the_start_and_rejection_ends_it() -> None:
    _, both = sign_both(approval=True)
    waiting = both.agreement
    assert waiting.approval is Approval.PENDING and waiting.starts_at is None
    terms = draft()[1]
    approved = lifecycle.decide_approval(waiting, terms, adopted=True, now=NOW)
    assert approved is not None and approved.starts_at is not None
    rejected = lifecycle.decide_approval(waiting, terms, adopted=False, now=NOW)
    assert rejected is not None and rejected.status is AgreementStatus.TERMINATED
    assert rejected.termination is not None
    assert rejected.termination.reason is TerminationReason.APPROVAL_REJECTED
    assert lifecycle.decide_approval(approved, terms, adopted=False, now=NOW) is None


def test_an_amendment_is_a_new_version_to_sign_again() -> None:
    _, both = sign_both()
    terms = draft()[1]
    amended, changed = amend(terms, Amendment(quantity=10, unit_amount=1300), now=NOW)
    assert changed == ["price", "quantity"] and amended.version == 2
    assert amended.price.unit_amount == 1300 and amended.price.model is terms.price.model
    proposed = lifecycle.propose_amendment(both.agreement, amended, now=NOW)
    assert proposed.terms_version == 1 and proposed.pending_version == 2
    with pytest.raises(InvalidInput):
        amend(terms, Amendment(quantity=terms.quantity), now=NOW)
    with pytest.raises(InvalidInput):
        amend(terms, Amendment(ends_at=NOW - timedelta(days=1)), now=NOW)
