"""Rows without positional twins: a table's columns are listed once, in one order, and its
INSERT, UPDATE, upsert and argument tuples are all built from that list.

A store describes each aggregate's row as a `Table` and maps a domain value to a dict keyed by
column name; `Table.values` refuses a dict whose keys differ from the columns, so a column added
to one side only fails at the first write instead of shifting every `$n` after it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def newest(
    items: Iterable[T], key: Callable[[T], Hashable], version: Callable[[T], int]
) -> list[T]:
    """Each key's newest item, in the order of the input: of a key's items, the first of its
    highest version. Applied in one statement, they leave what a sequence of
    `upsert_if_newer_sql` writes of every item would: an older or repeated version, wherever
    it comes, changes nothing."""
    kept: dict[Hashable, tuple[int, T]] = {}
    for position, item in enumerate(items):
        held = kept.get(key(item))
        if held is None or version(held[1]) < version(item):
            kept[key(item)] = (position, item)
    return [item for _, item in sorted(kept.values(), key=lambda pair: pair[0])]


@dataclass(frozen=True)
class Table:
    """A table's name, its columns in the order every statement uses, and its key column."""

    name: str
    columns: tuple[str, ...]
    key: str = "id"

    def __post_init__(self) -> None:
        if self.key not in self.columns:
            raise ValueError(f"{self.name}: key {self.key!r} is not one of its columns")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"{self.name}: a column is listed twice")

    def select_list(self, alias: str | None = None) -> str:
        """The columns for a SELECT, each prefixed with `alias.` when given."""
        prefix = f"{alias}." if alias else ""
        return ", ".join(prefix + column for column in self.columns)

    def insert_sql(self) -> str:
        """`INSERT INTO name (columns) VALUES ($1, ...)`, to take `values(row)`."""
        placeholders = ", ".join(f"${n}" for n in range(1, len(self.columns) + 1))
        return f"INSERT INTO {self.name} ({self.select_list()}) VALUES ({placeholders})"

    def update_sql(self, columns: Sequence[str] | None = None) -> str:
        """`UPDATE name SET c = $2, ... WHERE key = $1`, to take `update_values(row, columns)`.

        Every column but the key by default, or only `columns` (a subset, in any order).
        """
        changed = self._changed(columns)
        assignments = ", ".join(f"{column} = ${n}" for n, column in enumerate(changed, start=2))
        return f"UPDATE {self.name} SET {assignments} WHERE {self.key} = $1"

    def excluded_sql(self) -> str:
        """`c = EXCLUDED.c, ...` for every column but the key: the SET of an upsert."""
        return ", ".join(f"{column} = EXCLUDED.{column}" for column in self._changed(None))

    def upsert_if_newer_sql(self, *, version: str = "version", also: str = "") -> str:
        """Insert, or replace the stored row only when its `version` is older: the write of a
        read model kept from state events, where a redelivered or overtaken event changes
        nothing. `RETURNING true` tells that the row was written; `also` adds SET clauses
        (`updated_at = now()`). Takes `values(row)`."""
        assignments = self.excluded_sql() + (f", {also}" if also else "")
        return (
            f"{self.insert_sql()} ON CONFLICT ({self.key}) DO UPDATE SET {assignments} "
            f"WHERE {self.name}.{version} < EXCLUDED.{version} RETURNING true"
        )

    def upsert_documents_sql(
        self, types: Mapping[str, str], *, document: str, version: str = "version", also: str = ""
    ) -> str:
        """`upsert_if_newer_sql` for many rows that are JSON documents, in one statement: they
        come as one JSON array (text, `$1`), each element stored whole in the `document` column
        (jsonb), the other columns read from its fields of the same names (`types` naming their
        SQL types), in the array's order. The keys must be distinct (`newest` picks them), as
        one statement cannot update a row twice. `RETURNING key` names the rows written."""
        if set(types) | {document} != set(self.columns) or document in types:
            raise ValueError(f"{self.name}: the types must name every column but the document")
        picked = ", ".join(
            "d.value" if c == document else f"(d.value->>'{c}')::{types[c]}" for c in self.columns
        )
        assignments = self.excluded_sql() + (f", {also}" if also else "")
        return (
            f"INSERT INTO {self.name} ({self.select_list()}) "
            f"SELECT {picked} FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY "
            f"AS d(value, position) ORDER BY d.position "
            f"ON CONFLICT ({self.key}) DO UPDATE SET {assignments} "
            f"WHERE {self.name}.{version} < EXCLUDED.{version} RETURNING {self.name}.{self.key}"
        )

    def values(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """The arguments of `insert_sql()`: `row`'s values in column order.

        `row` must name every column of the table, no more, no less.
        """
        if set(row) != set(self.columns):
            missing = sorted(set(self.columns) - set(row))
            extra = sorted(set(row) - set(self.columns))
            raise ValueError(f"{self.name} row: missing {missing}, unknown {extra}")
        return tuple(row[column] for column in self.columns)

    def update_values(
        self, row: Mapping[str, Any], columns: Sequence[str] | None = None
    ) -> tuple[Any, ...]:
        """The arguments of `update_sql(columns)`: the key, then the changed columns."""
        self.values(row)  # the whole row is checked even when a few columns change
        return (row[self.key], *(row[column] for column in self._changed(columns)))

    def _changed(self, columns: Sequence[str] | None) -> tuple[str, ...]:
        if columns is None:
            return tuple(column for column in self.columns if column != self.key)
        unknown = sorted(set(columns) - set(self.columns))
        if unknown or self.key in columns:
            raise ValueError(f"{self.name}: cannot update {unknown or [self.key]}")
        return tuple(columns)
