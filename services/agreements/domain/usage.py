"""Usage reports: either party reports what was used over a date range and what each indicator
measured; the other confirms or disputes it. Only confirmed reports count; a disputed report is
resolved by a corrected report (confirmed in turn) or by its withdrawal.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from contracts.agreements import Party, Terms, UsageStatus
from contracts.offers import StatementPeriod
from services.agreements.domain.lifecycle import Agreement, ensure_reportable, other
from services.agreements.domain.schedule import next_boundary
from services.runtime.errors import Conflict, Forbidden, InvalidInput


class Report(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    agreement_id: UUID
    reported_by: Party
    period_start: datetime
    period_end: datetime
    quantity: Decimal
    measurements: dict[str, Decimal]
    status: UsageStatus
    corrects: UUID | None = None
    reason: str = ""
    created_at: datetime
    decided_at: datetime | None = None


def report(
    agreement: Agreement,
    terms: Terms,
    *,
    report_id: UUID,
    party: Party,
    period_start: datetime,
    period_end: datetime,
    quantity: Decimal,
    measurements: dict[str, Decimal],
    corrects: Report | None,
    now: datetime,
) -> Report:
    """A new report, checked against the agreement's state, period and indicators."""
    ensure_reportable(agreement)
    if quantity < 0:
        raise InvalidInput("the quantity used cannot be negative", field="quantity")
    if period_end <= period_start:
        raise InvalidInput("the range must end after it starts", field="period_end")
    assert agreement.starts_at is not None  # an agreement that ran has a start
    if period_start < agreement.starts_at:
        raise InvalidInput("the range starts before the agreement", field="period_start")
    if period_end > agreement.ends_at:
        raise InvalidInput("the range ends after the agreement", field="period_end")
    if period_start > now:
        raise InvalidInput("usage is reported once it happened", field="period_start")
    if period_end > next_boundary(period_start, terms.clause.statement_period):
        raise InvalidInput(
            f"a report lies within one statement period ({_label(terms.clause.statement_period)})",
            field="period_end",
        )
    known = {indicator.name for indicator in terms.indicators}
    for name in measurements:
        if name not in known:
            raise InvalidInput(
                f"unknown indicator {name!r}; the agreement measures {sorted(known)}",
                field=f"measurements.{name}",
            )
    if corrects is not None and corrects.status is not UsageStatus.DISPUTED:
        raise Conflict("only a disputed report is corrected", field="corrects")
    return Report(
        id=report_id,
        agreement_id=agreement.id,
        reported_by=party,
        period_start=period_start,
        period_end=period_end,
        quantity=quantity,
        measurements=measurements,
        status=UsageStatus.REPORTED,
        corrects=corrects.id if corrects else None,
        created_at=now,
    )


def _label(period: StatementPeriod) -> str:
    return {"week": "a week", "month": "a month", "quarter": "a quarter"}[period]


def _decide(entry: Report, party: Party) -> None:
    if entry.status is not UsageStatus.REPORTED:
        raise Conflict(f"the report is {entry.status} already", field="status")
    if party is not other(entry.reported_by):
        raise Forbidden("the other party confirms or disputes a report")


def confirm(entry: Report, party: Party, *, now: datetime) -> Report:
    _decide(entry, party)
    return entry.model_copy(update={"status": UsageStatus.CONFIRMED, "decided_at": now})


def dispute(entry: Report, party: Party, reason: str, *, now: datetime) -> Report:
    _decide(entry, party)
    if not reason.strip():
        raise InvalidInput("say why the report is disputed", field="reason")
    return entry.model_copy(
        update={"status": UsageStatus.DISPUTED, "reason": reason, "decided_at": now}
    )


def withdraw(entry: Report, party: Party, *, now: datetime) -> Report:
    """Its author withdraws a report not confirmed (a disputed one, typically)."""
    if party is not entry.reported_by:
        raise Forbidden("only the author of a report withdraws it")
    if entry.status not in (UsageStatus.REPORTED, UsageStatus.DISPUTED):
        raise Conflict(f"a {entry.status} report is not withdrawn", field="status")
    return entry.model_copy(update={"status": UsageStatus.WITHDRAWN, "decided_at": now})
