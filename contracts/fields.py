"""Field types every request and event model shares, so that no input reaches a store unchecked.

Guarantees, enforced by validation (pure pydantic, no framework):

- text (`CleanText`, and the aliases `Name`, `Title`...): valid Unicode (no lone surrogate,
  which UTF-8 cannot encode), no control character but newline and tab (PostgreSQL refuses NUL
  in text and jsonb), a maximum length.
- `Finite`: a float that is neither NaN nor infinite (jsonb and JSON itself have no such value).
- `Moment`: the one rule for date-times. An RFC 3339 date-time WITH its UTC offset (what the
  published `format: date-time` says) between 2000-01-01 and 2100-01-01 UTC, so that adding a
  validity or converting to UTC never overflows. Dated windows, kept in the territory's
  wall-clock time, take the same input and store its local time (`WallClock`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

# C0 controls but tab (\x09) and newline (\x0a), DEL and the C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# The same, as a JSON Schema pattern: clients and fuzzers generate text that passes.
TEXT_PATTERN = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$"

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
# Where every territory lives today; a territory's own zone would come with its settings.
TERRITORY_ZONE = ZoneInfo("Europe/Paris")


def check_text(value: str) -> str:
    """`value` if it is valid Unicode without control characters (newline and tab allowed)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(f"invalid Unicode at character {error.start}") from None
    found = _CONTROL.search(value)
    if found is not None:
        raise ValueError(
            f"control character U+{ord(found.group()):04X} at character {found.start()}"
        )
    return value


class CleanText:
    """Annotation that makes a `str` field check `check_text` and publish `TEXT_PATTERN`:
    `Annotated[str, StringConstraints(max_length=200), CleanText()]`."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(check_text, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        published = handler(schema)
        # Only in the schema: validation names the character and where it is.
        published.setdefault("pattern", TEXT_PATTERN)
        return published


def _text(max_length: int, min_length: int = 0) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


# The lengths the services use; a service may write its own Annotated[str, ..., CleanText()].
Name = Annotated[str, _text(200, 1), CleanText()]
Title = Annotated[str, _text(200, 1), CleanText()]
Description = Annotated[str, _text(5000), CleanText()]
Reason = Annotated[str, _text(1000), CleanText()]
Explanation = Annotated[str, _text(1000, 1), CleanText()]  # a reason that must be given
Label = Annotated[str, _text(100, 1), CleanText()]
Commune = Annotated[str, _text(100), CleanText()]
Code = Annotated[str, _text(100, 1), CleanText()]
Symbol = Annotated[str, _text(20, 1), CleanText()]

Finite = Annotated[float, Field(allow_inf_nan=False)]


def ends_after(end: str, start: str, message: str) -> Any:
    """A validator of the field `end`: it must come after the field `start`, declared before
    it (when `start` itself is invalid, its own error is the one reported). Assigned in the
    model's body: `_ordered = ends_after("end", "start", "...")`."""

    def check(cls: type, value: Any, info: ValidationInfo) -> Any:
        first = info.data.get(start)
        if first is not None and value <= first:
            raise ValueError(message)
        return value

    return field_validator(end)(classmethod(check))


def check_moment(value: datetime) -> datetime:
    """`value` if it lies within [2000-01-01, 2100-01-01) UTC."""
    if not EARLIEST <= value < LATEST:
        raise ValueError("date-time must lie between 2000-01-01 and 2100-01-01 UTC")
    return value


Moment = Annotated[
    AwareDatetime,
    AfterValidator(check_moment),
    Field(description="RFC 3339 date-time with its offset, between 2000 and 2100."),
]


def wall_clock(value: datetime) -> datetime:
    """The territory's local time of an aware moment, without offset (a naive datetime)."""
    return check_moment(value).astimezone(TERRITORY_ZONE).replace(tzinfo=None)


def _stored_wall_clock(value: object) -> object:
    """A naive `datetime` object is a wall-clock time already kept (a stored value validated
    again when a change is merged), not input: it stands for itself. Input arrives as text,
    which must carry its offset."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=TERRITORY_ZONE)
    return value


WallClock = Annotated[
    AwareDatetime,
    BeforeValidator(_stored_wall_clock),
    AfterValidator(wall_clock),
    Field(
        description="RFC 3339 date-time with its offset, between 2000 and 2100; kept as the "
        "territory's wall-clock time (Europe/Paris)."
    ),
]


# An e-mail address as people type it: one @, a dot in the domain, no spaces.
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    CleanText(),
]
