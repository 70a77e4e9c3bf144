"""Opening the resources a process needs, from its settings."""

from __future__ import annotations

from events.postgres import PostgresEventStore
from workers.settings import Settings


async def open_event_store(settings: Settings, *, max_connections: int = 10) -> PostgresEventStore:
    return await PostgresEventStore.open(
        settings.resolved_database_url(),
        master_key=settings.master_key_bytes(),
        max_connections=max_connections,
    )
