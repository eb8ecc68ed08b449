"""Cursor pagination for every listing: one page model, one opaque keyset cursor.

Listings are ordered newest first by a `(time, id)` pair (creation, or proposal for matches); the
cursor is that pair of the last item of a page, base64-encoded, and the next page starts strictly
after it. Stores fetch `limit + 1`
rows so that `page_of` knows whether another page follows without a count.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Generic, TypeVar
from uuid import UUID

from fastapi import Query
from pydantic import BaseModel, Field

from services.runtime.errors import InvalidInput

T = TypeVar("T")
R = TypeVar("R")

Cursor = tuple[datetime, UUID]
"""The keyset position of an item: its time and id."""

Limit = Annotated[int, Query(ge=1, le=100, description="Items per page (at most 100).")]
CursorParam = Annotated[
    str | None, Query(description="`next_cursor` of the previous page; omit for the first page.")
]


class Page(BaseModel, Generic[T]):
    """A page of a listing."""

    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null at the end."
    )


def keyset(after: Cursor | None) -> tuple[datetime | None, UUID | None]:
    """The two query arguments of a keyset page, `(created_at, id) < ($n, $n+1)`; both null for
    the first page (the SQL reads `$n::timestamptz IS NULL OR ...`)."""
    return after if after is not None else (None, None)


def encode_cursor(position: Cursor) -> str:
    created_at, item_id = position
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{item_id}".encode()).decode()


def decode_cursor(cursor: str | None) -> Cursor | None:
    """The position a cursor stands for; InvalidInput naming `cursor` for anything else."""
    if cursor is None:
        return None
    try:
        created, _, item_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(created), UUID(item_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("not a cursor returned by this API", field="cursor") from None


def page_of(
    rows: Sequence[R], limit: int, *, position: Callable[[R], Cursor], view: Callable[[R], T]
) -> Page[T]:
    """The page of `rows` (fetched as `limit + 1`): the first `limit` shown through `view`, and a
    cursor after the last of them when more rows follow."""
    shown = rows[:limit]
    more = len(rows) > limit
    return Page[T](
        items=[view(row) for row in shown],
        next_cursor=encode_cursor(position(shown[-1])) if more and shown else None,
    )
