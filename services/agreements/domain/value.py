"""The value an agreement creates, as ledger rows: one per agreement, period and kind of value.

Computed at each statement: money exchanged (cents) or time credits exchanged (minutes), hours
of a dormant asset put to use (the confirmed quantity when it is counted in hours) and the
emissions avoided (that quantity times the category's emission factor; null, « non estimé »,
where no verifiable factor exists — never a guess). Declared by a party and confirmed by the
other: purchase cost avoided (cents), people served, jobs created or consolidated. A territorial
project's evaluation declares its jobs created and consolidated (two kinds), people served and
value created (cents) once for the project: the jobs of the agreements tagged with it are its
own, never declared by them.
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
    JOBS_CREATED = "jobs_created"  # jobs (FTE), declared by a project's evaluation
    JOBS_CONSOLIDATED = "jobs_consolidated"  # jobs (FTE), declared by a project's evaluation
    VALUE_CREATED = "value_created"  # cents of euro, declared by a project's evaluation


UNITS: dict[ValueKind, str] = {
    ValueKind.MONEY_EXCHANGED: "cents EUR",
    ValueKind.TIME_CREDITS_EXCHANGED: "minutes",
    ValueKind.DORMANT_HOURS_USED: "h",
    ValueKind.EMISSIONS_AVOIDED: "kg CO2e",
    ValueKind.PURCHASE_COST_AVOIDED: "cents EUR",
    ValueKind.PEOPLE_SERVED: "personnes",
    ValueKind.JOBS: "ETP",
    ValueKind.JOBS_CREATED: "ETP",
    ValueKind.JOBS_CONSOLIDATED: "ETP",
    ValueKind.VALUE_CREATED: "cents EUR",
}
LABELS: dict[ValueKind, str] = {
    ValueKind.MONEY_EXCHANGED: "Montants échangés",
    ValueKind.TIME_CREDITS_EXCHANGED: "Crédits temps échangés",
    ValueKind.DORMANT_HOURS_USED: "Heures d'usage d'actifs dormants",
    ValueKind.EMISSIONS_AVOIDED: "Émissions évitées",
    ValueKind.PURCHASE_COST_AVOIDED: "Achats évités",
    ValueKind.PEOPLE_SERVED: "Personnes servies",
    ValueKind.JOBS: "Emplois créés ou consolidés",
    ValueKind.JOBS_CREATED: "Emplois créés par les projets",
    ValueKind.JOBS_CONSOLIDATED: "Emplois consolidés par les projets",
    ValueKind.VALUE_CREATED: "Valeur créée par les projets",
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


def project_rows(
    *, jobs_created: float, jobs_consolidated: float, people_served: int, value_created_cents: int
) -> list[Row]:
    """The rows a project's evaluation declares: its jobs created and its jobs consolidated
    (apart, counted here once for every agreement tagged with the project), people served,
    value created."""
    return [
        Row(ValueKind.JOBS_CREATED, Decimal(str(jobs_created))),
        Row(ValueKind.JOBS_CONSOLIDATED, Decimal(str(jobs_consolidated))),
        Row(ValueKind.PEOPLE_SERVED, Decimal(people_served)),
        Row(ValueKind.VALUE_CREATED, Decimal(value_created_cents)),
    ]
