"""Category taxonomy shared by the offers and matching services.

The tree is reference data: every node has a stable code, a French label, its parent and the
units in which a capacity or a quantity of that category may be expressed. A node without
units of its own inherits its parent's. Lookups are answered from dictionaries computed once
at import, so every function here is O(1) in the size of the tree (O(depth) at worst).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.fields import CleanText


class Unit(StrEnum):
    """Unit of a capacity (offer) or a requested quantity (need)."""

    SEAT = "seat"
    M2 = "m2"
    M3 = "m3"
    KG = "kg"
    HOUR = "hour"
    KM = "km"
    UNIT = "unit"
    KWH = "kwh"
    PERSON = "person"


UNIT_LABELS: Mapping[Unit, str] = MappingProxyType(
    {
        Unit.SEAT: "place assise",
        Unit.M2: "mètre carré (m²)",
        Unit.M3: "mètre cube (m³)",
        Unit.KG: "kilogramme (kg)",
        Unit.HOUR: "heure",
        Unit.KM: "kilomètre (km)",
        Unit.UNIT: "unité",
        Unit.KWH: "kilowattheure (kWh)",
        Unit.PERSON: "personne",
    }
)
"""French label of every unit, as people read it."""


class Category(BaseModel):
    """One node of the taxonomy; `units` empty means inherited from the parent."""

    model_config = ConfigDict(frozen=True)

    code: str
    label: str
    parent: str | None = None
    units: tuple[Unit, ...] = ()


class UnknownCategoryError(ValueError):
    """Raised when a category code is not in the taxonomy."""

    def __init__(self, code: str) -> None:
        super().__init__(f"unknown category: {code!r}")
        self.code = code


def _node(code: str, label: str, parent: str | None = None, *units: Unit) -> Category:
    return Category(code=code, label=label, parent=parent, units=units)


U = Unit
_TREE: tuple[Category, ...] = (
    _node("space", "Espaces", None, U.M2, U.SEAT, U.PERSON, U.HOUR),
    _node("meeting_room", "Salle de réunion", "space", U.SEAT, U.M2, U.HOUR),
    _node("kitchen", "Cuisine professionnelle", "space", U.M2, U.PERSON, U.HOUR),
    _node("workshop", "Atelier", "space", U.M2, U.HOUR),
    _node("office", "Bureau", "space", U.SEAT, U.M2, U.HOUR),
    _node("event_hall", "Salle des fêtes", "space", U.PERSON, U.SEAT, U.M2, U.HOUR),
    _node("vehicle", "Véhicules", None, U.UNIT, U.KM, U.HOUR),
    _node("van", "Fourgon utilitaire", "vehicle", U.UNIT, U.M3, U.KG, U.KM, U.HOUR),
    _node("refrigerated_van", "Fourgon frigorifique", "van"),
    _node("car", "Voiture", "vehicle", U.UNIT, U.SEAT, U.KM, U.HOUR),
    _node("cargo_bike", "Vélo cargo", "vehicle", U.UNIT, U.KG, U.M3, U.KM, U.HOUR),
    _node("minibus", "Minibus", "vehicle", U.UNIT, U.SEAT, U.KM, U.HOUR),
    _node("equipment", "Équipements", None, U.UNIT, U.HOUR),
    _node("machine_tool", "Machine-outil", "equipment"),
    _node("sound_system", "Sonorisation", "equipment"),
    _node("agricultural_machine", "Machine agricole", "equipment", U.UNIT, U.HOUR, U.M2),
    _node("storage", "Stockage", None, U.M3, U.M2, U.KG),
    _node("cold_storage", "Chambre froide", "storage", U.M3, U.KG),
    _node("warehouse", "Entrepôt", "storage", U.M2, U.M3),
    _node("land", "Terres", None, U.M2),
    _node("farmland", "Terre agricole", "land"),
    _node("garden", "Jardin partagé", "land"),
    _node("energy", "Énergie", None, U.KWH),
    _node("solar_surplus", "Surplus d'électricité solaire", "energy"),
    _node("skill_time", "Compétences et temps", None, U.HOUR),
    _node("joinery", "Menuiserie", "skill_time"),
    _node("accounting", "Comptabilité", "skill_time"),
    _node("repair", "Réparation", "skill_time"),
)
del U


def _build() -> tuple[
    Mapping[str, Category],
    Mapping[str, tuple[str, ...]],
    Mapping[str, frozenset[str]],
    Mapping[str, frozenset[str]],
    Mapping[str, tuple[Unit, ...]],
]:
    by_code: dict[str, Category] = {}
    for node in _TREE:
        if node.code in by_code:
            raise ValueError(f"duplicate category {node.code!r}")
        if node.parent is not None and node.parent not in by_code:
            raise ValueError(f"category {node.code!r} listed before its parent")
        by_code[node.code] = node
    ancestors: dict[str, tuple[str, ...]] = {}
    units: dict[str, tuple[Unit, ...]] = {}
    for node in _TREE:
        parent = node.parent
        ancestors[node.code] = () if parent is None else (parent, *ancestors[parent])
        units[node.code] = node.units or (() if parent is None else units[parent])
        if not units[node.code]:
            raise ValueError(f"category {node.code!r} has no units")
    lineage = {code: frozenset((code, *up)) for code, up in ancestors.items()}
    descendants: dict[str, set[str]] = {code: set() for code in by_code}
    for code, members in lineage.items():
        for member in members:
            descendants[member].add(code)
    return (
        MappingProxyType(by_code),
        MappingProxyType(ancestors),
        MappingProxyType(lineage),
        MappingProxyType({code: frozenset(down) for code, down in descendants.items()}),
        MappingProxyType(units),
    )


CATEGORIES, _ANCESTORS, _LINEAGE, _DESCENDANTS, _UNITS = _build()
"""`CATEGORIES` maps every code to its node, parents before children."""

ROOTS: tuple[str, ...] = tuple(node.code for node in _TREE if node.parent is None)


def is_known(code: str) -> bool:
    """Whether `code` is a category of the taxonomy."""
    return code in CATEGORIES


def _checked(code: str) -> str:
    if code not in CATEGORIES:
        raise UnknownCategoryError(code)
    return code


def ancestors(code: str) -> tuple[str, ...]:
    """Strict ancestors of `code`, nearest first (`()` for a root)."""
    return _ANCESTORS[_checked(code)]


def lineage(code: str) -> frozenset[str]:
    """`code` and all its ancestors: the need categories an offer of `code` can serve."""
    return _LINEAGE[_checked(code)]


def descendants(code: str) -> frozenset[str]:
    """`code` and every category below it."""
    return _DESCENDANTS[_checked(code)]


def is_within(code: str, ancestor: str) -> bool:
    """Whether `code` is `ancestor` or lies below it; False when either is unknown."""
    members = _LINEAGE.get(code)
    return members is not None and ancestor in members


def units_for(code: str) -> tuple[Unit, ...]:
    """Units that fit `code`, inherited from the nearest ancestor that declares some."""
    return _UNITS[_checked(code)]


def label(code: str) -> str:
    """French label of `code`."""
    return CATEGORIES[_checked(code)].label


def category_matches(offer_category: str, need_category: str) -> bool:
    """Whether an offer of `offer_category` can meet a need for `need_category`.

    An offer meets a need for its own category or any broader one: a need for a van is met by
    a refrigerated van, a need for a refrigerated van is not met by a plain van.
    """
    return is_within(offer_category, need_category)


# The taxonomy's codes, published as an enum so that a client (or a fuzzer) can pick one.
CategoryCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    CleanText(),
    Field(
        json_schema_extra={"enum": sorted(CATEGORIES)},
        description="Code in the taxonomy (GET /v1/categories).",
    ),
]
