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
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from events.canonical import GENESIS_HASH
from events.store import EventStore

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True, kw_only=True)
class ChainBreak:
    global_position: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class VerificationReport:
    events_checked: int
    head_hash: bytes
    first_break: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.first_break is None


async def verify_chain(
    store: EventStore, *, on_progress: ProgressCallback | None = None, progress_every: int = 10_000
) -> VerificationReport:
    walk, unlike_position = await asyncio.gather(
        _walk_chain(store, on_progress=on_progress, progress_every=progress_every),
        store.first_row_unlike_its_canonical(),
    )
    if unlike_position is not None and (
        walk.first_break is None or unlike_position < walk.first_break.global_position
    ):
        brk = ChainBreak(
            global_position=unlike_position,
            reason="its columns differ from the content its hash covers (a column was edited)",
        )
        return VerificationReport(
            events_checked=unlike_position - 1, head_hash=walk.head_hash, first_break=brk
        )
    return walk


async def _walk_chain(
    store: EventStore, *, on_progress: ProgressCallback | None, progress_every: int
) -> VerificationReport:
    """Checks 1-3, in global order, stopping at the first failure."""
    expected_position = 1
    previous = GENESIS_HASH
    sha256 = hashlib.sha256
    brk: ChainBreak | None = None
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
        if on_progress is not None and position % progress_every == 0:
            on_progress(position)
    checked = expected_position - 1
    if on_progress is not None:
        on_progress(checked)
    return VerificationReport(events_checked=checked, head_hash=previous, first_break=brk)
