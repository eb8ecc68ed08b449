"""Statements built from one column list: every `$n` takes the value of the column it names."""

from __future__ import annotations

import json
import re

import pytest

from services.runtime.rows import Table, newest

PARCELS = Table("parcels", ("id", "owner", "area", "version", "updated_at"))
ROW = {"id": 7, "owner": "ada", "area": 1.5, "version": 3, "updated_at": "noon"}


def _bound(sql: str, args: tuple[object, ...]) -> dict[str, object]:
    """Column → the argument its placeholder takes, read back from the statement."""
    pairs: list[tuple[str, str]]
    if sql.startswith("INSERT"):
        columns, placeholders = re.findall(r"\(([^)]*)\)", sql)
        pairs = list(zip(columns.split(", "), placeholders.split(", "), strict=True))
    else:
        pairs = re.findall(r"(\w+) = (\$\d+)", sql)
    return {column: args[int(placeholder[1:]) - 1] for column, placeholder in pairs}


def test_insert_binds_each_column_to_its_own_value() -> None:
    sql = PARCELS.insert_sql()
    assert sql == (
        "INSERT INTO parcels (id, owner, area, version, updated_at) VALUES ($1, $2, $3, $4, $5)"
    )
    assert _bound(sql, PARCELS.values(ROW)) == ROW


def test_update_binds_the_key_and_every_other_column() -> None:
    sql = PARCELS.update_sql()
    assert sql.endswith("WHERE id = $1")
    assert _bound(sql, PARCELS.update_values(ROW)) == ROW


def test_update_of_some_columns_binds_only_those() -> None:
    some = ("version", "area")
    sql = PARCELS.update_sql(some)
    assert sql == "UPDATE parcels SET version = $2, area = $3 WHERE id = $1"
    assert _bound(sql, PARCELS.update_values(ROW, some)) == {"id": 7, "version": 3, "area": 1.5}


def test_upsert_set_names_every_column_but_the_key() -> None:
    assert PARCELS.excluded_sql() == (
        "owner = EXCLUDED.owner, area = EXCLUDED.area, version = EXCLUDED.version, "
        "updated_at = EXCLUDED.updated_at"
    )


@pytest.mark.parametrize(
    "row",
    [
        {k: v for k, v in ROW.items() if k != "area"},  # a column the row forgot
        {**ROW, "colour": "red"},  # a field the table does not have
    ],
)
def test_a_row_that_differs_from_the_columns_is_refused(row: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="parcels row"):
        PARCELS.values(row)
    with pytest.raises(ValueError, match="parcels row"):
        PARCELS.update_values(row)


def test_the_key_cannot_be_updated_nor_missing() -> None:
    with pytest.raises(ValueError):
        PARCELS.update_sql(("id", "area"))
    with pytest.raises(ValueError):
        Table("parcels", ("owner", "area"))


async def test_upsert_if_newer_keeps_the_newest_version(outbox_pool) -> None:
    await outbox_pool.execute(
        "CREATE TABLE parcels (id int PRIMARY KEY, owner text, area float, version int,"
        " updated_at text)"
    )
    sql = PARCELS.upsert_if_newer_sql()

    async def write(version: int, owner: str) -> bool:
        row = {**ROW, "version": version, "owner": owner}
        return bool(await outbox_pool.fetchval(sql, *PARCELS.values(row)))

    assert await write(2, "first")  # inserted
    assert await write(3, "newer")  # replaced an older version
    assert not await write(3, "same version again")  # a redelivery changes nothing
    assert not await write(1, "overtaken")  # an older version changes nothing
    stored = await outbox_pool.fetchrow("SELECT owner, version FROM parcels WHERE id = 7")
    assert (stored["owner"], stored["version"]) == ("newer", 3)


def test_newest_keeps_each_keys_first_highest_version_in_input_order() -> None:
    items = [("a", 1, "a1"), ("b", 2, "b2"), ("a", 3, "a3"), ("b", 1, "b1 overtaken"),
             ("a", 3, "a3 again"), ("c", 1, "c1")]  # fmt: skip
    kept = newest(items, key=lambda i: i[0], version=lambda i: i[1])
    assert [i[2] for i in kept] == ["b2", "a3", "c1"]


async def test_upsert_documents_writes_a_set_as_the_upserts_one_by_one_would(outbox_pool) -> None:
    """The rows come as one JSON array: each document stored whole, the other columns read
    from its fields."""
    await outbox_pool.execute(
        "CREATE TABLE sheets (id int PRIMARY KEY, owner text, version int, doc jsonb)"
    )
    sheets = Table("sheets", ("id", "owner", "version", "doc"))
    sql = sheets.upsert_documents_sql(
        {"id": "integer", "owner": "text", "version": "integer"}, document="doc"
    )

    async def write(*rows: tuple[int, int, str]) -> set[int]:
        docs = [{"id": i, "version": v, "owner": o, "note": f"{o}!"} for i, v, o in rows]
        return {r["id"] for r in await outbox_pool.fetch(sql, json.dumps(docs))}

    assert await write((1, 2, "first"), (2, 1, "two")) == {1, 2}  # inserted
    # A newer version replaces, the same or an older one changes nothing.
    assert await write((1, 3, "newer"), (2, 1, "same again"), (3, 1, "three")) == {1, 3}
    assert await write((1, 2, "overtaken")) == set()
    stored = await outbox_pool.fetch("SELECT id, owner, version, doc FROM sheets ORDER BY id")
    assert [(r["id"], r["owner"], r["version"], r["doc"]["note"]) for r in stored] == [
        (1, "newer", 3, "newer!"),
        (2, "two", 1, "two!"),
        (3, "three", 1, "three!"),
    ]


def test_upsert_documents_needs_every_column_typed_but_the_document() -> None:
    sheets = Table("sheets", ("id", "owner", "version", "doc"))
    with pytest.raises(ValueError):
        sheets.upsert_documents_sql({"id": "integer", "version": "integer"}, document="doc")
    with pytest.raises(ValueError):
        sheets.upsert_documents_sql(
            {"id": "integer", "owner": "text", "version": "integer", "doc": "jsonb"},
            document="doc",
        )
