"""Exact amounts and the one rounding rule.

Every amount is computed as an exact `Fraction` of the unit of account (cents of euro, or
minutes of time credit) and rounded once, when a statement is issued, to a whole unit, half to
even (banker's rounding: no bias over many statements). A statement's total is the rounding of
the agreement's cumulative exact amount through its period minus the rounding through the
previous one, so an agreement's statements always add up to its rounded exact whole and no
period is off by more than one unit (cent or minute). Money is never a float.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from contracts.agreements import AmountUnit
from contracts.offers import Currency, Price

CENTS_PER_EURO = 100
MINUTES_PER_HOUR = 60


def round_half_even(value: Fraction) -> int:
    """`value` rounded to an integer, half to even."""
    return round(value)  # Fraction.__round__ rounds half to even, exactly


def issued(cumulative_before: Fraction, exact: Fraction) -> int:
    """What a statement of exact amount `exact` issues, after statements that added up to the
    exact `cumulative_before`."""
    return round_half_even(cumulative_before + exact) - round_half_even(cumulative_before)


def decimal_of(value: float | str | Decimal) -> Decimal:
    """A decimal from a JSON number as written (a float's shortest repr, never its binary value)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def unit_amount(price: Price) -> tuple[int, AmountUnit]:
    """The offer's unit price in whole cents, or whole minutes of time credit."""
    if price.currency is Currency.TIME_CREDIT_HOURS:
        minutes = decimal_of(price.unit_price) * MINUTES_PER_HOUR
        return int(minutes.quantize(Decimal(1), ROUND_HALF_EVEN)), AmountUnit.TIME_CREDIT_MINUTES
    cents = decimal_of(price.unit_price) * CENTS_PER_EURO
    return int(cents.quantize(Decimal(1), ROUND_HALF_EVEN)), AmountUnit.EUR_CENTS


def text(value: Fraction | Decimal, places: int = 6) -> str:
    """A ratio or quantity as decimal text (for events and the API), rounded half to even."""
    exact = (
        Decimal(value.numerator) / Decimal(value.denominator)
        if isinstance(value, Fraction)
        else value
    )
    shown = exact.quantize(Decimal(1).scaleb(-places), ROUND_HALF_EVEN).normalize()
    return format(shown, "f")
