"""Rules that assets, offers and needs share: versions, taxonomy, locations, partial changes.

Pure: no database, no HTTP, no broker.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from contracts import taxonomy
from contracts.actors import Location
from contracts.taxonomy import Unit
from services.offers.domain.actors import ActorRecord
from services.runtime.errors import InvalidInput

A = TypeVar("A", bound=BaseModel)


def next_version(aggregate: A, now: datetime, **changes: Any) -> A:
    """The next version of an aggregate; the changes are validated like a new value."""
    current = dict(aggregate)
    fields = {**current, **changes, "version": current["version"] + 1, "updated_at": now}
    return type(aggregate).model_validate(fields)


def check_category_and_unit(category: str, unit: Unit) -> None:
    """The category exists in the taxonomy and the unit is one that fits it."""
    if not taxonomy.is_known(category):
        raise InvalidInput(f"unknown category {category!r}", field="category")
    fitting = taxonomy.units_for(category)
    if unit not in fitting:
        allowed = ", ".join(str(u) for u in fitting)
        raise InvalidInput(
            f"unit {unit!s} does not fit {category!r} (use one of: {allowed})", field="unit"
        )


def location_or_default(given: Location | None, actor: ActorRecord) -> Location:
    """The location given, else the actor's own."""
    if given is not None:
        return Location(lat=given.lat, lon=given.lon, commune=given.commune)
    if actor.location is None:
        raise InvalidInput("give a location: your actor has none to default to", field="location")
    return actor.location


def must_be_future(moment: datetime, now: datetime, field: str) -> None:
    if moment <= now:
        raise InvalidInput(f"{field} must lie in the future", field=field)


def merge_changes(
    draft_type: type[BaseModel], current: dict[str, Any], changes: BaseModel
) -> tuple[Any, list[str]]:
    """The draft `current` with `changes` applied, and the names of the fields that changed.

    Fields are replaced whole; null restores a field's default where it has one and is refused
    where it has none.
    """
    given = changes.model_dump(exclude_unset=True)
    before = draft_type.model_validate(current)
    try:
        after = draft_type.model_validate({**current, **given})
    except ValidationError as invalid:
        error = invalid.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise InvalidInput(f"{field}: {error['msg']}", field=field) from None
    old, new = before.model_dump(), after.model_dump()
    return after, sorted(name for name in given if old[name] != new[name])
