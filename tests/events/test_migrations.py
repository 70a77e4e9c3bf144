"""Schema migrations: in order, recorded, each atomic, safe to run twice at once."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from events.errors import MigrationError
from events.migrations import available_migrations
from events.postgres import migrate


async def test_two_runners_at_once_apply_each_migration_exactly_once(empty_database: str) -> None:
    first, second = await asyncio.gather(migrate(empty_database), migrate(empty_database))
    labels = [m.label for m in available_migrations()]
    assert sorted(first + second) == labels
    assert await migrate(empty_database) == []
    connection = await asyncpg.connect(empty_database)
    try:
        recorded = await connection.fetch("SELECT version FROM schema_migrations ORDER BY version")
    finally:
        await connection.close()
    assert [row["version"] for row in recorded] == [m.version for m in available_migrations()]


async def test_an_edited_migration_is_refused(empty_database: str) -> None:
    await migrate(empty_database)
    connection = await asyncpg.connect(empty_database)
    try:
        await connection.execute("UPDATE schema_migrations SET checksum = 'changed'")
    finally:
        await connection.close()
    with pytest.raises(MigrationError, match="edited"):
        await migrate(empty_database)


def test_migrations_are_numbered_in_order() -> None:
    versions = [m.version for m in available_migrations()]
    assert versions == sorted(set(versions)) and versions[0] == 1


async def test_migrating_is_refused_while_the_application_role_could_become_another(
    empty_database: str, postgres_url: str
) -> None:
    superuser = await asyncpg.connect(postgres_url)
    try:
        await superuser.execute("GRANT pg_read_all_data TO sharehub_app")
        with pytest.raises(MigrationError, match="sharehub_app is a member of another role"):
            await migrate(empty_database)
    finally:
        await superuser.execute("REVOKE pg_read_all_data FROM sharehub_app")
        await superuser.close()
    assert "0005_least_privilege" in await migrate(empty_database)
