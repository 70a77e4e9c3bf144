"""Real PostgreSQL, Temporal and NATS for the whole test session.

Each server starts the first time a test asks for it, on a free port and in a temporary
folder, and stops when the session ends. They are the launchers ``sharehub up`` uses.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from workers.bus.identities import new_seed, public_key_of
from workers.bus.server_config import render_authorization
from workers.stack.embedded import EmbeddedNats, EmbeddedPostgres, EmbeddedTemporal, free_port


@pytest.fixture(scope="session")
async def embedded_postgres() -> AsyncIterator[EmbeddedPostgres]:
    """The PostgreSQL of this session, with its three logins (superuser, owner, application)."""
    # Outside pytest's own temporary folder: as root, PostgreSQL runs as another
    # user that must traverse the path, and every pytest start makes
    # /tmp/pytest-of-root private again, under a server another session runs.
    scratch = Path(tempfile.mkdtemp(prefix="sharehub-test-postgres-"))
    try:
        # Not durable: the data dies with the session anyway, and fsync slows every commit.
        async with EmbeddedPostgres(scratch / "data", free_port(), durable=False) as postgres:
            yield postgres
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(embedded_postgres: EmbeddedPostgres) -> str:
    """The superuser's URL (through the Unix socket) of database ``sharehub``: for setting up.

    Tests that open the store with it still act as ``sharehub_app`` (the store sets that
    role); what the application login itself may do is tested in
    tests/workers/stack/test_database_logins.py.
    """
    return embedded_postgres.url


@pytest.fixture(scope="session")
async def temporal_address(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """``host:port`` of a headless Temporal dev server of this session (in memory)."""
    log_file = tmp_path_factory.mktemp("temporal") / "temporal.log"
    server = EmbeddedTemporal(None, free_port(), free_port(), headless=True, log_file=log_file)
    async with server:
        yield server.address


# sharehub's service identity on the session's NATS, which lets no one else in unless a
# test issues credentials and reloads it (NATS_SERVICE_SEED connects as sharehub).
NATS_SERVICE_SEED = new_seed()
NATS_SERVICE_ONLY = render_authorization(
    {"users": [{"nkey": public_key_of(NATS_SERVICE_SEED)}]}, policy=None
)


@pytest.fixture(scope="session")
async def nats_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedNats]:
    """A NATS server with JetStream of this session, configured as ``sharehub up`` does."""
    store_dir = tmp_path_factory.mktemp("nats")
    server = EmbeddedNats(
        store_dir / "store",
        free_port(),
        authorization=NATS_SERVICE_ONLY,
        service_seed=NATS_SERVICE_SEED,
    )
    async with server:
        yield server


@pytest.fixture(scope="session")
def nats_url(nats_server: EmbeddedNats) -> str:
    """The URL of the session's NATS server (connect with ``NATS_SERVICE_SEED``)."""
    return nats_server.url


def with_database(url: str, database: str) -> str:
    """The same server URL, naming another database."""
    return urlunsplit(urlsplit(url)._replace(path="/" + database))


@pytest.fixture
async def empty_database(postgres_url: str) -> AsyncIterator[str]:
    """A new, empty database of its own for one test (no schema yet)."""
    name = f"sharehub_empty_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield with_database(postgres_url, name)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()
