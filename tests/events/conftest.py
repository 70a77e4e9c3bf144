"""Fixtures for the event store: a migrated database per test, on real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from events.postgres import PostgresEventStore, migrate
from tests.conftest import with_database

MASTER_KEY = bytes(range(32))


@pytest.fixture(scope="session")
async def template_database(postgres_url: str) -> str:
    """A database migrated once, copied for each test (CREATE DATABASE … TEMPLATE)."""
    name = f"sharehub_template_{os.getpid()}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await migrate(with_database(postgres_url, name))
    return name


@pytest.fixture
async def database_url(postgres_url: str, template_database: str) -> AsyncIterator[str]:
    name = f"sharehub_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    finally:
        await admin.close()
    yield with_database(postgres_url, name)
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresEventStore]:
    store = await PostgresEventStore.open(database_url, master_key=MASTER_KEY)
    yield store
    await store.close()


@pytest.fixture
async def owner(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the database owner (a superuser here), for tampering tests."""
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()
