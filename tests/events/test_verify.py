"""Tamper evidence: every alteration of the stored log is found, at its position."""

from __future__ import annotations

import asyncpg
import pytest

from events.envelope import Actor, NewEvent
from events.postgres import PostgresEventStore
from events.verify import verify_chain
from tests.events.sample_events import OFFICER, concern


@pytest.fixture
async def log_of_six(store: PostgresEventStore) -> PostgresEventStore:
    for index in range(3):
        events = [
            concern(f"{index}-a").to_new_event(actor=OFFICER),
            concern(f"{index}-b").to_new_event(actor=OFFICER),
        ]
        await store.append(f"request-{index}", events, expected_version=0)
    assert (await verify_chain(store)).intact
    return store


async def tamper(owner: asyncpg.Connection, statement: str, *, table: str = "events") -> None:
    """What a superuser could do: disable the guard, alter rows, re-enable it."""
    async with owner.transaction():
        await owner.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        await owner.execute(statement)
        await owner.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


async def test_an_edited_column_is_found_at_its_position(
    log_of_six: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    await tamper(owner, "UPDATE events SET type = 'x' WHERE global_position = 4")
    report = await verify_chain(log_of_six)
    assert not report.intact
    assert report.first_break is not None
    assert report.first_break.global_position == 4
    assert "column" in report.first_break.reason
    assert report.events_checked == 3


async def test_edited_data_is_found(
    log_of_six: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    await tamper(
        owner,
        """UPDATE events SET data = '{"rag":"red","summary":"nothing to see"}'
           WHERE global_position = 2""",
    )
    report = await verify_chain(log_of_six)
    assert report.first_break is not None and report.first_break.global_position == 2


async def test_edited_canonical_bytes_break_the_hash(
    log_of_six: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    await tamper(
        owner,
        "UPDATE events SET canonical = convert_to("
        " replace(convert_from(canonical, 'UTF8'), '2-a', '2-z'), 'UTF8')"
        " WHERE global_position = 5",
    )
    report = await verify_chain(log_of_six)
    assert report.first_break is not None
    assert report.first_break.global_position == 5
    assert "hash" in report.first_break.reason


async def test_a_deleted_event_is_found(
    log_of_six: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    await tamper(owner, "DELETE FROM events WHERE global_position = 3")
    report = await verify_chain(log_of_six)
    assert report.first_break is not None
    assert report.first_break.global_position == 3
    assert "missing" in report.first_break.reason


async def test_a_deleted_event_with_renumbered_positions_is_found(
    log_of_six: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    await tamper(
        owner,
        "DELETE FROM events WHERE global_position = 3;"
        " UPDATE events SET global_position = global_position - 1 WHERE global_position > 3",
    )
    report = await verify_chain(log_of_six)
    assert report.first_break is not None and report.first_break.global_position == 3


async def test_a_reordered_pair_is_found(
    log_of_six: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    await tamper(
        owner,
        "UPDATE events SET global_position = global_position + 1000"
        " WHERE global_position IN (4, 5);"
        " UPDATE events SET global_position = CASE global_position WHEN 1004 THEN 5 ELSE 4 END"
        " WHERE global_position > 1000",
    )
    report = await verify_chain(log_of_six)
    assert report.first_break is not None and report.first_break.global_position == 4


async def test_an_intact_log_after_many_appends_verifies(log_of_six: PostgresEventStore) -> None:
    progress: list[int] = []
    report = await verify_chain(log_of_six, on_progress=progress.append, progress_every=2)
    assert report.intact and report.events_checked == 6
    assert progress[-1] == 6


TRICKY_TEXT = [
    'quote " backslash \\ slash /',
    "controls \b \f \n \r \t \x00 \x01 \x1f and DEL \x7f",
    "unicode é ñ 日本 😀 \u2028 \u2029",
    "",
]


async def test_the_database_rebuilds_the_canonical_bytes_of_tricky_events(
    store: PostgresEventStore,
) -> None:
    # The column check rebuilds canonical bytes in SQL; any difference in string
    # escaping or timestamp spelling from the Python side would read as tampering.
    for index, text in enumerate(TRICKY_TEXT):
        column_text = text.replace("\x00", "")  # NUL is refused in text columns
        event = NewEvent(
            type=f"Tricky{column_text}",
            actor=Actor(id=text or "x", role="hub_officer", agency=None),
            correlation_id=column_text,
            subject_id=None,
            data={"text": text, "nested": {text: [text, 1, True, None]}, "n": -(2**53) + 1},
            metadata={"why": text},
        )
        await store.append(f"tricky-{column_text}-{index}", [event], expected_version=0)
    assert await store.first_row_unlike_its_canonical() is None
    assert (await verify_chain(store)).intact
