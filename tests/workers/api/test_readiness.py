"""``/readyz`` against the real servers: it asks the store's pool, opening no connection."""

from __future__ import annotations

from urllib.parse import urlsplit

import asyncpg

from tests.workers.api.conftest import Api
from workers.settings import Settings


async def test_readyz_asks_the_pool_and_opens_no_connection(
    api: Api, settings: Settings, postgres_url: str
) -> None:
    database = urlsplit(settings.resolved_database_url()).path.lstrip("/")
    superuser = await asyncpg.connect(postgres_url)
    try:
        first = await api.http.get("/readyz")
        assert first.status_code == 200, first.text
        before = await sessions_opened(superuser, database)

        answers = [(await api.http.get("/readyz")).json() for _ in range(5)]

        assert {a["components"]["postgres"] for a in answers} == {"up"}
        assert await sessions_opened(superuser, database) == before
    finally:
        await superuser.close()


async def sessions_opened(superuser: asyncpg.Connection, database: str) -> int:
    """Every session ever opened in ``database``; a backend counts its own when it ends."""
    await superuser.execute("SELECT pg_sleep(0.5), pg_stat_clear_snapshot()")
    return int(
        await superuser.fetchval(
            "SELECT sessions FROM pg_stat_database WHERE datname = $1", database
        )
    )
