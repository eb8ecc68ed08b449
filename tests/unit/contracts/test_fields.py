"""The shared field types: clean bounded text, finite numbers, one rule for date-times."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from contracts.fields import TEXT_PATTERN, Commune, Finite, Moment, WallClock


class Sample(BaseModel):
    commune: Commune = ""
    number: Finite = 0.0
    moment: Moment | None = None
    local: WallClock | None = None


CONTROL = st.sampled_from([chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, 0x85]])


@given(st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs")), max_size=100))
def test_clean_text_within_its_length_is_kept(text: str) -> None:
    assert Sample(commune=text).commune == text.strip()
    assert re.fullmatch(TEXT_PATTERN, text)  # what the schema publishes agrees


@given(st.text(max_size=20), CONTROL, st.text(max_size=20))
def test_a_control_character_anywhere_is_refused(before: str, control: str, after: str) -> None:
    with pytest.raises(ValidationError) as error:
        Sample(commune=f"a{before}{control}{after}z")
    assert error.value.errors()[0]["loc"] == ("commune",)


@pytest.mark.parametrize("text", ["\ud800", "x" * 101, "Die\x00"])
def test_invalid_text_is_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        Sample(commune=text)


def test_newline_and_tab_are_text() -> None:
    assert Sample(commune="Saint-\tJean\nen-Royans").commune == "Saint-\tJean\nen-Royans"


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_numbers_are_finite(number: float) -> None:
    with pytest.raises(ValidationError):
        Sample(number=number)


@pytest.mark.parametrize(
    "moment",
    [
        "9999-12-31T00:00:00+00:00",
        "2099-12-31T23:00:00-05:00",
        "1999-12-31T23:59:59Z",
        "2030-01-01T00:00:00",
    ],
)
def test_a_moment_has_an_offset_and_lies_within_2000_and_2100(moment: str) -> None:
    with pytest.raises(ValidationError):
        Sample.model_validate({"moment": moment})


def test_a_moment_keeps_its_instant() -> None:
    given_moment = Sample.model_validate({"moment": "2030-06-01T10:00:00+02:00"}).moment
    assert given_moment == datetime(2030, 6, 1, 8, tzinfo=UTC)


def test_wall_clock_is_the_territory_local_time() -> None:
    local = Sample.model_validate({"local": "2030-06-01T08:00:00Z"}).local
    assert local == datetime(2030, 6, 1, 10)  # Europe/Paris in summer, without offset


def test_a_stored_wall_clock_time_validates_as_itself() -> None:
    # A change is merged by validating the stored draft again: its naive values stay as they are.
    stored = datetime(2026, 12, 24, 0, 0)
    assert Sample(local=stored).local == stored
