"""Benchmarks of the event store (``make bench``): P1, P1b and P2.

Each figure is measured against a baseline in the same run, on the same server,
as the median of three rounds in which the two sides alternate:

P1   appends/s, one event per append, 8 concurrent writers, through the store
     (lock, hash chain, group commit) vs plain single-row INSERTs into a table of
     the same columns with no trigger, lock or hash.
P1b  the same with 100-event appends vs 100-row INSERT statements.
P2   ``audit verify`` events/s vs streaming the same rows' canonical bytes with a
     cursor and chaining SHA-256 over them.

Prints one machine-readable line per figure and returns the figures.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from events.envelope import Actor, NewEvent
from events.postgres import PostgresEventStore
from events.verify import verify_chain

WRITERS = 8
ROUNDS = 3
ACTOR = Actor(id="bench-officer", role="hub_officer", agency="lbm-csc")
DATA = {
    "rag": "amber",
    "rationale": "Repeated missing episodes reported by the school; police hold a related "
    "incident. Needs partner checks within the amber window.",
    "recipients": ["met-police", "st-marks-primary", "mitcham-gp"],
    "categories": ["attendance", "incidents", "health-contacts"],
}

BASELINE_TABLE = """
CREATE TABLE IF NOT EXISTS bench_plain_events (
    global_position bigserial PRIMARY KEY, stream_id text NOT NULL, stream_version integer NOT NULL,
    event_id uuid NOT NULL UNIQUE, type text NOT NULL, schema_version integer NOT NULL,
    occurred_at timestamptz NOT NULL, recorded_at timestamptz NOT NULL, actor jsonb NOT NULL,
    correlation_id text, subject_id text, data jsonb NOT NULL, metadata jsonb NOT NULL,
    canonical bytea NOT NULL, prev_hash bytea NOT NULL, hash bytea NOT NULL,
    UNIQUE (stream_id, stream_version))
"""
# Every row carries its own values, as a real writer's rows would.
BASELINE_INSERT = """
INSERT INTO bench_plain_events (stream_id, stream_version, event_id, type, schema_version,
    occurred_at, recorded_at, actor, correlation_id, subject_id, data, metadata, canonical,
    prev_hash, hash)
SELECT s, v, e, 'TriageRecorded', 1, o, now(), a::jsonb, NULL, NULL, d::jsonb, '{}', c, h, h
FROM unnest($1::text[], $2::integer[], $3::uuid[], $4::timestamptz[], $5::text[], $6::text[],
            $7::bytea[], $8::bytea[]) AS r(s, v, e, o, a, d, c, h)
"""


@dataclass(frozen=True, kw_only=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline else self.value / self.baseline

    def line(self) -> str:
        text = f"{self.name} value={self.value:.0f} unit={self.unit}"
        if self.baseline is not None:
            text += f" baseline={self.baseline:.0f} ratio={self.ratio:.2f}"
        return text


def _event() -> NewEvent:
    return NewEvent(type="TriageRecorded", actor=ACTOR, data=DATA)


async def _rate(writers: list[Callable[[], Awaitable[int]]]) -> float:
    started = time.perf_counter()
    counts = await asyncio.gather(*(writer() for writer in writers))
    return sum(counts) / (time.perf_counter() - started)


async def store_rate(store: PostgresEventStore, *, batch: int, appends_per_writer: int) -> float:
    async def writer() -> int:
        stream = f"bench-{uuid.uuid4()}"
        for version in range(appends_per_writer):
            events = [_event() for _ in range(batch)]
            await store.append(stream, events, expected_version=version * batch)
        return appends_per_writer * batch

    return await _rate([writer for _ in range(WRITERS)])


async def plain_rate(pool: asyncpg.Pool, *, batch: int, appends_per_writer: int) -> float:
    actor = ACTOR.model_dump()

    async def writer() -> int:
        stream = f"plain-{uuid.uuid4()}"
        async with pool.acquire() as connection:
            for round_ in range(appends_per_writer):
                versions = list(range(round_ * batch + 1, round_ * batch + batch + 1))
                data = [json.dumps({**DATA, "n": version}) for version in versions]
                await connection.execute(
                    BASELINE_INSERT,
                    [stream] * batch,
                    versions,
                    [uuid.uuid4() for _ in versions],
                    [datetime.now(UTC)] * batch,
                    [json.dumps(actor)] * batch,
                    data,
                    [row.encode() for row in data],
                    [hashlib.sha256(row.encode()).digest() for row in data],
                )
        return appends_per_writer * batch

    return await _rate([writer for _ in range(WRITERS)])


async def verify_rate(store: PostgresEventStore) -> tuple[float, int]:
    started = time.perf_counter()
    report = await verify_chain(store)
    assert report.intact
    return report.events_checked / (time.perf_counter() - started), report.events_checked


async def hash_stream_rate(database_url: str) -> float:
    """Only stream the canonical bytes with a cursor and chain SHA-256 over them."""
    connection = await asyncpg.connect(database_url)
    try:
        started = time.perf_counter()
        previous, count = bytes(32), 0
        sha256 = hashlib.sha256
        async with connection.transaction(readonly=True):
            cursor = connection.cursor(
                "SELECT canonical FROM events ORDER BY global_position", prefetch=5000
            )
            async for row in cursor:
                previous = sha256(previous + row[0]).digest()
                count += 1
        return count / (time.perf_counter() - started)
    finally:
        await connection.close()


async def run_event_store_benchmarks(
    database_url: str, *, master_key: bytes, scale: float = 1.0
) -> list[Figure]:
    single, batched = int(400 * scale), int(30 * scale)
    figures: list[Figure] = []
    pool = await asyncpg.create_pool(database_url, min_size=WRITERS, max_size=WRITERS)
    store = await PostgresEventStore.open(
        database_url, master_key=master_key, max_connections=WRITERS
    )
    try:
        async with pool.acquire() as connection:
            await connection.execute(BASELINE_TABLE)
        # Warm both paths, then alternate rounds so drift on a busy machine hits
        # both sides alike, and report the median of each side.
        await store_rate(store, batch=1, appends_per_writer=20)
        await plain_rate(pool, batch=1, appends_per_writer=20)
        for name, batch, appends in (("P1", 1, single), ("P1b", 100, batched)):
            ours, theirs = [], []
            for _ in range(ROUNDS):
                ours.append(await store_rate(store, batch=batch, appends_per_writer=appends))
                theirs.append(await plain_rate(pool, batch=batch, appends_per_writer=appends))
            figures.append(
                Figure(
                    name=name,
                    value=statistics.median(ours),
                    unit="ev/s",
                    baseline=statistics.median(theirs),
                )
            )
        p2_ours, p2_theirs = [], []
        for _ in range(ROUNDS):
            p2_theirs.append(await hash_stream_rate(database_url))
            rate, verified = await verify_rate(store)
            p2_ours.append(rate)
        figures.append(
            Figure(
                name="P2",
                value=statistics.median(p2_ours),
                unit="ev/s",
                baseline=statistics.median(p2_theirs),
            )
        )
        print(f"# P2 verified {verified} events per round", flush=True)
    finally:
        await store.close()
        await pool.close()
    for figure in figures:
        print(figure.line(), flush=True)
    return figures
