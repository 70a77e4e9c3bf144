"""The :class:`Projector`: the event log folded into the read-model tables, and kept so.

The folds are :mod:`events.read_models.folds`; this module writes what they return.
Each read model here is a table, its key column and the columns the upsert writes.

The projector applies events in log order and saves its checkpoint (``read-models``)
in the same transaction as the rows it changed, so the tables always reflect exactly
the events up to the checkpoint. Several processes may run a projector: each
transaction takes one advisory lock and re-reads the checkpoint, so an event is
applied once. Events are read sealed: the read models never hold personal data.
Reading the tables is :mod:`events.read_models.queries`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from events.envelope import RecordedEvent
from events.errors import EventStoreError
from events.postgres import PostgresEventStore, SqlSession
from events.read_models.folds import (
    Row,
    advice_key,
    api_client_key,
    disclosure_key,
    fold_advice,
    fold_api_client,
    fold_disclosure,
    fold_request,
    request_key,
)

CHECKPOINT = "read-models"
# pg_advisory_xact_lock key: "sharehub read models"; one projector transaction at a time.
_LOCK_KEY = 0x5348_5256
_BATCH = 500
_FIRST_PAUSE = 1.0
_LONGEST_PAUSE = 60.0
logger = logging.getLogger(__name__)


def _columns(names: str) -> tuple[str, ...]:
    return tuple(names.split())


@dataclass(frozen=True)
class ReadModel:
    table: str
    key: str
    columns: tuple[str, ...]
    key_of: Callable[[RecordedEvent], UUID | None]
    fold: Callable[[Row | None, RecordedEvent], Row | None]

    def upsert_sql(self) -> str:
        placeholders = ", ".join(f"${i}" for i in range(1, len(self.columns) + 1))
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in self.columns if c != self.key)
        return (
            f"INSERT INTO {self.table} ({', '.join(self.columns)}) VALUES ({placeholders}) "
            f"ON CONFLICT ({self.key}) DO UPDATE SET {updates}"
        )


SHARE_REQUESTS = ReadModel(
    table="share_request_view",
    key="request_id",
    columns=_columns(
        """
        request_id referrer_agency raised_by purpose recipients lawful_basis consent
        stage rag sla_deadline handed_to_emergency_duty_team sla_breached_at outcome
        decided_at decided_by signed_off_by referrer_told_at disclosures_sent
        disclosures_acknowledged family_step family_revisit_on queue_rank
        queue_due_at policy_version raised_at updated_at last_position
        """
    ),
    key_of=request_key,
    fold=fold_request,
)
DISCLOSURES = ReadModel(
    table="disclosure_view",
    key="disclosure_id",
    columns=_columns(
        """
        disclosure_id request_id agency categories purpose caveats sent_at
        acknowledge_by acknowledged_at acknowledged_by overdue_at
        """
    ),
    key_of=disclosure_key,
    fold=fold_disclosure,
)
ADVICE = ReadModel(
    table="advice_view",
    key="advice_id",
    columns=_columns(
        """
        advice_id request_id question sought_at sought_by due_by answered_at
        answered_by advice
        """
    ),
    key_of=advice_key,
    fold=fold_advice,
)
API_CLIENTS = ReadModel(
    table="api_client_view",
    key="client_id",
    columns=_columns(
        """
        client_id name role agency created_at created_by revoked_at revoked_by
        """
    ),
    key_of=api_client_key,
    fold=fold_api_client,
)
READ_MODELS = (SHARE_REQUESTS, DISCLOSURES, ADVICE, API_CLIENTS)


class Projector:
    """Keeps the read models up to date with the log; see the module docstring."""

    def __init__(self, store: PostgresEventStore, *, models: Sequence[ReadModel] = READ_MODELS):
        self._store = store
        self._models = models
        self._position = 0
        self._moved = asyncio.Condition()

    @property
    def position(self) -> int:
        """The last global position this projector has seen applied."""
        return self._position

    async def run(self) -> None:
        """Catch up, then follow the log live; until cancelled.

        A failure (the database gone, an event the tables cannot take) is logged
        and retried from the checkpoint with a growing pause: the views fall
        behind, visibly in the log, rather than stop for good.
        """
        pause = _FIRST_PAUSE
        while True:
            try:
                await self.catch_up()
                async for event in self._store.subscribe(
                    from_position=self._position + 1, sealed=True
                ):
                    await self._apply([event])
                    pause = _FIRST_PAUSE
            except EventStoreError as error:
                logger.error(
                    "read models stopped after position %d (%s); retrying in %.0f s",
                    self._position,
                    error,
                    pause,
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE)

    async def catch_up(self) -> int:
        """Apply every event recorded so far; return the checkpoint."""
        self._position = await self._store.checkpoint(CHECKPOINT)
        while True:
            events = await self._store.read_all(
                from_position=self._position + 1, limit=_BATCH, sealed=True
            )
            if not events:
                return self._position
            await self._apply(events)

    async def wait_for(self, position: int) -> None:
        """Until the read models reflect the log up to ``position``."""
        async with self._moved:
            await self._moved.wait_for(lambda: self._position >= position)

    async def rebuild(self) -> int:
        """Empty the read models and fold the whole log again, in one transaction.

        Readers see the old tables until the new ones are complete. Returns the
        number of events folded.
        """
        async with self._store.transaction() as session:
            await session.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            for model in self._models:
                await session.execute(f"DELETE FROM {model.table}")
            position = 0
            while True:
                events = await self._store.read_all(
                    from_position=position + 1, limit=_BATCH, sealed=True
                )
                if not events:
                    break
                for event in events:
                    await self._fold(session, event)
                position = events[-1].global_position
            await session.execute(
                "INSERT INTO checkpoints (name, position) VALUES ($1, $2) ON CONFLICT (name)"
                " DO UPDATE SET position = EXCLUDED.position, updated_at = now()",
                CHECKPOINT,
                position,
            )
        await self._moved_to(position)
        return position

    async def _apply(self, events: Sequence[RecordedEvent]) -> None:
        async with self._store.transaction() as session:
            await session.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            done = await session.fetchrow(
                "SELECT position FROM checkpoints WHERE name = $1", CHECKPOINT
            )
            applied_up_to = 0 if done is None else int(done["position"])
            for event in events:
                if event.global_position > applied_up_to:  # else another projector did it
                    await self._fold(session, event)
            last = max(applied_up_to, events[-1].global_position)
            await session.save_checkpoint(CHECKPOINT, last)
        await self._moved_to(last)

    async def _fold(self, session: SqlSession, event: RecordedEvent) -> None:
        for model in self._models:
            key = model.key_of(event)
            if key is None:
                continue
            current = await session.fetchrow(
                f"SELECT * FROM {model.table} WHERE {model.key} = $1 FOR UPDATE", key
            )
            row = model.fold(current, event)
            if row is not None and row != current:
                await session.execute(model.upsert_sql(), *(row[c] for c in model.columns))

    async def _moved_to(self, position: int) -> None:
        async with self._moved:
            self._position = max(self._position, position)
            self._moved.notify_all()


@contextlib.asynccontextmanager
async def running_projector(store: PostgresEventStore) -> AsyncIterator[Projector]:
    """A projector following the log in the background for the block."""
    projector = Projector(store)
    await projector.catch_up()
    task = asyncio.create_task(projector.run(), name="read-model projector")
    try:
        yield projector
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
