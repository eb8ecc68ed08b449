"""The value ledger's rows and the CSV a French spreadsheet opens."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from contracts.agreements import AmountUnit
from contracts.taxonomy import Unit
from services.agreements.domain.value import Factor, ValueKind, computed_rows
from services.agreements.impact import csv_text, guarded


def test_formulas_are_neutralised() -> None:
    for cell in ("=1+1", "+33 6", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert guarded(cell) == "'" + cell
    assert guarded("Fourgon") == "Fourgon"


def test_the_csv_is_semicolon_separated_utf8_with_bom_and_decimal_commas() -> None:
    text = csv_text(
        [["mois", "valeur"], ["2026-12", Decimal("12.50")], ["=cmd|' /C calc'!A0", None]]
    )
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert rows == [["mois", "valeur"], ["2026-12", "12,5"], ["'=cmd|' /C calc'!A0", ""]]


def test_emissions_are_not_estimated_without_a_factor_of_the_usage_unit() -> None:
    rows = computed_rows(
        total=3000,
        amount_unit=AmountUnit.EUR_CENTS,
        quantity=Decimal(3),
        unit=Unit.HOUR,
        factor=None,
    )
    assert {r.kind: r.amount for r in rows} == {
        ValueKind.MONEY_EXCHANGED: 3000,
        ValueKind.DORMANT_HOURS_USED: 3,
        ValueKind.EMISSIONS_AVOIDED: None,
    }
    factor = Factor(Decimal("1.5"), Unit.HOUR, "Mesure locale", "Observatoire", 2026)
    rows = computed_rows(
        total=90, amount_unit=AmountUnit.TIME_CREDIT_MINUTES, quantity=Decimal(3), unit=Unit.HOUR,
        factor=factor,
    )  # fmt: skip
    assert {r.kind: r.amount for r in rows}[ValueKind.EMISSIONS_AVOIDED] == Decimal("4.5")
    assert ValueKind.TIME_CREDITS_EXCHANGED in {r.kind for r in rows}
    per_use = computed_rows(
        total=0,
        amount_unit=AmountUnit.EUR_CENTS,
        quantity=Decimal(2),
        unit=Unit.UNIT,
        factor=factor,
    )
    assert {r.kind: r.amount for r in per_use} == {
        ValueKind.MONEY_EXCHANGED: 0,
        ValueKind.EMISSIONS_AVOIDED: None,
    }
