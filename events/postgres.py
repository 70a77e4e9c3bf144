"""The PostgreSQL event store: the only module that imports the database driver.

Appends are serialised by one transaction-level advisory lock, and concurrent
appends are written together ("group commit"): callers queue their appends, and
one committer task per store takes everything waiting, writes it in a single
transaction under the lock, and answers each caller with its own events or its
own conflict. See ``PostgresEventStore._commit_batch`` for the locking argument.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

from events.canonical import (
    GENESIS_HASH,
    EnvelopeParts,
    canonical_json,
    chain_hash,
    timestamp_json,
    uuid_json,
)
from events.crypto import KeyWrapper, decrypt_fields, encrypt_fields
from events.envelope import Actor, NewEvent, RecordedEvent, recorded_event
from events.errors import (
    AppendOnlyViolation,
    EventIdReused,
    EventStoreError,
    MigrationError,
    StoreUnavailable,
    SubjectKeyDestroyed,
    WrongExpectedVersion,
)
from events.migrations import available_migrations
from events.signed_checkpoints import SignedCheckpoint
from events.store import ChainLink

logger = logging.getLogger(__name__)

APP_ROLE = "sharehub_app"
NOTIFY_CHANNEL = "sharehub_events"
# An arbitrary constant naming the migration lock; the append lock is taken in
# SQL by events_append_begin().
_MIGRATION_LOCK_KEY = 0x5348_4D49_4752  # "SHMIGR"

_EVENT_COLUMNS = (
    "global_position, stream_id, stream_version, event_id, type, schema_version, occurred_at,"
    " recorded_at, actor, correlation_id, subject_id, data, metadata, prev_hash, hash"
)

# One statement per batch: every column as an array, so the rows travel in one
# message. The canonical bytes and the JSON columns come from the same rendered
# parts (see events.canonical.EnvelopeParts), so they agree by construction. A
# batch's rows take consecutive positions and share one recorded time, so those
# travel once, as the first position and a timestamp: the driver inspects every
# array element it sends, which costs more than the database's work on it.
#
# A row's columns come in two runs: those known before the append lock, prepared
# with the event, and those only known under it, added when the event is placed.
_SIGNED_CHECKPOINT_COLUMNS = "tree_size, root_hash, head_hash, signed_at, key_id, signature"

_INSERT_EVENTS = f"""
WITH inserted AS (
    INSERT INTO events ({_EVENT_COLUMNS}, canonical)
    SELECT $1::bigint + n - 1, s, v, e, t, sv, o, $2::timestamptz, a::json, c, sub, d::json,
           m::json, ph, h, can
    FROM unnest($3::text[], $4::uuid[], $5::text[], $6::integer[], $7::timestamptz[],
                $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                $13::integer[], $14::bytea[], $15::bytea[], $16::bytea[])
         WITH ORDINALITY AS r(s, e, t, sv, o, a, c, sub, d, m, v, ph, h, can, n)
    RETURNING global_position
)
SELECT pg_notify('{NOTIFY_CHANNEL}', max(global_position)::text) FROM inserted
"""

# One row's columns known before the lock, and a whole row, in the order of the
# INSERT's arrays.
_Prepared = tuple[str, UUID, str, int, datetime, str, str | None, str | None, str, str]
_Row = tuple[
    str,
    UUID,
    str,
    int,
    datetime,
    str,
    str | None,
    str | None,
    str,
    str,
    int,
    int,
    datetime,
    bytes,
    bytes,
    bytes,
]


@dataclass(kw_only=True)
class _PendingAppend:
    stream_id: str
    events: list[NewEvent]
    parts: list[EnvelopeParts]
    prepared: list[_Prepared]
    expected_version: int | None
    outcome: asyncio.Future[list[RecordedEvent]]


class _Placement(NamedTuple):
    """Where the committer put one new event: its row, enough to answer its appender."""

    event: NewEvent
    row: _Row


@dataclass(kw_only=True)
class _BatchState:
    """What the committer knows while it places one batch in the log."""

    position: int
    prev_hash: bytes
    versions: dict[str, int]
    stored: dict[UUID, RecordedEvent]
    recorded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    placed: dict[UUID, _Placement] = field(default_factory=dict)

    @property
    def recorded_json(self) -> bytes:
        return timestamp_json(self.recorded_at)


def _recorded_from(placement: _Placement) -> RecordedEvent:
    event, row = placement
    global_position, stream_version, recorded_at, prev_hash, hash_ = row[10:15]
    return recorded_event(
        global_position,
        row[0],  # the stream id
        stream_version,
        event.event_id,
        event.type,
        event.schema_version,
        event.occurred_at,
        recorded_at,
        event.actor,
        event.correlation_id,
        event.subject_id,
        dict(event.data),
        event.metadata,
        prev_hash,
        hash_,
    )


def _answer(
    decision: list[_Placement] | list[RecordedEvent] | EventStoreError,
) -> list[RecordedEvent] | EventStoreError:
    if isinstance(decision, EventStoreError):
        return decision
    return [d if isinstance(d, RecordedEvent) else _recorded_from(d) for d in decision]


async def _write_rows(connection: _Connection, rows: list[_Row]) -> None:
    """Insert the rows, inside the caller's transaction."""
    columns = list(zip(*rows, strict=True))
    first_position, recorded_at = rows[0][10], rows[0][12]
    arrays = [*columns[:10], columns[11], *columns[13:]]
    await connection.execute(_INSERT_EVENTS, first_position, recorded_at, *map(list, arrays))


def _translate(error: BaseException) -> EventStoreError:
    """Map a driver or network failure to the store's exception tree."""
    if isinstance(error, asyncpg.exceptions.InsufficientPrivilegeError):
        return AppendOnlyViolation(str(error))
    return StoreUnavailable(f"{type(error).__name__}: {error}")


_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)
_SAVE_CHECKPOINT = (
    "INSERT INTO checkpoints (name, position) VALUES ($1, $2)"
    " ON CONFLICT (name) DO UPDATE"
    " SET position = GREATEST(checkpoints.position, EXCLUDED.position),"
    " updated_at = now()"
)
_COMMITTERS = 2
_Connection = asyncpg.Connection | PoolConnectionProxy


async def _init_connection(connection: asyncpg.Connection) -> None:
    for json_type in ("json", "jsonb"):  # jsonb: the read models
        await connection.set_type_codec(
            json_type, encoder=json.dumps, decoder=orjson.loads, schema="pg_catalog"
        )


async def connect(database_url: str) -> asyncpg.Connection:
    """A plain connection with the rights of the URL's login: the owner's, for migrations."""
    try:
        return await asyncpg.connect(database_url)
    except _DRIVER_ERRORS as e:
        raise _translate(e) from e


async def migrate(database_url: str) -> list[str]:
    """Apply every migration the database does not have yet; return those applied now.

    Each migration runs in its own transaction with its row in
    ``schema_migrations``, so a failure leaves nothing half-applied. A session
    advisory lock serialises runners: a second process migrating at the same
    time waits, then finds the work done.
    """
    applied: list[str] = []
    connection = await connect(database_url)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {
            row["version"]: row["checksum"]
            for row in await connection.fetch("SELECT version, checksum FROM schema_migrations")
        }
        for migration in available_migrations():
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.label} was edited after it was applied; "
                        "add a new migration instead"
                    )
                continue
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            applied.append(migration.label)
    except asyncpg.PostgresError as e:
        raise MigrationError(f"migration failed: {e}") from e
    except _DRIVER_ERRORS as e:
        raise _translate(e) from e
    finally:
        await connection.close()
    return applied


class PostgresEventStore:
    """The event store on PostgreSQL. Open with ``PostgresEventStore.open``."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        key_wrapper: KeyWrapper,
        *,
        database_url: str,
        max_batch_events: int = 1000,
    ) -> None:
        self._pool = pool
        self._keys = key_wrapper
        self._database_url = database_url
        self._max_batch_events = max_batch_events
        self._queue: asyncio.Queue[_PendingAppend] = asyncio.Queue()
        self._committers: list[asyncio.Task[None]] = []

    @classmethod
    async def open(
        cls,
        database_url: str,
        *,
        master_key: bytes,
        min_connections: int = 2,
        max_connections: int = 10,
        max_batch_events: int = 1000,
    ) -> PostgresEventStore:
        """Log in with ``database_url``: the application login ``sharehub_app``.

        That login may only insert and read events, and is a member of no other role, so
        nothing running in this process can ``RESET ROLE`` into more rights. Every
        connection also sets its role to ``sharehub_app``: a no-op for that login, and for
        a more privileged one (a test's superuser) the same rights for the store's work.
        """
        try:
            pool = await asyncpg.create_pool(
                database_url,
                min_size=min_connections,
                # The committers hold their connections; reads need their own.
                max_size=max(max_connections, _COMMITTERS + 2),
                init=_init_connection,
                server_settings={"role": APP_ROLE},
            )
        except _DRIVER_ERRORS as e:
            raise _translate(e) from e
        return cls(
            pool,
            KeyWrapper(master_key),
            database_url=database_url,
            max_batch_events=max_batch_events,
        )

    async def ping(self) -> str:
        """The server's version, asked on a pooled connection: cheap enough for probes."""
        try:
            async with self._pool.acquire() as connection:
                version = await connection.fetchval("SHOW server_version")
        except _DRIVER_ERRORS as e:
            raise _translate(e) from e
        return f"PostgreSQL {version}"

    async def close(self) -> None:
        for committer in self._committers:
            committer.cancel()
        await asyncio.gather(*self._committers, return_exceptions=True)
        self._committers = []
        await self._pool.close()

    async def __aenter__(self) -> PostgresEventStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ append

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], *, expected_version: int | None
    ) -> list[RecordedEvent]:
        if not events:
            return []
        if not stream_id or "\x00" in stream_id:
            raise ValueError("a stream id is non-empty text without NUL characters")
        if expected_version is not None and expected_version < 0:
            raise ValueError("expected_version is 0 for a new stream, or a stream's version")
        events = list(events)
        renderer = _EventRenderer(stream_id)
        parts: list[EnvelopeParts] = []
        prepared: list[_Prepared] = []
        for event in events:
            # Most events carry no personal data: only those wait for a data key.
            if event.personal_fields and event.personal_fields & event.data.keys():
                sealed: Mapping[str, Any] = await self._seal(event)
            else:
                sealed = event.data
            event_parts, event_columns = renderer.render(event, sealed)
            parts.append(event_parts)
            prepared.append(event_columns)
        pending = _PendingAppend(
            stream_id=stream_id,
            events=events,
            parts=parts,
            prepared=prepared,
            expected_version=expected_version,
            outcome=asyncio.get_running_loop().create_future(),
        )
        self._ensure_committers()
        await self._queue.put(pending)
        return await pending.outcome

    async def _seal(self, event: NewEvent) -> dict[str, Any]:
        """The event's data as it will be stored: personal fields encrypted."""
        personal = event.personal_fields & event.data.keys()
        if not personal:
            return dict(event.data)
        if event.subject_id is None:
            raise ValueError(f"{event.type} carries personal data and needs a subject_id")
        data_key = await self._data_key(event.subject_id, create=True)
        if data_key is None:
            raise SubjectKeyDestroyed(event.subject_id)
        return encrypt_fields(data_key, event.event_id, event.data, personal)

    def _ensure_committers(self) -> None:
        """Two committers, each on its own connection, so that turns overlap.

        While one committer's batch waits for its COMMIT to reach the disk, the
        other has already sent its next batch's first statement, which waits on
        the append lock inside the database and goes ahead the moment the lock
        is free. The lock still orders every write.
        """
        self._committers = [task for task in self._committers if not task.done()]
        while len(self._committers) < _COMMITTERS:
            self._committers.append(
                asyncio.create_task(self._commit_forever(), name="event-committer")
            )

    async def _commit_forever(self) -> None:
        while True:
            try:
                async with self._pool.acquire() as connection:
                    await self._commit_on(connection)
            except _DRIVER_ERRORS:
                # The connection broke mid-batch; that batch's appenders have
                # their error. Carry on with a fresh connection.
                await asyncio.sleep(0.05)

    async def _commit_on(self, connection: _Connection) -> None:
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0].events)
            while size < self._max_batch_events and not self._queue.empty():
                batch.append(self._queue.get_nowait())
                size += len(batch[-1].events)
            try:
                await self._commit_batch(connection, batch)
            except BaseException as e:
                # Nothing of this batch is known to be written (the transaction
                # rolled back, or the connection died before COMMIT was answered):
                # each caller gets the error, and a retry with the same event ids
                # is safe because appends are idempotent.
                error = _translate(e) if isinstance(e, _DRIVER_ERRORS) else e
                for pending in batch:
                    if not pending.outcome.done():
                        pending.outcome.set_exception(error)
                if isinstance(e, _DRIVER_ERRORS) and connection.is_closed():
                    raise
                if isinstance(e, asyncio.CancelledError):
                    raise

    async def _commit_batch(self, connection: _Connection, batch: list[_PendingAppend]) -> None:
        """Write a batch of appends in one transaction, answering each on its own.

        Appends take turns under one lock held to COMMIT (the reasoning is beside
        ``events_append_begin`` in the schema). Group commit makes the turns
        cheap: everything queued while one batch commits goes into the next, and
        the work done under the lock is reading the head, filling three members
        into pre-rendered canonical bytes, hashing, and one INSERT. Everything
        else is done before (rendering) or after (the answers).
        """
        transaction = connection.transaction()
        await transaction.start()
        try:
            decisions = await self._write_batch(connection, batch)
        except BaseException:
            if not connection.is_closed():
                await transaction.rollback()
            raise
        # The answers are built while COMMIT travels, and handed out once it is done.
        commit = asyncio.ensure_future(transaction.commit())
        await asyncio.sleep(0)  # COMMIT is on the wire
        answers = [(pending, _answer(decision)) for pending, decision in decisions]
        await commit
        for pending, answer in answers:
            if pending.outcome.done():  # the caller went away
                continue
            if isinstance(answer, EventStoreError):
                pending.outcome.set_exception(answer)
            else:
                pending.outcome.set_result(answer)

    async def _write_batch(
        self, connection: _Connection, batch: list[_PendingAppend]
    ) -> list[tuple[_PendingAppend, list[_Placement] | list[RecordedEvent] | EventStoreError]]:
        """Under the append lock: decide each append of the batch and insert the new rows."""
        streams = sorted({pending.stream_id for pending in batch})
        ids = [event.event_id for pending in batch for event in pending.events]
        head = await connection.fetchrow(
            "SELECT * FROM events_append_begin($1::text[], $2::uuid[])", streams, ids
        )
        assert head is not None  # a function with OUT parameters returns one row
        state = _BatchState(
            position=head["head_position"] or 0,
            prev_hash=head["head_hash"] or GENESIS_HASH,
            versions=dict(zip(streams, head["versions"], strict=True)),
            stored=await self._fetch_events(connection, set(head["existing_ids"])),
        )
        rows: list[_Row] = []
        decisions = [(pending, self._place(pending, state, rows)) for pending in batch]
        if rows:
            await _write_rows(connection, rows)
        return decisions

    def _place(
        self, pending: _PendingAppend, state: _BatchState, rows: list[_Row]
    ) -> list[_Placement] | list[RecordedEvent] | EventStoreError:
        """Decide one append within the batch: a replay, a conflict, or new rows."""
        if any(
            event.event_id in state.stored or event.event_id in state.placed
            for event in pending.events
        ):
            return self._replay(pending, state)
        current = state.versions.get(pending.stream_id, 0)
        if pending.expected_version is not None and pending.expected_version != current:
            return WrongExpectedVersion(
                stream_id=pending.stream_id, expected=pending.expected_version, actual=current
            )
        recorded_at, recorded_json = state.recorded_at, state.recorded_json
        position, prev_hash = state.position, state.prev_hash
        placed = state.placed
        placements: list[_Placement] = []
        for event, parts, prepared in zip(
            pending.events, pending.parts, pending.prepared, strict=True
        ):
            position += 1
            current += 1
            canonical = parts.render_json(position, current, recorded_json)
            digest = chain_hash(prev_hash, canonical)
            row: _Row = (*prepared, position, current, recorded_at, prev_hash, digest, canonical)
            rows.append(row)
            placement = _Placement(event, row)
            placed[event.event_id] = placement
            placements.append(placement)
            prev_hash = digest
        state.position, state.prev_hash = position, prev_hash
        state.versions[pending.stream_id] = current
        return placements

    @staticmethod
    def _replay(
        pending: _PendingAppend, state: _BatchState
    ) -> list[RecordedEvent] | EventStoreError:
        """A re-sent append: every event must be recorded already, with the same content."""
        replayed = []
        for event in pending.events:
            placement = state.placed.get(event.event_id)
            recorded = (
                _recorded_from(placement)
                if placement is not None
                else state.stored.get(event.event_id)
            )
            if recorded is None or recorded.stream_id != pending.stream_id:
                return EventIdReused(event.event_id)
            if not _same_content(event, recorded):
                return EventIdReused(event.event_id)
            replayed.append(recorded)
        return replayed

    # ------------------------------------------------------------------- reads

    async def read_stream(self, stream_id: str, *, from_version: int = 1) -> list[RecordedEvent]:
        return await self._select(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND stream_version >= $2"
            " ORDER BY stream_version",
            stream_id,
            from_version,
        )

    async def read_all(
        self, *, from_position: int = 1, limit: int = 1000, sealed: bool = False
    ) -> list[RecordedEvent]:
        return await self._select(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE global_position >= $1"
            " ORDER BY global_position LIMIT $2",
            from_position,
            limit,
            sealed=sealed,
        )

    async def read_types(
        self, types: Sequence[str], *, sealed: bool = False
    ) -> list[RecordedEvent]:
        return await self._select(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE type = ANY($1::text[])"
            " ORDER BY global_position",
            list(types),
            sealed=sealed,
        )

    async def head_position(self) -> int:
        try:
            async with self._pool.acquire() as connection:
                value = await connection.fetchval(
                    "SELECT coalesce(max(global_position), 0) FROM events"
                )
        except _DRIVER_ERRORS as e:
            raise _translate(e) from e
        return int(value)

    async def subscribe(
        self,
        *,
        from_position: int = 1,
        sealed: bool = False,
        batch_size: int = 500,
        poll_interval: float = 2.0,
    ) -> AsyncIterator[RecordedEvent]:
        """Catch up from ``from_position``, then follow new appends as they commit.

        A NOTIFY sent in each append transaction wakes the subscriber at once; the
        poll interval is the fallback when notifications are lost (a dropped
        listener connection). Positions are gap-free and become visible in order,
        so remembering the next position is enough never to skip or repeat.
        With ``sealed``, personal fields stay as stored (ciphertext).
        """
        wake = asyncio.Event()
        listener = await self._listen(wake)
        next_position = from_position
        try:
            while True:
                wake.clear()
                batch = await self.read_all(
                    from_position=next_position, limit=batch_size, sealed=sealed
                )
                for event in batch:
                    yield event
                    next_position = event.global_position + 1
                if len(batch) == batch_size:
                    continue
                if listener is None or listener.is_closed():
                    listener = await self._listen(wake)
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a
                # cancellation that arrives as the wake-up does, and the subscriber
                # then never stops (seen as a hung shutdown).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(poll_interval):
                        await wake.wait()
        finally:
            if listener is not None and not listener.is_closed():
                await listener.close()

    async def _listen(self, wake: asyncio.Event) -> asyncpg.Connection | None:
        """A connection listening for append notifications, or None to poll for now."""
        try:
            connection = await asyncpg.connect(
                self._database_url, server_settings={"role": APP_ROLE}
            )
            await connection.add_listener(NOTIFY_CHANNEL, lambda *_: wake.set())
        except _DRIVER_ERRORS:
            logger.warning("cannot listen for append notifications; polling instead")
            return None
        return connection

    async def chain_links(
        self, *, from_position: int = 1, to_position: int | None = None, prefetch: int = 5000
    ) -> AsyncIterator[ChainLink]:
        try:
            async with self._pool.acquire() as connection, connection.transaction(readonly=True):
                cursor = connection.cursor(
                    "SELECT global_position, prev_hash, hash, canonical FROM events"
                    " WHERE global_position >= $1 AND ($2::bigint IS NULL OR global_position <= $2)"
                    " ORDER BY global_position",
                    from_position,
                    to_position,
                    prefetch=prefetch,
                )
                async for row in cursor:
                    yield ChainLink(row[0], row[1], row[2], row[3])
        except _DRIVER_ERRORS as e:
            raise _translate(e) from e

    async def first_row_unlike_its_canonical(self, *, from_position: int = 1) -> int | None:
        """Checked by the database, in a parallel scan, while the caller walks the chain."""
        try:
            async with self._pool.acquire() as connection:
                # "+ 0" keeps the planner from answering min() by walking the
                # primary key one row at a time, so it scans in parallel; and
                # fetch(), not fetchval(): a row limit on the wire disables
                # parallel query.
                [row] = await connection.fetch(
                    "SELECT min(global_position + 0) FROM events WHERE global_position >= $1"
                    " AND canonical <> events_canonical_from_columns(events)",
                    from_position,
                )
        except _DRIVER_ERRORS as e:
            raise _translate(e) from e
        return None if row[0] is None else int(row[0])

    async def _select(self, query: str, *args: Any, sealed: bool = False) -> list[RecordedEvent]:
        try:
            async with self._pool.acquire() as connection:
                rows = await connection.fetch(query, *args)
                keys = (
                    None
                    if sealed
                    else await self._data_keys(connection, {r["subject_id"] for r in rows})
                )
        except _DRIVER_ERRORS as e:
            raise _translate(e) from e
        return [_recorded(row, keys) for row in rows]

    async def _fetch_events(
        self, connection: _Connection, event_ids: set[UUID]
    ) -> dict[UUID, RecordedEvent]:
        if not event_ids:
            return {}
        rows = await connection.fetch(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE event_id = ANY($1::uuid[])",
            list(event_ids),
        )
        keys = await self._data_keys(connection, {r["subject_id"] for r in rows})
        return {row["event_id"]: _recorded(row, keys) for row in rows}

    # -------------------------------------------------------------------- keys

    async def _data_keys(
        self, connection: _Connection, subject_ids: set[str | None]
    ) -> dict[str, bytes | None]:
        wanted = [s for s in subject_ids if s is not None]
        if not wanted:
            return {}
        rows = await connection.fetch(
            "SELECT subject_id, wrapped_key FROM subject_keys WHERE subject_id = ANY($1::text[])",
            wanted,
        )
        return {
            row["subject_id"]: (
                self._keys.unwrap(row["subject_id"], row["wrapped_key"])
                if row["wrapped_key"] is not None
                else None
            )
            for row in rows
        }

    async def _data_key(self, subject_id: str, *, create: bool) -> bytes | None:
        """The subject's data key, made on first use; None once shredded."""
        try:
            async with self._pool.acquire() as connection:
                for _ in range(3):
                    row = await connection.fetchrow(
                        "SELECT wrapped_key, shredded_at FROM subject_keys WHERE subject_id = $1",
                        subject_id,
                    )
                    if row is not None:
                        wrapped = row["wrapped_key"]
                        return None if wrapped is None else self._keys.unwrap(subject_id, wrapped)
                    if not create:
                        return None
                    # Two appenders may make the first key at once: one insert wins,
                    # and the loser reads the winner's key on the next turn.
                    await connection.execute(
                        "INSERT INTO subject_keys (subject_id, wrapped_key) VALUES ($1, $2)"
                        " ON CONFLICT (subject_id) DO NOTHING",
                        subject_id,
                        self._keys.new_wrapped_key(subject_id),
                    )
        except _DRIVER_ERRORS as e:
            raise _translate(e) from e
        raise StoreUnavailable(f"could not obtain a data key for subject {subject_id}")

    async def shred(self, subject_id: str) -> bool:
        try:
            async with self._pool.acquire() as connection:
                result = await connection.execute(
                    "UPDATE subject_keys SET wrapped_key = NULL, shredded_at = now()"
                    " WHERE subject_id = $1 AND shredded_at IS NULL",
                    subject_id,
                )
        except _DRIVER_ERRORS as e:
            raise _translate(e) from e
        return bool(result == "UPDATE 1")

    # ------------------------------------------------------------- checkpoints

    async def checkpoint(self, name: str) -> int:
        try:
            async with self._pool.acquire() as connection:
                position = await connection.fetchval(
                    "SELECT position FROM checkpoints WHERE name = $1", name
                )
        except _DRIVER_ERRORS as e:
            raise _translate(e) from e
        return 0 if position is None else int(position)

    async def save_checkpoint(self, name: str, position: int) -> None:
        """Upsert; GREATEST keeps the stored position when a late or stale save is lower.

        Two instances of one reader racing, or a save that arrives after a newer
        one, must never send the checkpoint back: re-doing work is safe (readers
        are idempotent), but skipping it after a later forward move is not.
        ``updated_at`` is refreshed on every save, so it also says when the
        reader last reported.
        """
        if not name or "\x00" in name:
            raise ValueError("a checkpoint name is non-empty text without NUL characters")
        if position < 0:
            raise ValueError("a checkpoint position is 0 or a global position")
        try:
            async with self._pool.acquire() as connection:
                await connection.execute(_SAVE_CHECKPOINT, name, position)
        except _DRIVER_ERRORS as e:
            raise _translate(e) from e

    # ---------------------------------------------------- signed checkpoints

    async def record_signed_checkpoint(self, checkpoint: SignedCheckpoint) -> SignedCheckpoint:
        """Keep ``checkpoint``, or return the one already kept for its tree size.

        Two checkpointers signing the same size race harmlessly: the first row
        stays, and both go on to publish that one.
        """
        try:
            async with self._pool.acquire() as connection:
                await connection.execute(
                    "INSERT INTO signed_checkpoints"
                    " (tree_size, root_hash, head_hash, signed_at, key_id, signature)"
                    " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tree_size) DO NOTHING",
                    checkpoint.tree_size,
                    checkpoint.root_hash,
                    checkpoint.head_hash,
                    checkpoint.signed_at,
                    checkpoint.key_id,
                    checkpoint.signature,
                )
                row = await connection.fetchrow(
                    f"SELECT {_SIGNED_CHECKPOINT_COLUMNS} FROM signed_checkpoints"
                    " WHERE tree_size = $1",
                    checkpoint.tree_size,
                )
        except _DRIVER_ERRORS as e:
            raise _translate(e) from e
        assert row is not None  # rows are never deleted
        return _signed_checkpoint(row)

    async def signed_checkpoints(self, *, after_size: int = 0) -> list[SignedCheckpoint]:
        try:
            async with self._pool.acquire() as connection:
                rows = await connection.fetch(
                    f"SELECT {_SIGNED_CHECKPOINT_COLUMNS} FROM signed_checkpoints"
                    " WHERE tree_size > $1 ORDER BY tree_size",
                    after_size,
                )
        except _DRIVER_ERRORS as e:
            raise _translate(e) from e
        return [_signed_checkpoint(row) for row in rows]

    async def latest_signed_checkpoint(self) -> SignedCheckpoint | None:
        try:
            async with self._pool.acquire() as connection:
                row = await connection.fetchrow(
                    f"SELECT {_SIGNED_CHECKPOINT_COLUMNS} FROM signed_checkpoints"
                    " ORDER BY tree_size DESC LIMIT 1"
                )
        except _DRIVER_ERRORS as e:
            raise _translate(e) from e
        return None if row is None else _signed_checkpoint(row)

    async def position_of(self, event_id: UUID) -> int | None:
        """The global position of the event ``event_id``, if it is recorded."""
        try:
            async with self._pool.acquire() as connection:
                position = await connection.fetchval(
                    "SELECT global_position FROM events WHERE event_id = $1", event_id
                )
        except _DRIVER_ERRORS as e:
            raise _translate(e) from e
        return None if position is None else int(position)

    # ------------------------------------------------------------- read models

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlSession]:
        """One transaction on the read models and checkpoints, as the application role.

        Projections write their rows and their checkpoint here, together, so a
        crash leaves either both or neither. The role may not change ``events``.
        """
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                yield SqlSession(connection)
        except _DRIVER_ERRORS as e:
            raise _translate(e) from e

    async def query(self, query: str, *args: Any) -> list[dict[str, Any]]:
        """Rows of one read-only statement on the read models, outside a transaction."""
        try:
            async with self._pool.acquire() as connection:
                return [dict(row) for row in await connection.fetch(query, *args)]
        except _DRIVER_ERRORS as e:
            raise _translate(e) from e


class SqlSession:
    """Statements inside :meth:`PostgresEventStore.transaction`; rows come back as dicts.

    The narrow face of a connection that read models and the API's own tables
    are written through, so that this module stays the only one that knows the
    driver.
    """

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    async def execute(self, query: str, *args: Any) -> str:
        try:
            return str(await self._connection.execute(query, *args))
        except _DRIVER_ERRORS as e:
            raise _translate(e) from e

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        try:
            return [dict(row) for row in await self._connection.fetch(query, *args)]
        except _DRIVER_ERRORS as e:
            raise _translate(e) from e

    async def fetchrow(self, query: str, *args: Any) -> dict[str, Any] | None:
        rows = await self.fetch(query, *args)
        return rows[0] if rows else None

    async def save_checkpoint(self, name: str, position: int) -> None:
        """:meth:`PostgresEventStore.save_checkpoint`, inside this transaction."""
        await self.execute(_SAVE_CHECKPOINT, name, position)


class _EventRenderer:
    """Renders one append's events as far as can be done before the append lock.

    That is each event's canonical members (see ``EnvelopeParts``) and the columns
    of its row that do not depend on its place in the log. Members that the
    append's events share are rendered once: the stream id, and the actor, which
    is usually one object for the whole append.
    """

    def __init__(self, stream_id: str) -> None:
        self._stream_id = stream_id
        self._stream_id_json = canonical_json(stream_id)
        self._actor: Actor | None = None
        self._actor_json = b""
        self._actor_text = ""

    def render(self, event: NewEvent, sealed: Mapping[str, Any]) -> tuple[EnvelopeParts, _Prepared]:
        """``event``'s parts and prepared columns, with ``sealed`` (its data as stored)."""
        if event.actor is not self._actor:  # frozen, so the same object renders the same
            self._actor = event.actor
            self._actor_json = canonical_json(event.actor.model_dump(mode="json"))
            self._actor_text = self._actor_json.decode()
        data = canonical_json(sealed)
        metadata = canonical_json(event.metadata) if event.metadata else b"{}"
        parts = EnvelopeParts(
            actor=self._actor_json,
            correlation_id=canonical_json(event.correlation_id),
            data=data,
            event_id=uuid_json(event.event_id),
            metadata=metadata,
            occurred_at=timestamp_json(event.occurred_at),
            schema_version=canonical_json(event.schema_version),
            stream_id=self._stream_id_json,
            subject_id=canonical_json(event.subject_id),
            type=canonical_json(event.type),
        )
        columns: _Prepared = (
            self._stream_id,
            event.event_id,
            event.type,
            event.schema_version,
            event.occurred_at,
            self._actor_text,
            event.correlation_id,
            event.subject_id,
            data.decode(),
            metadata.decode(),
        )
        return parts, columns


def _same_content(event: NewEvent, recorded: RecordedEvent) -> bool:
    """Whether a re-sent event says what the recorded one says.

    Personal fields that can no longer be read (shredded) are left out of the
    comparison; everything else must match exactly, in canonical form.
    """
    mine = event.content()
    theirs = recorded.content()
    for name in recorded.redacted_fields:
        mine["data"].pop(name, None)
        theirs["data"].pop(name, None)
    return canonical_json(mine) == canonical_json(theirs)


def _recorded(row: asyncpg.Record, keys: dict[str, bytes | None] | None) -> RecordedEvent:
    """The event of ``row``; with ``keys`` None, sealed: its data exactly as stored."""
    data: dict[str, Any] = row["data"]
    redacted: frozenset[str] = frozenset()
    subject = row["subject_id"]
    if subject is not None and keys is not None:
        data, redacted = decrypt_fields(keys.get(subject), row["event_id"], data)
    return RecordedEvent(
        global_position=row["global_position"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        event_id=row["event_id"],
        type=row["type"],
        schema_version=row["schema_version"],
        occurred_at=row["occurred_at"],
        recorded_at=row["recorded_at"],
        actor=Actor.model_validate(row["actor"]),
        correlation_id=row["correlation_id"],
        subject_id=subject,
        data=data,
        metadata=row["metadata"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
        redacted_fields=redacted,
    )


def _signed_checkpoint(row: asyncpg.Record) -> SignedCheckpoint:
    return SignedCheckpoint(
        tree_size=row["tree_size"],
        root_hash=bytes(row["root_hash"]),
        head_hash=bytes(row["head_hash"]),
        signed_at=row["signed_at"],
        key_id=bytes(row["key_id"]),
        signature=bytes(row["signature"]),
    )
