"""The value an agreement creates, as ledger rows: one per agreement, period and kind of value.

Computed at each statement: money exchanged (cents) or time credits exchanged (minutes), hours
of a dormant asset put to use (the confirmed quantity when it is counted in hours) and the
emissions avoided (that quantity times the category's emission factor; null, « non estimé »,
where no verifiable factor exists — never a guess). Declared by a party and confirmed by the
other: purchase cost avoided (cents), people served, jobs created or consolidated.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from contracts.agreements import AmountUnit
from contracts.taxonomy import Unit

NOT_ESTIMATED = "non estimé"


class ValueKind(StrEnum):
    MONEY_EXCHANGED = "money_exchanged"  # cents of euro
    TIME_CREDITS_EXCHANGED = "time_credits_exchanged"  # minutes
    DORMANT_HOURS_USED = "dormant_hours_used"  # hours
    EMISSIONS_AVOIDED = "emissions_avoided"  # kg CO2e
    PURCHASE_COST_AVOIDED = "purchase_cost_avoided"  # cents of euro, declared
    PEOPLE_SERVED = "people_served"  # people, declared
    JOBS = "jobs_created_or_consolidated"  # jobs (full-time equivalents), declared


UNITS: dict[ValueKind, str] = {
    ValueKind.MONEY_EXCHANGED: "cents EUR",
    ValueKind.TIME_CREDITS_EXCHANGED: "minutes",
    ValueKind.DORMANT_HOURS_USED: "h",
    ValueKind.EMISSIONS_AVOIDED: "kg CO2e",
    ValueKind.PURCHASE_COST_AVOIDED: "cents EUR",
    ValueKind.PEOPLE_SERVED: "personnes",
    ValueKind.JOBS: "ETP",
}
LABELS: dict[ValueKind, str] = {
    ValueKind.MONEY_EXCHANGED: "Montants échangés",
    ValueKind.TIME_CREDITS_EXCHANGED: "Crédits temps échangés",
    ValueKind.DORMANT_HOURS_USED: "Heures d'usage d'actifs dormants",
    ValueKind.EMISSIONS_AVOIDED: "Émissions évitées",
    ValueKind.PURCHASE_COST_AVOIDED: "Achats évités",
    ValueKind.PEOPLE_SERVED: "Personnes servies",
    ValueKind.JOBS: "Emplois créés ou consolidés",
}
DECLARED = frozenset({ValueKind.PURCHASE_COST_AVOIDED, ValueKind.PEOPLE_SERVED, ValueKind.JOBS})


@dataclass(frozen=True)
class Factor:
    """kg CO2e avoided per unit of use of a category, with the source one can check."""

    value: Decimal
    unit: Unit
    title: str
    publisher: str
    year: int


@dataclass(frozen=True)
class Row:
    kind: ValueKind
    amount: Decimal | None  # None: not estimated


def computed_rows(
    *, total: int, amount_unit: AmountUnit, quantity: Decimal, unit: Unit, factor: Factor | None
) -> list[Row]:
    """The rows a statement makes."""
    exchanged = (
        ValueKind.MONEY_EXCHANGED
        if amount_unit is AmountUnit.EUR_CENTS
        else ValueKind.TIME_CREDITS_EXCHANGED
    )
    rows = [Row(exchanged, Decimal(total))]
    if unit is Unit.HOUR:
        rows.append(Row(ValueKind.DORMANT_HOURS_USED, quantity))
    emissions = quantity * factor.value if factor is not None and factor.unit is unit else None
    rows.append(Row(ValueKind.EMISSIONS_AVOIDED, emissions))
    return rows
