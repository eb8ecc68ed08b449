"""Closing a period: each indicator against its target, then what is due under the price model.

Evaluation: an indicator's measure for the period is the mean of the values the confirmed
reports give it; it is met when the measure satisfies the comparator within the tolerance
(`gte`: m ≥ target - tolerance, `lte`: m ≤ target + tolerance, `eq`: |m - target| ≤ tolerance,
`gt`/`lt` likewise, strict). An indicator no report measured is not met. The performance ratio is
the share of indicators met (1 when the terms have none).

Amount: the price model gives the base (per use, per hour, per performance unit: the confirmed
quantity times the unit amount; flat per period: the unit amount, prorated by the share of the
calendar period the agreement covers; free: nothing; time credits: the quantity times the
minutes per unit). The clause splits the base into a fixed part and a variable part; the
variable part is scaled by the ratio and bounded by its floor and cap. With no confirmed usage
at all there is no variable part. Everything stays an exact Fraction; `money.issued` rounds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from contracts.agreements import IndicatorTerm, PriceTerm
from contracts.offers import Comparator, PerformanceClause, PriceModel


@dataclass(frozen=True)
class Result:
    indicator: IndicatorTerm
    measured: Fraction | None
    met: bool


@dataclass(frozen=True)
class Due:
    base: Fraction
    fixed: Fraction
    variable: Fraction

    @property
    def total(self) -> Fraction:
        return self.fixed + self.variable


def met(comparator: Comparator, measured: Fraction, target: Fraction, tolerance: Fraction) -> bool:
    if comparator is Comparator.AT_LEAST:
        return measured >= target - tolerance
    if comparator is Comparator.AT_MOST:
        return measured <= target + tolerance
    if comparator is Comparator.EQUAL:
        return abs(measured - target) <= tolerance
    if comparator is Comparator.MORE_THAN:
        return measured > target - tolerance
    return measured < target + tolerance


def evaluate(
    indicators: Iterable[IndicatorTerm], measurements: dict[str, list[Decimal]]
) -> tuple[list[Result], Fraction]:
    """Each indicator's result and the performance ratio."""
    results = []
    for indicator in indicators:
        values = measurements.get(indicator.name, [])
        measured = sum((Fraction(v) for v in values), Fraction(0)) / len(values) if values else None
        results.append(
            Result(
                indicator,
                measured,
                measured is not None
                and met(
                    indicator.comparator,
                    measured,
                    Fraction(Decimal(indicator.target)),
                    Fraction(Decimal(indicator.tolerance)),
                ),
            )
        )
    ratio = Fraction(sum(r.met for r in results), len(results)) if results else Fraction(1)
    return results, ratio


def base_amount(price: PriceTerm, quantity: Fraction, coverage: Fraction) -> Fraction:
    """The price model's amount for a period before the performance adjustment."""
    if price.model is PriceModel.FREE:
        return Fraction(0)
    if price.model is PriceModel.FLAT_PER_PERIOD:
        return price.unit_amount * coverage
    return quantity * price.unit_amount


def due(
    price: PriceTerm,
    clause: PerformanceClause,
    *,
    quantity: Fraction,
    ratio: Fraction,
    coverage: Fraction,
) -> Due:
    """What one period owes, exactly. `coverage` is the share of the calendar period the
    agreement ran (1 for a whole period); `ratio` in [0, 1]."""
    base = base_amount(price, quantity, coverage)
    fixed = base * Fraction(clause.fixed_percent, 100)
    variable_base = base - fixed
    if quantity == 0:
        return Due(base, fixed, Fraction(0))
    share = min(
        max(ratio, Fraction(clause.variable_floor_percent, 100)),
        Fraction(clause.variable_cap_percent, 100),
    )
    return Due(base, fixed, variable_base * share)


def coverage(
    start: datetime, end: datetime, calendar_start: datetime, calendar_end: datetime
) -> Fraction:
    """The share of a calendar period [calendar_start, calendar_end) that [start, end) covers."""
    whole = (calendar_end - calendar_start).total_seconds()
    covered = (min(end, calendar_end) - max(start, calendar_start)).total_seconds()
    return Fraction(int(max(covered, 0)), int(whole)) if whole > 0 else Fraction(1)
