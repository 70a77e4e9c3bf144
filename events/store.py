"""The event store protocol: what every other package depends on.

Only ``events.postgres`` implements it against a database; workflows, the relay
and the API talk to this small surface, with keyword-only read parameters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import NamedTuple, Protocol
from uuid import UUID

from events.envelope import NewEvent, RecordedEvent
from events.signed_checkpoints import SignedCheckpoint


class ChainLink(NamedTuple):
    """One stored row as the auditor re-hashes it: the exact bytes and their links."""

    global_position: int
    prev_hash: bytes
    hash: bytes
    canonical: bytes


class EventStore(Protocol):
    async def append(
        self, stream_id: str, events: Sequence[NewEvent], *, expected_version: int | None
    ) -> list[RecordedEvent]:
        """Record ``events`` at the end of ``stream_id``, atomically.

        ``expected_version`` is the stream's version the caller last saw (0 for a
        new stream), or ``None`` to append whatever the version. Re-sending events
        whose ids are already recorded returns the recorded events unchanged.
        """
        ...

    async def read_stream(self, stream_id: str, *, from_version: int = 1) -> list[RecordedEvent]:
        """The events of one stream in version order."""
        ...

    async def read_all(
        self, *, from_position: int = 1, limit: int = 1000, sealed: bool = False
    ) -> list[RecordedEvent]:
        """Up to ``limit`` events of the whole log from ``from_position`` in order.

        With ``sealed``, ``data`` is exactly as stored: personal fields stay
        ciphertext and no subject key is looked up. For copies that leave the
        store, such as the bus, which must never carry personal data in clear.
        """
        ...

    async def read_types(
        self, types: Sequence[str], *, sealed: bool = False
    ) -> list[RecordedEvent]:
        """Every event of these types, in global order (for rare whole-log questions,
        such as which requests have finished). ``sealed`` as for :meth:`read_all`."""
        ...

    def subscribe(
        self, *, from_position: int = 1, sealed: bool = False
    ) -> AsyncIterator[RecordedEvent]:
        """Every event from ``from_position`` on: catches up, then follows live.

        ``sealed`` as for :meth:`read_all`.
        """
        ...

    async def head_position(self) -> int:
        """The global position of the last recorded event (0 when empty)."""
        ...

    def chain_links(
        self, *, from_position: int = 1, to_position: int | None = None
    ) -> AsyncIterator[ChainLink]:
        """The stored rows' hash-chain material, in global order, for verification."""
        ...

    async def first_row_unlike_its_canonical(self, *, from_position: int = 1) -> int | None:
        """The first position whose columns differ from its hashed bytes, if any."""
        ...

    async def shred(self, subject_id: str) -> bool:
        """Destroy the subject's data key; False if it was already shredded or unknown."""
        ...

    async def checkpoint(self, name: str) -> int:
        """The position that the reader ``name`` has finished with (0 if none yet)."""
        ...

    async def save_checkpoint(self, name: str, position: int) -> None:
        """Record that ``name`` has finished with ``position``; never moves it backwards."""
        ...

    async def position_of(self, event_id: UUID) -> int | None:
        """The global position of the event ``event_id``, if it is recorded."""
        ...

    async def record_signed_checkpoint(self, checkpoint: SignedCheckpoint) -> SignedCheckpoint:
        """Keep ``checkpoint`` (append-only), or return the one kept for its tree size."""
        ...

    async def signed_checkpoints(self, *, after_size: int = 0) -> list[SignedCheckpoint]:
        """The kept signed checkpoints larger than ``after_size``, smallest first."""
        ...

    async def latest_signed_checkpoint(self) -> SignedCheckpoint | None:
        """The signed checkpoint over the most events, if any."""
        ...
