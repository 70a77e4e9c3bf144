"""Verifying the log now, on real PostgreSQL and JetStream: what the key and the bus copy
add, and when their absence is a failure (the one behaviour of the CLI, API and console)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import nats
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.postgres import PostgresEventStore
from events.signed_checkpoints import CheckpointSigner
from tests.events.test_signed_checkpoints import sign_now
from tests.workers.audit.test_checkpointer import append
from workers.audit.checkpointer import CheckpointCopies
from workers.audit.keys import signing_key
from workers.audit.verification import BusCopy, verify_now
from workers.settings import Settings
from workers.stack.embedded import free_port


@pytest.fixture
async def copies(settings: Settings) -> AsyncIterator[CheckpointCopies]:
    """The bus copy the verification reads: the settings' own checkpoint stream."""
    client = await nats.connect(
        settings.resolved_nats_url(), nkeys_seed_str=settings.nats_service_seed()
    )
    copies = CheckpointCopies(client.jetstream(), stream=settings.checkpoint_stream)
    await copies.ensure_stream()
    yield copies
    await client.close()


def deployment_signer(settings: Settings) -> CheckpointSigner:
    """The stack's own key (made on first use, with its public key beside it)."""
    return CheckpointSigner(signing_key(settings))


async def test_checkpoints_are_checked_with_the_key_and_against_their_bus_copy(
    store: PostgresEventStore, settings: Settings, copies: CheckpointCopies
) -> None:
    await append(store, 3)
    await copies.publish(await sign_now(store, deployment_signer(settings)))
    verified = await verify_now(store, settings)
    assert verified.intact and verified.uncheckable is None
    assert verified.report.checkpoints_checked == 1
    assert verified.bus_copy == BusCopy(
        state="compared", stream=settings.checkpoint_stream, compared=1
    )
    left_out = await verify_now(store, settings, bus=False)
    assert left_out.intact and left_out.bus_copy.state == "not asked"


async def test_a_checkpoint_on_the_bus_but_not_in_the_database_is_reported(
    store: PostgresEventStore, settings: Settings, copies: CheckpointCopies
) -> None:
    signer = deployment_signer(settings)
    await append(store, 3)
    kept = await sign_now(store, signer)
    await copies.publish(kept)
    # As if a checkpoint at tree size 2 had been removed from the database.
    removed = signer.sign(
        tree_size=2, root_hash=kept.root_hash, head_hash=kept.head_hash, signed_at=datetime.now(UTC)
    )
    await copies.publish(removed)
    verified = await verify_now(store, settings)
    assert not verified.intact
    assert verified.bus_copy.compared == 2
    failure = verified.checkpoint_failure
    assert failure is not None and failure.tree_size == 2
    assert "missing from the database" in failure.reason


async def test_signed_checkpoints_without_a_public_key_are_a_failure(
    store: PostgresEventStore, settings: Settings
) -> None:
    await append(store, 3)
    # Signed with a key whose public half this deployment does not have.
    await sign_now(store, CheckpointSigner(Ed25519PrivateKey.generate()))
    await append(store, 2)
    await sign_now(store, CheckpointSigner(Ed25519PrivateKey.generate()))
    verified = await verify_now(store, settings)
    assert not verified.intact
    assert verified.trusted.key is None
    assert verified.trusted.problem is not None
    assert "no checkpoint public key" in verified.trusted.problem
    assert verified.uncheckable == verified.trusted.problem
    assert [c.tree_size for c in verified.unchecked] == [3, 5]
    failure = verified.checkpoint_failure
    assert failure is not None and failure.tree_size == 3  # the first that was not checked
    assert "cannot be checked" in failure.reason
    # The chain itself is still walked; the bus is not read without a key.
    assert verified.report.intact and verified.report.events_checked == 5
    assert verified.bus_copy.state == "no key"


async def test_before_any_checkpoint_a_missing_key_is_no_failure(
    store: PostgresEventStore, settings: Settings
) -> None:
    await append(store, 2)
    verified = await verify_now(store, settings)
    assert verified.intact and verified.uncheckable is None
    assert verified.trusted.key is None and verified.bus_copy.state == "no key"


async def test_a_bus_copy_that_is_not_checkpoints_is_a_failure(
    store: PostgresEventStore, settings: Settings, copies: CheckpointCopies
) -> None:
    await append(store, 3)
    await sign_now(store, deployment_signer(settings))
    await copies._streams.publish(copies._subject, b"not a checkpoint", stream=copies.stream)
    verified = await verify_now(store, settings)
    assert not verified.intact
    assert verified.bus_copy.state == "unreadable"
    assert "is not a checkpoint" in verified.bus_copy.problem
    # Nothing is vouched for by checkpoints whose copy could not be compared.
    assert verified.report.checkpoints_checked == 0
    failure = verified.checkpoint_failure
    assert failure is not None and failure.tree_size == 3


async def test_without_nats_or_with_nats_unreachable_the_copy_is_not_compared(
    store: PostgresEventStore, settings: Settings
) -> None:
    await append(store, 3)
    await sign_now(store, deployment_signer(settings))
    no_nats = settings.model_copy(update={"nats_url": None})
    verified = await verify_now(store, no_nats)
    assert verified.intact and verified.bus_copy.state == "no NATS"
    nobody = settings.model_copy(update={"nats_url": f"nats://127.0.0.1:{free_port()}"})
    verified = await verify_now(store, nobody)
    assert verified.intact and verified.bus_copy.state == "unreachable"
    assert verified.bus_copy.problem
