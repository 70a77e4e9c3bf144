"""Verification of the hash chain: has the recorded log been altered?

The verifier walks the log in global order and, for each stored row, checks that

1. its position follows the previous one (no event removed or moved),
2. it links to the previous event's hash (no event inserted, removed or reordered),
3. its hash is SHA-256 of that link and its stored canonical bytes (bytes unchanged),
4. its structured columns say what the hashed bytes say (no column edited).

It reports the first failure and names its global position. It hashes the bytes
that were hashed at append time rather than re-serialising events, so the walk
runs at close to the speed of SHA-256; check 4 needs the stored JSON parsed, so
the database does it in a parallel scan while the walk runs.

Given the checkpoint public key, it also checks every signed checkpoint (see
:mod:`events.signed_checkpoints`) as the walk reaches its tree size:

5. its signature verifies with the public key alone (not forged, not altered),
6. the log's first ``tree_size`` events have its Merkle root and head hash (the
   log under a signed checkpoint was not changed, even if the chain after it
   was rebuilt: a truncated log followed by new appends shows here),
7. an RFC 9162 consistency proof links it to the checkpoint before it (the log
   only grew between them),
8. with the copies from the bus, each copy equals the database's checkpoint of
   its size, and none is missing from the database.

The first failure, chain or checkpoint, is reported: a position for the chain,
a tree size for a checkpoint.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from events.canonical import GENESIS_HASH
from events.errors import ProofUnavailable
from events.merkle import (
    MerkleTree,
    inclusion_proof,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from events.signed_checkpoints import SignedCheckpoint
from events.store import EventStore

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True, kw_only=True)
class ChainBreak:
    global_position: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class CheckpointFailure:
    tree_size: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class VerificationReport:
    events_checked: int
    head_hash: bytes
    first_break: ChainBreak | None
    checkpoints_checked: int = 0
    checkpoint_failure: CheckpointFailure | None = None
    latest_checkpoint: SignedCheckpoint | None = None

    @property
    def intact(self) -> bool:
        return self.first_break is None and self.checkpoint_failure is None


async def verify_chain(
    store: EventStore, *, on_progress: ProgressCallback | None = None, progress_every: int = 10_000
) -> VerificationReport:
    """Checks 1-4 only: the chain, without checkpoints."""
    return await verify_log(store, on_progress=on_progress, progress_every=progress_every)


async def verify_log(
    store: EventStore,
    *,
    public_key: Ed25519PublicKey | None = None,
    bus_copies: Sequence[SignedCheckpoint] | None = None,
    on_progress: ProgressCallback | None = None,
    progress_every: int = 10_000,
) -> VerificationReport:
    """Checks 1-4, and with ``public_key`` 5-7, and with ``bus_copies`` 8."""
    checks = _Checkpoints(
        [] if public_key is None else await store.signed_checkpoints(),
        bus_copies or [],
        public_key,
    )
    walk, unlike_position = await asyncio.gather(
        _walk_chain(store, checks, on_progress=on_progress, progress_every=progress_every),
        store.first_row_unlike_its_canonical(),
    )
    if unlike_position is not None and (
        walk.first_break is None or unlike_position < walk.first_break.global_position
    ):
        failure = walk.checkpoint_failure
        brk = ChainBreak(
            global_position=unlike_position,
            reason="its columns differ from the content its hash covers (a column was edited)",
        )
        return VerificationReport(
            events_checked=unlike_position - 1,
            head_hash=walk.head_hash,
            first_break=brk,
            checkpoints_checked=checks.passed_before(unlike_position),
            checkpoint_failure=failure
            if failure is not None and failure.tree_size < unlike_position
            else None,
            latest_checkpoint=walk.latest_checkpoint,
        )
    return walk


class _Checkpoints:
    """The signed checkpoints to check as the walk reaches each one's tree size."""

    def __init__(
        self,
        kept: Sequence[SignedCheckpoint],
        copies: Sequence[SignedCheckpoint],
        public_key: Ed25519PublicKey | None,
    ) -> None:
        self._public_key = public_key
        by_size = {c.tree_size: c for c in kept}
        self._copy_problem: dict[int, str] = {}
        for copy in copies:
            mine = by_size.get(copy.tree_size)
            if mine is None:
                by_size[copy.tree_size] = copy
                self._copy_problem[copy.tree_size] = (
                    "it is on the bus but missing from the database (a checkpoint was removed)"
                )
            elif mine != copy:
                self._copy_problem[copy.tree_size] = (
                    "the database's checkpoint differs from its copy on the bus "
                    "(a checkpoint was altered)"
                )
        self.in_order = [by_size[size] for size in sorted(by_size)]
        self.passed: list[SignedCheckpoint] = []

    def passed_before(self, position: int) -> int:
        return sum(1 for c in self.passed if c.tree_size < position)

    def check(
        self, checkpoint: SignedCheckpoint, tree: MerkleTree, head: bytes
    ) -> CheckpointFailure | None:
        """Checks 5-8 of ``checkpoint``; ``tree`` holds exactly its first tree_size events,
        and ``head`` is the hash of the last of them."""
        size = checkpoint.tree_size

        def failed(reason: str) -> CheckpointFailure:
            return CheckpointFailure(tree_size=size, reason=reason)

        if size in self._copy_problem:
            return failed(self._copy_problem[size])
        assert self._public_key is not None
        problem = checkpoint.signature_problem(self._public_key)
        if problem is not None:
            return failed(problem)
        previous = self.passed[-1] if self.passed else None
        if tree.root() != checkpoint.root_hash or head != checkpoint.head_hash:
            where = f"{previous.tree_size + 1}..{size}" if previous else f"1..{size}"
            return failed(
                f"the log's first {size} events do not have its signed root: an event at "
                f"positions {where} was changed, removed or replaced since it was signed"
            )
        if previous is not None:
            proof = tree.consistency_proof(previous.tree_size, size)
            if not verify_consistency(
                previous.tree_size, size, previous.root_hash, checkpoint.root_hash, proof
            ):
                return failed(
                    f"it is not consistent with the checkpoint at tree size "
                    f"{previous.tree_size}: the log did not only grow between them"
                )
        self.passed.append(checkpoint)
        return None

    def beyond(self, log_size: int) -> CheckpointFailure | None:
        """A checkpoint over more events than the log has: its tail was removed."""
        for checkpoint in self.in_order:
            if checkpoint.tree_size > log_size:
                return CheckpointFailure(
                    tree_size=checkpoint.tree_size,
                    reason=f"the log ends at position {log_size}: events "
                    f"{log_size + 1}..{checkpoint.tree_size} it covers were removed",
                )
        return None


async def _walk_chain(
    store: EventStore,
    checks: _Checkpoints,
    *,
    on_progress: ProgressCallback | None,
    progress_every: int,
) -> VerificationReport:
    """Checks 1-3 in global order, and 5-8 at each checkpoint, stopping at the first failure."""
    expected_position = 1
    previous = GENESIS_HASH
    sha256 = hashlib.sha256
    brk: ChainBreak | None = None
    failure: CheckpointFailure | None = None
    pending = iter(checks.in_order)
    upcoming = next(pending, None)
    tree = MerkleTree() if upcoming is not None else None
    async for position, prev_hash, stored_hash, canonical in store.chain_links():
        if position != expected_position:
            missing = (
                f"events {expected_position}..{position - 1} are missing"
                if position > expected_position + 1
                else f"event {expected_position} is missing"
            )
            brk = ChainBreak(global_position=expected_position, reason=missing)
            break
        if prev_hash != previous:
            brk = ChainBreak(
                global_position=position,
                reason="does not link to the hash of the event before it "
                "(an event was removed, inserted or reordered here)",
            )
            break
        if sha256(prev_hash + canonical).digest() != stored_hash:
            brk = ChainBreak(
                global_position=position,
                reason="its recorded content no longer matches its hash (the event was edited)",
            )
            break
        previous = stored_hash
        expected_position += 1
        if tree is not None:
            tree.append(leaf_hash(stored_hash))
            while upcoming is not None and upcoming.tree_size == position:
                failure = checks.check(upcoming, tree, stored_hash)
                upcoming = next(pending, None)
                if failure is not None:
                    break
            if failure is not None:
                break
            if upcoming is None:
                tree = None  # nothing more to check against: spare the memory
        if on_progress is not None and position % progress_every == 0:
            on_progress(position)
    checked = expected_position - 1
    if brk is None and failure is None:
        failure = checks.beyond(checked)
    if on_progress is not None:
        on_progress(checked)
    return VerificationReport(
        events_checked=checked,
        head_hash=previous,
        first_break=brk,
        checkpoints_checked=len(checks.passed),
        checkpoint_failure=failure,
        latest_checkpoint=checks.passed[-1] if checks.passed else None,
    )


@dataclass(frozen=True, kw_only=True)
class InclusionProof:
    """That one event is in the log a signed checkpoint vouches for (RFC 9162 §2.1.3)."""

    event_id: UUID
    global_position: int
    event_hash: bytes
    checkpoint: SignedCheckpoint
    audit_path: list[bytes]

    @property
    def leaf_index(self) -> int:
        return self.global_position - 1

    def verifies(self) -> bool:
        """The audit path leads from the event's hash to the checkpoint's root."""
        return verify_inclusion(
            leaf_hash(self.event_hash),
            self.leaf_index,
            self.checkpoint.tree_size,
            self.audit_path,
            self.checkpoint.root_hash,
        )


async def prove_inclusion(store: EventStore, event_id: UUID) -> InclusionProof:
    """An inclusion proof for ``event_id`` against the latest signed checkpoint.

    Raises:
        ProofUnavailable: the event is not recorded, or is newer than the latest checkpoint.
    """
    position = await store.position_of(event_id)
    if position is None:
        raise ProofUnavailable(f"no event {event_id} is recorded")
    checkpoint = await store.latest_signed_checkpoint()
    if checkpoint is None or checkpoint.tree_size < position:
        covered = (
            "no checkpoint is signed yet"
            if checkpoint is None
            else (f"the latest checkpoint covers positions 1..{checkpoint.tree_size}")
        )
        raise ProofUnavailable(
            f"event {event_id} is at position {position} and {covered}; "
            "the checkpointer's next checkpoint will cover it"
        )
    leaves: list[bytes] = []
    event_hash = b""
    async for link in store.chain_links(to_position=checkpoint.tree_size):
        leaves.append(leaf_hash(link.hash))
        if link.global_position == position:
            event_hash = link.hash
    return InclusionProof(
        event_id=event_id,
        global_position=position,
        event_hash=event_hash,
        checkpoint=checkpoint,
        audit_path=inclusion_proof(leaves, position - 1),
    )
