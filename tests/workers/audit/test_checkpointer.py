"""The checkpointer on real PostgreSQL and JetStream: when it signs, where the copies go."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import nats
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nats.js.errors import APIError

from events.postgres import PostgresEventStore
from events.signed_checkpoints import CheckpointSigner
from events.verify import verify_log
from tests.conftest import NATS_SERVICE_SEED
from tests.events.sample_events import OFFICER, concern
from tests.events.test_verify import tamper
from workers.audit.checkpointer import (
    CheckpointCopies,
    Checkpointer,
    LogDiffersFromCheckpoint,
    checkpoint_due,
)
from workers.settings import Settings

SIGNER = CheckpointSigner(Ed25519PrivateKey.generate())


@pytest.fixture
async def copies(nats_url: str) -> AsyncIterator[CheckpointCopies]:
    client = await nats.connect(nats_url, nkeys_seed_str=NATS_SERVICE_SEED)
    # A stream of the test's own: tree sizes of other tests' logs must not mix in.
    yield CheckpointCopies(client.jetstream(), stream=f"CHECKPOINTS_{uuid.uuid4().hex}")
    await client.close()


def checkpointer(
    store: PostgresEventStore, copies: CheckpointCopies, *, every_seconds: float = 60.0
) -> Checkpointer:
    return Checkpointer(store, SIGNER, copies, every_events=5, every_seconds=every_seconds)


async def append(store: PostgresEventStore, count: int) -> None:
    for _ in range(count):
        await store.append(
            f"request-{uuid.uuid4()}", [concern().to_new_event(actor=OFFICER)], expected_version=0
        )


def test_a_checkpoint_is_due_after_enough_events_or_once_the_oldest_waited() -> None:
    assert not checkpoint_due(unsigned=0, waited_seconds=999, every_events=5, every_seconds=1)
    assert not checkpoint_due(unsigned=4, waited_seconds=0.5, every_events=5, every_seconds=1)
    assert checkpoint_due(unsigned=5, waited_seconds=0, every_events=5, every_seconds=1)
    assert checkpoint_due(unsigned=1, waited_seconds=1, every_events=5, every_seconds=1)


async def test_it_signs_every_n_events_or_t_seconds_and_copies_to_a_stream_that_keeps_them(
    store: PostgresEventStore, copies: CheckpointCopies
) -> None:
    signing = checkpointer(store, copies, every_seconds=0.3)
    await signing.start()
    await append(store, 7)
    first = await signing.turn()
    assert first is not None and first.tree_size == 7
    await append(store, 2)
    assert await signing.turn() is None  # 2 new events, not yet waited long enough
    await asyncio.sleep(0.4)
    second = await signing.turn()
    assert second is not None and second.tree_size == 9
    assert await signing.turn() is None  # nothing new

    kept = await store.signed_checkpoints()
    assert kept == [first, second]
    assert await copies.all() == kept
    report = await verify_log(store, public_key=SIGNER.public_key, bus_copies=await copies.all())
    assert report.intact and report.checkpoints_checked == 2

    info = await copies._streams.stream_info(copies.stream)
    assert info.config.deny_delete and info.config.deny_purge
    with pytest.raises(APIError):
        await copies._streams.delete_msg(copies.stream, 1)
    with pytest.raises(APIError):
        await copies._streams.purge_stream(copies.stream)
    assert len(await copies.all()) == 2


async def test_a_restart_publishes_what_was_kept_but_not_copied(
    store: PostgresEventStore, copies: CheckpointCopies, nats_url: str
) -> None:
    await append(store, 6)
    signing = checkpointer(store, copies)
    await signing.start()
    assert await signing.turn() is not None
    # Kept in the database by a checkpointer that died before publishing:
    await append(store, 5)
    unpublished = checkpointer(store, copies)
    await unpublished.start()
    unpublished._copies = CheckpointCopies(copies._streams, stream="NOWHERE")  # its bus is gone
    with pytest.raises(Exception):  # noqa: B017 (whatever NATS says about a missing stream)
        await unpublished.turn()
    assert len(await store.signed_checkpoints()) == 2
    assert len(await copies.all()) == 1
    restarted = checkpointer(store, copies)
    await restarted.start()
    assert [c.tree_size for c in await copies.all()] == [6, 11]


async def test_it_refuses_to_sign_over_a_log_changed_under_its_checkpoint(
    store: PostgresEventStore, copies: CheckpointCopies, settings: Settings
) -> None:
    await append(store, 10)
    signing = checkpointer(store, copies)
    await signing.start()
    assert await signing.turn() is not None
    owner = await asyncpg.connect(settings.resolved_database_url())
    try:
        await tamper(owner, "DELETE FROM events WHERE global_position > 8")
    finally:
        await owner.close()
    await append(store, 4)
    with pytest.raises(LogDiffersFromCheckpoint, match="tree size 10"):
        await checkpointer(store, copies).start()
