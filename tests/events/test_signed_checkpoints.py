"""Signed checkpoints: what ``audit verify`` finds with only the public key, and proofs.

Each tampering below is what a database superuser could do; each is reported
with the position (for the chain) or the tree size (for a checkpoint) where it is.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.errors import ProofUnavailable
from events.merkle import MerkleAccumulator, leaf_hash
from events.postgres import PostgresEventStore
from events.signed_checkpoints import (
    CheckpointSigner,
    SignedCheckpoint,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
)
from events.verify import VerificationReport, prove_inclusion, verify_log
from tests.events.sample_events import OFFICER, concern
from tests.events.test_verify import tamper

SIGNER = CheckpointSigner(Ed25519PrivateKey.generate())
PUBLIC_KEY = SIGNER.public_key


async def append(store: PostgresEventStore, count: int) -> list[UUID]:
    ids: list[UUID] = []
    for _ in range(count):
        [recorded] = await store.append(
            f"request-{len(ids)}-{datetime.now(UTC).timestamp()}",
            [concern().to_new_event(actor=OFFICER)],
            expected_version=0,
        )
        ids.append(recorded.event_id)
    return ids


async def sign_now(
    store: PostgresEventStore, signer: CheckpointSigner = SIGNER
) -> SignedCheckpoint:
    """What the checkpointer does at a turn: the root over the whole log, signed, kept."""
    tree = MerkleAccumulator()
    head = b""
    async for link in store.chain_links():
        tree.append(leaf_hash(link.hash))
        head = link.hash
    checkpoint = signer.sign(
        tree_size=tree.size, root_hash=tree.root(), head_hash=head, signed_at=datetime.now(UTC)
    )
    return await store.record_signed_checkpoint(checkpoint)


async def verify(store: PostgresEventStore, **kwargs: object) -> VerificationReport:
    return await verify_log(store, public_key=PUBLIC_KEY, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def checkpointed(store: PostgresEventStore) -> PostgresEventStore:
    """30 events with checkpoints at tree sizes 10, 20 and 30."""
    for _ in range(3):
        await append(store, 10)
        await sign_now(store)
    report = await verify(store)
    assert report.intact, report
    assert report.checkpoints_checked == 3
    assert report.latest_checkpoint is not None and report.latest_checkpoint.tree_size == 30
    return store


async def tamper_checkpoints(owner: asyncpg.Connection, statement: str) -> None:
    await tamper(owner, statement, table="signed_checkpoints")


async def test_an_edited_event_is_reported_at_its_position(
    checkpointed: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    await tamper(owner, "UPDATE events SET type = 'x' WHERE global_position = 15")
    report = await verify(checkpointed)
    assert report.first_break is not None and report.first_break.global_position == 15
    assert report.checkpoints_checked == 1  # the one at 10 still verified


async def test_a_deleted_event_is_reported_at_its_position(
    checkpointed: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    await tamper(owner, "DELETE FROM events WHERE global_position = 22")
    report = await verify(checkpointed)
    assert report.first_break is not None and report.first_break.global_position == 22
    assert "missing" in report.first_break.reason


async def test_a_reordered_pair_is_reported_where_the_order_breaks(
    checkpointed: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    await tamper(
        owner,
        "UPDATE events SET global_position = global_position + 1000"
        " WHERE global_position IN (7, 8);"
        " UPDATE events SET global_position = CASE global_position WHEN 1007 THEN 8 ELSE 7 END"
        " WHERE global_position > 1000",
    )
    report = await verify(checkpointed)
    assert report.first_break is not None and report.first_break.global_position == 7
    assert "link" in report.first_break.reason


async def test_a_forged_checkpoint_is_reported_at_its_tree_size(
    checkpointed: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    # The root rewritten to say something else: the signature no longer covers it.
    await tamper_checkpoints(
        owner,
        "UPDATE signed_checkpoints SET root_hash = sha256('forged') WHERE tree_size = 20",
    )
    report = await verify(checkpointed)
    assert report.first_break is None
    assert report.checkpoint_failure is not None
    assert report.checkpoint_failure.tree_size == 20
    assert "signature does not verify" in report.checkpoint_failure.reason
    assert report.checkpoints_checked == 1


async def test_a_checkpoint_signed_with_another_key_is_reported(
    checkpointed: PostgresEventStore,
) -> None:
    await append(checkpointed, 5)
    intruder = CheckpointSigner(Ed25519PrivateKey.generate())
    await sign_now(checkpointed, intruder)
    report = await verify(checkpointed)
    assert report.checkpoint_failure is not None
    assert report.checkpoint_failure.tree_size == 35
    assert "not the trusted key" in report.checkpoint_failure.reason


async def test_a_truncated_log_followed_by_new_appends_is_reported_at_the_checkpoint(
    checkpointed: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    await tamper(owner, "DELETE FROM events WHERE global_position > 24")
    await append(checkpointed, 8)  # the chain is rebuilt from the new head: it links
    report = await verify(checkpointed)
    assert report.first_break is None  # the chain alone cannot see it...
    assert report.checkpoint_failure is not None  # ...the signed root can
    assert report.checkpoint_failure.tree_size == 30
    assert "21..30" in report.checkpoint_failure.reason
    assert report.checkpoints_checked == 2


async def test_a_truncated_log_is_reported_by_the_checkpoint_beyond_its_end(
    checkpointed: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    await tamper(owner, "DELETE FROM events WHERE global_position > 26")
    report = await verify(checkpointed)
    assert report.checkpoint_failure is not None
    assert report.checkpoint_failure.tree_size == 30
    assert "27..30" in report.checkpoint_failure.reason


async def test_the_bus_copy_shows_a_removed_or_altered_checkpoint(
    checkpointed: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    copies = await checkpointed.signed_checkpoints()
    assert (await verify(checkpointed, bus_copies=copies)).intact
    await tamper_checkpoints(owner, "DELETE FROM signed_checkpoints WHERE tree_size = 20")
    report = await verify(checkpointed, bus_copies=copies)
    assert report.checkpoint_failure is not None
    assert report.checkpoint_failure.tree_size == 20
    assert "missing from the database" in report.checkpoint_failure.reason
    altered = [dataclasses.replace(copies[0], signed_at=datetime(2020, 1, 1, tzinfo=UTC))]
    report = await verify(checkpointed, bus_copies=altered)
    assert report.checkpoint_failure is not None
    assert report.checkpoint_failure.tree_size == 10
    assert "differs from its copy" in report.checkpoint_failure.reason


async def test_checkpoints_are_append_only_for_the_application(
    checkpointed: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await owner.execute("DELETE FROM signed_checkpoints WHERE tree_size = 10")
    # Recording a size again keeps the first: a second checkpointer cannot replace it.
    first = (await checkpointed.signed_checkpoints())[0]
    again = dataclasses.replace(first, signed_at=datetime.now(UTC), signature=b"\0" * 64)
    assert await checkpointed.record_signed_checkpoint(again) == first


async def test_an_inclusion_proof_verifies_against_the_latest_checkpoint(
    store: PostgresEventStore,
) -> None:
    ids = await append(store, 13)
    with pytest.raises(ProofUnavailable, match="no checkpoint is signed yet"):
        await prove_inclusion(store, ids[4])
    await sign_now(store)
    later = await append(store, 2)
    for index in (0, 4, 12):
        proof = await prove_inclusion(store, ids[index])
        assert proof.global_position == index + 1
        assert proof.checkpoint.tree_size == 13
        assert proof.checkpoint.signature_problem(PUBLIC_KEY) is None
        assert proof.verifies()
        assert not dataclasses.replace(
            proof, global_position=proof.global_position % 13 + 1
        ).verifies()
    with pytest.raises(ProofUnavailable, match=r"covers positions 1\.\.13"):
        await prove_inclusion(store, later[0])
    with pytest.raises(ProofUnavailable, match="no event"):
        await prove_inclusion(store, UUID(int=7))


def test_keys_round_trip_through_pem_and_a_statement_is_bound_to_every_field() -> None:
    private = Ed25519PrivateKey.generate()
    assert load_private_key(private_key_pem(private)).public_key() == private.public_key()
    assert load_public_key(public_key_pem(private.public_key())) == private.public_key()
    signer = CheckpointSigner(private)
    signed = signer.sign(
        tree_size=3, root_hash=b"r" * 32, head_hash=b"h" * 32, signed_at=datetime.now(UTC)
    )
    assert signed.signature_problem(private.public_key()) is None
    for change in (
        {"tree_size": 4},
        {"root_hash": b"R" * 32},
        {"head_hash": b"H" * 32},
        {"signed_at": datetime(2020, 1, 1, tzinfo=UTC)},
    ):
        altered = dataclasses.replace(signed, **change)
        assert altered.signature_problem(private.public_key()) is not None
    assert SignedCheckpoint.from_json(signed.as_json()) == signed
