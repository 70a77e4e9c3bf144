"""The bus relay against real PostgreSQL and real NATS JetStream.

Each test starts from an empty ``SHAREHUB_EVENTS`` stream and a freshly migrated
database; the outage tests run a NATS server of their own, to stop and restart it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.api import RawStreamMsg, StreamConfig
from nats.js.errors import NotFoundError

from events.envelope import NewEvent, RecordedEvent
from events.postgres import PostgresEventStore, migrate
from tests.conftest import NATS_SERVICE_SEED
from tests.events.conftest import MASTER_KEY
from tests.events.sample_events import OFFICER, ChildIdentified, concern
from workers.bus.cloudevents import CONTENT_TYPE
from workers.bus.relay import CHECKPOINT_NAME, DUPLICATE_WINDOW, EventRelay, nats_broker
from workers.bus.streams import EVENTS_STREAM, EVENTS_SUBJECTS
from workers.stack.embedded import EmbeddedNats, free_port

CHILD = ChildIdentified(
    name="Amara Okafor", date_of_birth="2016-03-02", nhs_number="9434765919", area="Mitcham"
)
SECRETS = (b"Amara", b"Okafor", b"2016-03-02", b"9434765919")


# --- fixtures and helpers -------------------------------------------------------------


@pytest.fixture
async def store(empty_database: str) -> AsyncIterator[PostgresEventStore]:
    await migrate(empty_database)
    async with await PostgresEventStore.open(empty_database, master_key=MASTER_KEY) as store:
        yield store


@pytest.fixture
async def bus(nats_url: str) -> str:
    """The session's NATS, without the events stream a previous test left."""
    connection = await nats.connect(nats_url, nkeys_seed_str=NATS_SERVICE_SEED)
    try:
        with contextlib.suppress(NotFoundError):
            await connection.jetstream().delete_stream(EVENTS_STREAM)
    finally:
        await connection.close()
    return nats_url


@contextlib.asynccontextmanager
async def running_relay(
    store: PostgresEventStore, nats_url: str, *, checkpoint_name: str = CHECKPOINT_NAME
) -> AsyncIterator[EventRelay]:
    """A relay with short timeouts, stopped (checkpoint saved) on leaving the block."""
    broker = nats_broker(nats_url, seed=NATS_SERVICE_SEED)
    relay = EventRelay(
        store,
        broker,
        checkpoint_name=checkpoint_name,
        checkpoint_interval=0.05,
        publish_timeout=0.5,
        first_retry_delay=0.05,
        max_retry_delay=0.3,
    )
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task  # and any bug of the relay's surfaces here
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await broker.stop()


async def checkpoint_reaches(
    store: PostgresEventStore, position: int, *, name: str = CHECKPOINT_NAME
) -> None:
    async with asyncio.timeout(15):
        while await store.checkpoint(name) < position:  # noqa: ASYNC110 - a table signals nothing
            await asyncio.sleep(0.02)


async def messages_on_bus(nats_url: str) -> list[RawStreamMsg]:
    """Every message of the events stream, in stream order."""
    connection = await nats.connect(nats_url, nkeys_seed_str=NATS_SERVICE_SEED)
    try:
        streams = connection.jetstream()
        state = (await streams.stream_info(EVENTS_STREAM)).state
        if not state.messages:
            return []
        return [
            await streams.get_msg(EVENTS_STREAM, sequence)
            for sequence in range(state.first_seq, state.last_seq + 1)
        ]
    finally:
        await connection.close()


def body(message: RawStreamMsg) -> dict[str, Any]:
    assert message.data is not None
    parsed: dict[str, Any] = json.loads(message.data)
    return parsed


async def append_concerns(store: PostgresEventStore, stream_id: str, count: int) -> None:
    events: list[NewEvent] = [
        concern(f"concern {i}").to_new_event(actor=OFFICER) for i in range(count)
    ]
    await store.append(stream_id, events, expected_version=None)


# --- the messages ---------------------------------------------------------------------


async def test_stored_events_appear_in_order_as_cloudevents(
    store: PostgresEventStore, bus: str
) -> None:
    recorded: list[RecordedEvent] = []
    recorded += await store.append(
        "request-1",
        [CHILD.to_new_event(actor=OFFICER, subject_id="child-1", correlation_id="req-1")],
        expected_version=0,
    )
    recorded += await store.append(
        "request-2", [concern().to_new_event(actor=OFFICER)], expected_version=0
    )
    async with running_relay(store, bus):
        await checkpoint_reaches(store, 2)
        # Then it follows live appends.
        recorded += await store.append(
            "request-1", [concern("later").to_new_event(actor=OFFICER)], expected_version=1
        )
        await checkpoint_reaches(store, 3)

    messages = await messages_on_bus(bus)

    assert [body(m)["id"] for m in messages] == [str(e.event_id) for e in recorded]
    assert [m.headers and m.headers["Nats-Msg-Id"] for m in messages] == [
        str(e.event_id) for e in recorded
    ]
    assert [m.subject for m in messages] == [
        "sharehub.events.ChildIdentified",
        "sharehub.events.ConcernNoted",
        "sharehub.events.ConcernNoted",
    ]
    first = body(messages[0])
    child = recorded[0]
    assert messages[0].headers is not None
    assert messages[0].headers["content-type"] == CONTENT_TYPE
    assert {k: v for k, v in first.items() if k != "data"} == {
        "specversion": "1.0",
        "id": str(child.event_id),
        "source": "sharehub",
        "type": "uk.sharehub.ChildIdentified",
        "subject": "request-1",
        "time": child.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "datacontenttype": "application/json",
        "globalposition": 1,
        "streamversion": 1,
        "schemaversion": 1,
        "recordedtime": child.recorded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "hash": child.hash.hex(),
        "prevhash": child.prev_hash.hex(),
        "correlationid": "req-1",
        "actorrole": "hub_officer",
        "actoragency": "lbm-csc",
    }
    assert all(name.isalnum() and name.islower() for name in first)
    assert [body(m)["globalposition"] for m in messages] == [1, 2, 3]
    assert body(messages[2])["data"] == {"summary": "later", "rag": "red"}


async def test_personal_fields_travel_only_as_ciphertext(
    store: PostgresEventStore, bus: str
) -> None:
    await store.append(
        "request-1", [CHILD.to_new_event(actor=OFFICER, subject_id="child-1")], expected_version=0
    )
    async with running_relay(store, bus):
        await checkpoint_reaches(store, 1)

    [message] = await messages_on_bus(bus)

    assert message.data is not None
    raw = message.data + json.dumps(message.headers).encode()
    for secret in SECRETS:
        assert secret not in raw
    [sealed] = await store.read_all(sealed=True)
    assert body(message)["data"] == sealed.data  # the store's own ciphertext, as hashed
    assert body(message)["data"]["name"].startswith("sharehub:aes256gcm:v1:")
    assert body(message)["data"]["area"] == "Mitcham"


# --- checkpoints and de-duplication ---------------------------------------------------


async def test_a_restarted_relay_resumes_and_the_bus_holds_each_event_once(
    store: PostgresEventStore, bus: str
) -> None:
    await append_concerns(store, "request-1", 5)
    async with running_relay(store, bus) as first_run:
        await checkpoint_reaches(store, 5)
    assert (first_run.published, first_run.duplicates) == (5, 0)

    await append_concerns(store, "request-2", 3)
    async with running_relay(store, bus) as second_run:
        await checkpoint_reaches(store, 8)
    assert (second_run.published, second_run.duplicates) == (3, 0)  # resumed at 6

    # Deliberately re-publish everything, as a relay that lost its checkpoint
    # would: JetStream recognises each Nats-Msg-Id and stores nothing twice.
    async with running_relay(store, bus, checkpoint_name="bus-relay-replay") as replay:
        await checkpoint_reaches(store, 8, name="bus-relay-replay")
    assert (replay.published, replay.duplicates) == (0, 8)

    messages = await messages_on_bus(bus)
    assert [body(m)["globalposition"] for m in messages] == list(range(1, 9))
    assert len({body(m)["id"] for m in messages}) == 8


async def test_the_stream_is_created_or_widened_without_losing_its_settings(
    store: PostgresEventStore, bus: str
) -> None:
    connection = await nats.connect(bus, nkeys_seed_str=NATS_SERVICE_SEED)
    try:
        streams = connection.jetstream()
        await streams.add_stream(
            StreamConfig(name=EVENTS_STREAM, subjects=["legacy.>"], max_msgs=1000)
        )
        await append_concerns(store, "request-1", 1)
        async with running_relay(store, bus):
            await checkpoint_reaches(store, 1)
        config = (await streams.stream_info(EVENTS_STREAM)).config
    finally:
        await connection.close()

    assert config.subjects == ["legacy.>", EVENTS_SUBJECTS]
    assert config.duplicate_window == DUPLICATE_WINDOW.total_seconds()
    assert config.max_msgs == 1000


# --- outages --------------------------------------------------------------------------


@pytest.fixture
async def own_nats(tmp_path: Path) -> AsyncIterator[EmbeddedNats]:
    """A NATS server of this test's own, to stop and start again on the same port."""
    server = EmbeddedNats(tmp_path / "nats", free_port())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_a_nats_outage_holds_the_checkpoint_and_loses_nothing(
    store: PostgresEventStore, own_nats: EmbeddedNats
) -> None:
    await append_concerns(store, "request-1", 2)
    async with running_relay(store, own_nats.url) as relay:
        await checkpoint_reaches(store, 2)

        await own_nats.stop()
        await append_concerns(store, "request-1", 3)
        await asyncio.sleep(1.5)  # several failed publishes and retries
        assert await store.checkpoint(CHECKPOINT_NAME) == 2

        await own_nats.start()
        await checkpoint_reaches(store, 5)

    messages = await messages_on_bus(own_nats.url)
    assert [body(m)["globalposition"] for m in messages] == [1, 2, 3, 4, 5]
    assert relay.published + relay.duplicates == 5


async def test_a_relay_started_before_nats_waits_for_it(
    store: PostgresEventStore, own_nats: EmbeddedNats
) -> None:
    await own_nats.stop()
    await append_concerns(store, "request-1", 2)
    async with running_relay(store, own_nats.url):
        await asyncio.sleep(1.0)
        assert await store.checkpoint(CHECKPOINT_NAME) == 0

        await own_nats.start()
        await checkpoint_reaches(store, 2)

    assert [body(m)["globalposition"] for m in await messages_on_bus(own_nats.url)] == [1, 2]
