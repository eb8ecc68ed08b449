"""Properties of evaluations and statements: bounds, zero usage, exact cents, whole periods."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from contracts.agreements import AmountUnit
from contracts.offers import Comparator, PriceModel, StatementPeriod
from services.agreements.domain import credits, money, schedule, statements
from tests.unit.agreements.builders import clause, indicator, price

USAGE_MODELS = [
    PriceModel.PER_USE,
    PriceModel.PER_HOUR,
    PriceModel.PER_PERFORMANCE_UNIT,
    PriceModel.TIME_CREDITS,
]
quantities = st.decimals(min_value=0, max_value=10_000, places=3).map(Fraction)
ratios = st.fractions(min_value=0, max_value=1, max_denominator=50)
amounts = st.integers(min_value=0, max_value=1_000_000)


@st.composite
def clauses(draw: st.DrawFn) -> object:
    floor = draw(st.integers(0, 100))
    return clause(
        fixed_percent=draw(st.integers(0, 100)),
        variable_floor_percent=floor,
        variable_cap_percent=draw(st.integers(floor, 100)),
    )


@given(
    st.sampled_from([*USAGE_MODELS, PriceModel.FLAT_PER_PERIOD]),
    amounts,
    clauses(),
    quantities.filter(lambda q: q > 0),
    ratios,
    ratios,
)
def test_the_variable_part_lies_between_floor_and_cap(
    model: PriceModel,
    unit: int,
    terms: object,
    quantity: Fraction,
    ratio: Fraction,
    coverage: Fraction,
) -> None:
    assert isinstance(terms, type(clause()))
    due = statements.due(
        price(model, unit), terms, quantity=quantity, ratio=ratio, coverage=coverage
    )
    variable_base = due.base - due.fixed
    floor = variable_base * Fraction(terms.variable_floor_percent, 100)
    cap = variable_base * Fraction(terms.variable_cap_percent, 100)
    assert floor <= due.variable <= cap
    issued = money.issued(Fraction(0), due.total)
    assert (
        money.round_half_even(due.fixed + floor) <= issued <= money.round_half_even(due.fixed + cap)
    )
    assert isinstance(issued, int) and abs(issued - due.total) <= Fraction(1, 2)


@given(st.sampled_from(list(PriceModel)), amounts, clauses(), ratios, ratios)
def test_zero_usage_gives_zero_variable_amount(
    model: PriceModel, unit: int, terms: object, ratio: Fraction, coverage: Fraction
) -> None:
    assert isinstance(terms, type(clause()))
    due = statements.due(
        price(model, unit), terms, quantity=Fraction(0), ratio=ratio, coverage=coverage
    )
    assert due.variable == 0
    if model is not PriceModel.FLAT_PER_PERIOD:
        assert due.total == 0


@given(st.lists(st.fractions(min_value=0, max_value=100_000, max_denominator=1000), max_size=30))
def test_statements_add_up_to_the_rounded_whole(exact: list[Fraction]) -> None:
    issued, cumulative = [], Fraction(0)
    for amount in exact:
        issued.append(money.issued(cumulative, amount))
        cumulative += amount
    assert all(isinstance(i, int) and i >= 0 for i in issued)
    assert sum(issued) == money.round_half_even(sum(exact, Fraction(0)))
    assert all(abs(i - a) <= 1 for i, a in zip(issued, exact, strict=True))


@given(
    st.sampled_from(USAGE_MODELS),
    amounts,
    st.lists(quantities, min_size=1, max_size=12),
)
def test_usage_split_into_periods_is_stated_as_the_whole_would_be(
    model: PriceModel, unit: int, parts: list[Fraction]
) -> None:
    """All fixed, as when an offer has no clause: per-period statements of the usage add up to
    one statement of all of it."""
    terms = clause()
    term = price(model, unit, AmountUnit.EUR_CENTS)

    def stated(quantity: Fraction) -> Fraction:
        return statements.due(
            term, terms, quantity=quantity, ratio=Fraction(1), coverage=Fraction(1)
        ).total

    issued, cumulative = 0, Fraction(0)
    for part in parts:
        exact = stated(part)
        issued += money.issued(cumulative, exact)
        cumulative += exact
    assert issued == money.issued(Fraction(0), stated(sum(parts, Fraction(0))))


def test_half_even_rounding() -> None:
    assert [money.round_half_even(Fraction(n, 2)) for n in (1, 3, 5, -1)] == [0, 2, 2, 0]
    assert money.issued(Fraction(1, 2), Fraction(1, 2)) == 1
    assert money.text(Fraction(2, 3)) == "0.666667" and money.text(Decimal("4.000")) == "4"


@given(
    st.sampled_from(list(Comparator)),
    st.decimals(-1000, 1000, places=2),
    st.decimals(-1000, 1000, places=2),
    st.decimals(0, 50, places=2),
)
def test_an_indicator_is_met_as_its_comparator_and_tolerance_say(
    comparator: Comparator, measured: Decimal, target: Decimal, tolerance: Decimal
) -> None:
    oracle = {
        Comparator.AT_LEAST: measured >= target - tolerance,
        Comparator.AT_MOST: measured <= target + tolerance,
        Comparator.EQUAL: abs(measured - target) <= tolerance,
        Comparator.MORE_THAN: measured > target - tolerance,
        Comparator.LESS_THAN: measured < target + tolerance,
    }[comparator]
    term = indicator(comparator, str(target), str(tolerance))
    [result], ratio = statements.evaluate([term], {"x": [measured]})
    assert result.met is oracle and ratio == (1 if oracle else 0)


def test_an_unmeasured_indicator_is_not_met_and_no_indicator_means_full_performance() -> None:
    [result], ratio = statements.evaluate([indicator(Comparator.AT_LEAST, "1")], {})
    assert result.measured is None and not result.met and ratio == 0
    none, full = statements.evaluate([], {})
    assert none == [] and full == 1
    [mean], _ = statements.evaluate(
        [indicator(Comparator.AT_LEAST, "95")], {"x": [Decimal(90), Decimal(100)]}
    )
    assert mean.measured == 95 and mean.met


@given(
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(min_value=1, max_value=400),
    st.sampled_from(list(StatementPeriod)),
)
def test_periods_cover_the_agreement_without_gap_each_within_one_calendar_period(
    start: datetime, days: int, period: StatementPeriod
) -> None:
    end = start + timedelta(days=days, hours=3)
    cut = schedule.periods(start, end, period)
    assert cut[0][0] == start and cut[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cut))
    for lo, hi in cut:
        first, last = schedule.calendar_period(lo, period)
        assert first <= lo < hi <= last


@given(
    st.integers(0, 5000),
    st.integers(-600, 5000),
    st.integers(-5000, 5000),
    st.integers(-2000, 0),
)
def test_credits_move_by_double_entry_and_never_below_the_floor(
    minutes: int, payer: int, payee: int, floor: int
) -> None:
    payer = max(payer, floor)
    moved = credits.transfer(
        payer=uuid.uuid4(), payee=uuid.uuid4(), minutes=minutes,
        payer_balance=payer, payee_balance=payee, floor=floor,
    )  # fmt: skip
    assert moved.moved + moved.shortfall == minutes
    if moved.movements is not None:
        out, into = moved.movements
        assert out.minutes + into.minutes == 0
        assert out.balance_after >= floor and into.balance_after == payee + moved.moved
    else:
        assert moved.moved == 0
