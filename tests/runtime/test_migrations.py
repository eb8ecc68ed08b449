"""The migration runner: applies in order once, refuses an edited migration, survives a race."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from services.runtime.db import MigrationChanged, load_migrations, migrate


def write(folder: Path, name: str, sql: str) -> None:
    (folder / name).write_text(sql)


async def test_applies_each_migration_once_in_order(new_database, tmp_path: Path) -> None:
    url = await new_database("migrations")
    write(tmp_path, "001_things.sql", "CREATE TABLE things (id int PRIMARY KEY);")
    write(tmp_path, "002_more.sql", "ALTER TABLE things ADD COLUMN name text;")
    first = await migrate(url, "svc", tmp_path)
    assert first == [
        "runtime/001_outbox_inbox",
        "runtime/002_scheduler",
        "runtime/004_outbox_parking",
        "runtime/005_access",
        "runtime/006_access_roles",
        "svc/001_things",
        "svc/002_more",
    ]
    assert await migrate(url, "svc", tmp_path) == []
    conn = await asyncpg.connect(url)
    try:
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'things' ORDER BY 1"
        )
        assert [c["column_name"] for c in columns] == ["id", "name"]
    finally:
        await conn.close()


async def test_an_edited_applied_migration_is_refused(new_database, tmp_path: Path) -> None:
    url = await new_database("migrations")
    write(tmp_path, "001_things.sql", "CREATE TABLE things (id int PRIMARY KEY);")
    await migrate(url, "svc", tmp_path)
    write(tmp_path, "001_things.sql", "CREATE TABLE things (id bigint PRIMARY KEY);")
    with pytest.raises(MigrationChanged):
        await migrate(url, "svc", tmp_path)


async def test_a_failing_migration_leaves_nothing_half_done(new_database, tmp_path: Path) -> None:
    url = await new_database("migrations")
    write(tmp_path, "001_bad.sql", "CREATE TABLE half (id int); SELECT * FROM no_such_table;")
    with pytest.raises(asyncpg.UndefinedTableError):
        await migrate(url, "svc", tmp_path)
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT to_regclass('half')") is None
    finally:
        await conn.close()


async def test_replicas_starting_together_apply_once(new_database, tmp_path: Path) -> None:
    url = await new_database("migrations")
    write(tmp_path, "001_things.sql", "CREATE TABLE things (id int PRIMARY KEY);")
    results = await asyncio.gather(*(migrate(url, "svc", tmp_path) for _ in range(4)))
    applied = sorted(name for result in results for name in result)
    assert applied == [
        "runtime/001_outbox_inbox",
        "runtime/002_scheduler",
        "runtime/004_outbox_parking",
        "runtime/005_access",
        "runtime/006_access_roles",
        "svc/001_things",
    ]


def test_two_migrations_of_one_number_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "003_one.sql", "SELECT 1;")
    write(tmp_path, "003_other.sql", "SELECT 2;")
    with pytest.raises(ValueError, match="two migrations numbered 003"):
        load_migrations("svc", tmp_path)


def test_every_services_migrations_have_numbers_of_their_own() -> None:
    root = Path(__file__).resolve().parents[2] / "services"
    for folder in sorted(root.glob("*/migrations")):
        versions = [m.version for m in load_migrations(folder.parent.name, folder)]
        assert len(versions) == len(set(versions)), folder
