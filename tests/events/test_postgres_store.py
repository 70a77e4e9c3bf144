"""The PostgreSQL event store against a real server: every promise of DESIGN §3."""

from __future__ import annotations

import asyncio
import itertools
import uuid

import asyncpg
import pytest
from pydantic import ValidationError

from events.canonical import GENESIS_HASH, chain_hash
from events.envelope import NewEvent
from events.errors import EventIdReused, StoreUnavailable, WrongExpectedVersion
from events.postgres import PostgresEventStore
from events.verify import verify_chain
from tests.events.conftest import MASTER_KEY
from tests.events.sample_events import OFFICER, concern


def noted(summary: str = "concern", **kwargs: object) -> NewEvent:
    return concern(summary).to_new_event(actor=OFFICER, **kwargs)  # type: ignore[arg-type]


async def test_append_then_read_stream_and_log(store: PostgresEventStore) -> None:
    first = await store.append("request-1", [noted("a"), noted("b")], expected_version=0)
    other = await store.append("request-2", [noted("c")], expected_version=0)
    more = await store.append("request-1", [noted("d")], expected_version=2)

    assert [e.stream_version for e in first + more] == [1, 2, 3]
    assert [e.global_position for e in first + other + more] == [1, 2, 3, 4]
    stream = await store.read_stream("request-1")
    assert [e.data["summary"] for e in stream] == ["a", "b", "d"]
    assert [e.data["summary"] for e in await store.read_stream("request-1", from_version=3)] == [
        "d"
    ]
    log = await store.read_all(from_position=2, limit=2)
    assert [e.global_position for e in log] == [2, 3]
    assert await store.head_position() == 4


async def test_recorded_events_form_one_hash_chain(store: PostgresEventStore) -> None:
    await store.append("s-1", [noted("a")], expected_version=0)
    await store.append("s-2", [noted("b"), noted("c")], expected_version=0)
    log = await store.read_all()
    assert log[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(log):
        assert after.prev_hash == before.hash
    report = await verify_chain(store)
    assert report.intact and report.events_checked == 3
    assert report.head_hash == log[-1].hash


async def test_hash_is_sha256_of_prev_hash_and_stored_canonical_bytes(
    store: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    [event] = await store.append("s-1", [noted("a")], expected_version=0)
    canonical = await owner.fetchval("SELECT canonical FROM events WHERE global_position = 1")
    assert event.hash == chain_hash(GENESIS_HASH, canonical)
    assert canonical.startswith(b'{"actor":{')  # RFC 8785: sorted keys, no whitespace
    assert b" " not in canonical.split(b'"data"')[0]


async def test_wrong_expected_version_is_a_specific_error_and_writes_nothing(
    store: PostgresEventStore,
) -> None:
    await store.append("s-1", [noted()], expected_version=0)
    with pytest.raises(WrongExpectedVersion) as caught:
        await store.append("s-1", [noted()], expected_version=0)
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    with pytest.raises(WrongExpectedVersion):
        await store.append("s-new", [noted()], expected_version=3)
    assert await store.head_position() == 1


async def test_append_without_expected_version_goes_to_the_end(store: PostgresEventStore) -> None:
    await store.append("s-1", [noted()], expected_version=None)
    [second] = await store.append("s-1", [noted()], expected_version=None)
    assert second.stream_version == 2


async def test_two_writers_racing_on_one_stream_exactly_one_wins_each_version(
    database_url: str,
) -> None:
    # Two stores are two processes: each has its own pool and its own committer.
    left = await PostgresEventStore.open(database_url, master_key=MASTER_KEY)
    right = await PostgresEventStore.open(database_url, master_key=MASTER_KEY)
    try:
        for version in range(10):
            results = await asyncio.gather(
                left.append("contested", [noted("left")], expected_version=version),
                right.append("contested", [noted("right")], expected_version=version),
                left.append("contested", [noted("left-again")], expected_version=version),
                return_exceptions=True,
            )
            winners = [r for r in results if not isinstance(r, BaseException)]
            losers = [r for r in results if isinstance(r, WrongExpectedVersion)]
            assert len(winners) == 1 and len(losers) == 2, results
        stream = await left.read_stream("contested")
        assert [e.stream_version for e in stream] == list(range(1, 11))
    finally:
        await left.close()
        await right.close()


async def test_eight_writers_on_different_streams_keep_positions_gap_free(
    database_url: str,
) -> None:
    stores = [await PostgresEventStore.open(database_url, master_key=MASTER_KEY) for _ in range(2)]

    async def writer(index: int) -> None:
        store = stores[index % 2]
        for version in range(25):
            await store.append(
                f"writer-{index}", [noted(f"{index}-{version}")], expected_version=version
            )

    try:
        await asyncio.gather(*(writer(i) for i in range(8)))
        log = await stores[0].read_all(limit=10_000)
        assert [e.global_position for e in log] == list(range(1, 201))
        for index in range(8):
            stream = await stores[0].read_stream(f"writer-{index}")
            assert [e.data["summary"] for e in stream] == [f"{index}-{v}" for v in range(25)]
        report = await verify_chain(stores[0])
        assert report.intact and report.events_checked == 200
    finally:
        for store in stores:
            await store.close()


async def test_reappending_an_event_id_returns_the_stored_event(store: PostgresEventStore) -> None:
    event = noted("once")
    [first] = await store.append("s-1", [event], expected_version=0)
    # A retried activity re-sends the same event with the same expected version.
    [again] = await store.append("s-1", [event], expected_version=0)
    assert again == first
    [concurrent_a], [concurrent_b] = await asyncio.gather(
        store.append("s-2", [event2 := noted("twice")], expected_version=0),
        store.append("s-2", [event2], expected_version=0),
    )
    assert concurrent_a == concurrent_b
    assert await store.head_position() == 2


async def test_reusing_an_event_id_with_other_content_is_an_error(
    store: PostgresEventStore,
) -> None:
    event = noted("original")
    await store.append("s-1", [event], expected_version=0)
    altered = event.model_copy(update={"data": {"summary": "altered", "rag": "red"}})
    with pytest.raises(EventIdReused):
        await store.append("s-1", [altered], expected_version=None)
    with pytest.raises(EventIdReused):  # same id, another stream
        await store.append("s-2", [event], expected_version=None)
    assert await store.head_position() == 1


async def test_owner_cannot_update_delete_or_truncate_events(
    store: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    await store.append("s-1", [noted()], expected_version=0)
    for statement in (
        "UPDATE events SET type = 'x'",
        "DELETE FROM events",
        "TRUNCATE events",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await owner.execute(statement)
    assert await owner.fetchval("SELECT count(*) FROM events") == 1


async def test_application_role_may_only_insert_and_read_events(owner: asyncpg.Connection) -> None:
    privileges = {
        privilege: await owner.fetchval(
            "SELECT has_table_privilege('sharehub_app', 'events', $1)", privilege
        )
        for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
    }
    assert privileges == {
        "SELECT": True,
        "INSERT": True,
        "UPDATE": False,
        "DELETE": False,
        "TRUNCATE": False,
    }
    async with owner.transaction():
        await owner.execute("SET LOCAL ROLE sharehub_app")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await owner.execute("UPDATE events SET type = 'x'")


async def test_a_connection_killed_mid_append_leaves_no_partial_event(
    store: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    await store.append("s-1", [noted("before")], expected_version=0)
    # Hold a lock that the store's INSERT needs, so its transaction stops half way:
    # it holds the append lock and has read the head, but has not written.
    await owner.execute("BEGIN; LOCK TABLE events IN SHARE MODE")
    append = asyncio.create_task(
        store.append("s-1", [noted("doomed-1"), noted("doomed-2")], expected_version=1)
    )
    backend = None
    for _ in range(200):
        # Activity is snapshotted once per transaction; the owner is inside one.
        await owner.execute("SELECT pg_stat_clear_snapshot()")
        backend = await owner.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE '%INSERT INTO events%'"
        )
        if backend:
            break
        await asyncio.sleep(0.02)
    assert backend, "the append never reached its INSERT"
    await owner.execute("SELECT pg_terminate_backend($1)", backend)
    await owner.execute("COMMIT")
    with pytest.raises(StoreUnavailable):
        await append
    assert [e.data["summary"] for e in await store.read_all()] == ["before"]
    # The store recovers, positions stay gap-free and the chain intact.
    await store.append("s-1", [noted("after")], expected_version=1)
    assert [e.global_position for e in await store.read_all()] == [1, 2]
    assert (await verify_chain(store)).intact


async def test_subscription_catches_up_then_follows_live_without_skipping_or_repeating(
    store: PostgresEventStore,
) -> None:
    for index in range(5):
        await store.append(f"s-{index}", [noted(str(index))], expected_version=0)
    seen: list[int] = []

    async def follow() -> None:
        async for event in store.subscribe(from_position=3):
            seen.append(event.global_position)
            if event.global_position == 60:
                return

    follower = asyncio.create_task(follow())

    async def writer(index: int) -> None:
        for version in range(11):
            await store.append(f"live-{index}", [noted()], expected_version=version)

    await asyncio.gather(*(writer(i) for i in range(5)))
    await asyncio.wait_for(follower, timeout=10)
    assert seen == list(range(3, 61))


async def test_subscription_falls_back_to_polling_without_notifications(
    store: PostgresEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_listener(*_: object) -> None:
        return None

    monkeypatch.setattr(store, "_listen", no_listener)
    seen: list[int] = []

    async def follow() -> None:
        async for event in store.subscribe(poll_interval=0.05):
            seen.append(event.global_position)
            if len(seen) == 3:
                return

    follower = asyncio.create_task(follow())
    for index in range(3):
        await asyncio.sleep(0.1)
        await store.append(f"s-{index}", [noted()], expected_version=0)
    await asyncio.wait_for(follower, timeout=5)
    assert seen == [1, 2, 3]


async def test_new_event_ids_are_unique_by_default() -> None:
    assert noted().event_id != noted().event_id
    assert isinstance(noted().event_id, uuid.UUID)


async def test_text_a_column_cannot_hold_is_refused_before_anything_is_written(
    store: PostgresEventStore,
) -> None:
    with pytest.raises(ValidationError, match="type"):
        NewEvent(type="Bad\x00Type", actor=OFFICER)
    with pytest.raises(ValueError, match="stream id"):
        await store.append("bad\x00stream", [noted()], expected_version=0)
    assert await store.head_position() == 0
