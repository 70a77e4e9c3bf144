"""Reader checkpoints: kept in PostgreSQL, upserted, never moved backwards."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from events.postgres import APP_ROLE, PostgresEventStore


async def test_an_unknown_reader_starts_at_zero(store: PostgresEventStore) -> None:
    assert await store.checkpoint("bus-relay") == 0


async def test_a_checkpoint_is_upserted_and_kept_per_name(store: PostgresEventStore) -> None:
    await store.save_checkpoint("bus-relay", 3)
    await store.save_checkpoint("bus-relay", 7)
    await store.save_checkpoint("case-list", 2)

    assert await store.checkpoint("bus-relay") == 7
    assert await store.checkpoint("case-list") == 2


async def test_a_checkpoint_never_goes_backwards(
    store: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    await store.save_checkpoint("bus-relay", 10)
    before = await owner.fetchval("SELECT updated_at FROM checkpoints WHERE name = 'bus-relay'")

    await store.save_checkpoint("bus-relay", 4)  # a stale instance, or a late save

    assert await store.checkpoint("bus-relay") == 10
    after = await owner.fetchval("SELECT updated_at FROM checkpoints WHERE name = 'bus-relay'")
    assert after >= before  # the reader reported, even though it was behind


async def test_racing_saves_leave_the_highest(store: PostgresEventStore) -> None:
    await asyncio.gather(*(store.save_checkpoint("bus-relay", p) for p in range(1, 41)))
    assert await store.checkpoint("bus-relay") == 40


async def test_bad_checkpoints_are_refused(store: PostgresEventStore) -> None:
    with pytest.raises(ValueError, match="position"):
        await store.save_checkpoint("bus-relay", -1)
    with pytest.raises(ValueError, match="name"):
        await store.save_checkpoint("", 1)


async def test_the_application_role_may_not_delete_checkpoints(
    store: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    await store.save_checkpoint("bus-relay", 5)
    await owner.execute(f"SET ROLE {APP_ROLE}")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await owner.execute("DELETE FROM checkpoints")
    await owner.execute("RESET ROLE")
    assert await store.checkpoint("bus-relay") == 5
