"""The category taxonomy shared by offers and matching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.taxonomy import (
    CATEGORIES,
    ROOTS,
    UNIT_LABELS,
    Unit,
    UnknownCategoryError,
    ancestors,
    category_matches,
    descendants,
    is_known,
    is_within,
    label,
    lineage,
    units_for,
)

codes = st.sampled_from(sorted(CATEGORIES))


def test_the_tree_has_the_expected_shape() -> None:
    assert ancestors("refrigerated_van") == ("van", "vehicle")
    assert ancestors("vehicle") == ()
    assert descendants("van") == {"van", "refrigerated_van"}
    assert descendants("vehicle") == {
        "vehicle",
        "van",
        "refrigerated_van",
        "car",
        "cargo_bike",
        "minibus",
    }
    assert set(ROOTS) == {
        "space",
        "vehicle",
        "equipment",
        "storage",
        "land",
        "energy",
        "skill_time",
    }
    assert label("refrigerated_van") == "Fourgon frigorifique"


def test_a_van_need_is_met_by_a_refrigerated_van_but_not_the_reverse() -> None:
    assert category_matches("refrigerated_van", "van")
    assert category_matches("refrigerated_van", "vehicle")
    assert category_matches("van", "van")
    assert not category_matches("van", "refrigerated_van")
    assert not category_matches("car", "van")
    assert not category_matches("kitchen", "vehicle")


def test_units_are_inherited_when_a_node_declares_none() -> None:
    assert units_for("refrigerated_van") == units_for("van")
    assert Unit.M3 in units_for("van")
    assert units_for("solar_surplus") == (Unit.KWH,)
    assert units_for("joinery") == (Unit.HOUR,)
    assert units_for("meeting_room") != units_for("space")


def test_unknown_codes_are_rejected_or_never_match() -> None:
    assert not is_known("spaceship")
    assert not category_matches("spaceship", "vehicle")
    assert not category_matches("van", "spaceship")
    assert not is_within("spaceship", "spaceship")
    for lookup in (ancestors, descendants, units_for, lineage, label):
        with pytest.raises(UnknownCategoryError):
            lookup("spaceship")


def test_the_taxonomy_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        CATEGORIES["spaceship"] = CATEGORIES["van"]  # type: ignore[index]
    with pytest.raises(ValueError):
        CATEGORIES["van"].label = "Camion"  # type: ignore[misc]


def test_every_node_has_a_french_label_and_units() -> None:
    for code, node in CATEGORIES.items():
        assert node.code == code and node.label
        assert units_for(code)
        assert node.parent is None or is_known(node.parent)


@given(codes, codes)
def test_is_within_agrees_with_ancestors_and_descendants(code: str, other: str) -> None:
    within = is_within(code, other)
    assert within == (code == other or other in ancestors(code))
    assert within == (code in descendants(other))
    assert within == category_matches(code, other)
    assert lineage(code) == {code, *ancestors(code)}


@given(codes)
def test_ancestry_ends_at_a_root_without_cycles(code: str) -> None:
    chain = ancestors(code)
    assert len(set(chain)) == len(chain)
    assert code not in chain
    assert (chain[-1] if chain else code) in ROOTS


def test_every_unit_has_a_french_label() -> None:
    assert set(UNIT_LABELS) == set(Unit)
    assert UNIT_LABELS[Unit.SEAT] == "place assise"
