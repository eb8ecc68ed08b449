"""Pledged contributions: what each kind is counted in."""

from __future__ import annotations

from contracts.projects import ContributionKind
from services.runtime.errors import InvalidInput

UNITS: dict[ContributionKind, str] = {
    ContributionKind.TIME: "h",
    ContributionKind.SKILL: "h",
    ContributionKind.MONEY: "cents EUR",
}


def unit_of(kind: ContributionKind, amount: float, unit: str | None) -> str:
    """The unit a pledge is counted in: hours for time and skills, cents for money, the
    pledger's own for an asset's use (which it must name)."""
    if kind is ContributionKind.MONEY and amount != int(amount):
        raise InvalidInput("un don se compte en centimes entiers", field="amount")
    if kind is ContributionKind.ASSET:
        if not unit:
            raise InvalidInput("l'usage d'un bien se compte dans une unité à nommer", field="unit")
        return unit
    return UNITS[kind]
