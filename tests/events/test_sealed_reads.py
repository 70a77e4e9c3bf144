"""Sealed reads: events exactly as stored, personal fields still ciphertext, for the bus."""

from __future__ import annotations

import asyncio

from events.crypto import is_encrypted
from events.postgres import PostgresEventStore
from tests.events.sample_events import OFFICER, ChildIdentified, concern

CHILD = ChildIdentified(
    name="Amara Okafor", date_of_birth="2016-03-02", nhs_number="9434765919", area="Mitcham"
)
PERSONAL = ("name", "date_of_birth", "nhs_number")


async def append_child_and_concern(store: PostgresEventStore) -> None:
    await store.append(
        "request-1",
        [
            CHILD.to_new_event(actor=OFFICER, subject_id="child-1"),
            concern().to_new_event(actor=OFFICER),
        ],
        expected_version=0,
    )


async def test_read_all_sealed_keeps_personal_fields_as_ciphertext(
    store: PostgresEventStore,
) -> None:
    await append_child_and_concern(store)

    sealed_child, sealed_concern = await store.read_all(sealed=True)
    opened_child, opened_concern = await store.read_all()

    for field in PERSONAL:
        assert is_encrypted(sealed_child.data[field])
    assert "Amara" not in repr(sealed_child.data)
    assert sealed_child.data["area"] == "Mitcham"
    assert sealed_child.redacted_fields == frozenset()
    assert opened_child.data["name"] == "Amara Okafor"
    # Everything else is the same event.
    assert (sealed_child.event_id, sealed_child.hash) == (opened_child.event_id, opened_child.hash)
    assert sealed_concern.data == opened_concern.data


async def test_sealed_reads_need_no_subject_key(store: PostgresEventStore) -> None:
    await append_child_and_concern(store)
    [stored] = await store.read_all(limit=1, sealed=True)
    await store.shred("child-1")

    [after_shredding] = await store.read_all(limit=1, sealed=True)

    assert after_shredding.data == stored.data  # ciphertext as stored, not "redacted"
    assert after_shredding.redacted_fields == frozenset()


async def test_a_sealed_subscription_yields_ciphertext(store: PostgresEventStore) -> None:
    await append_child_and_concern(store)

    async def first_two() -> list[dict[str, object]]:
        seen = []
        async for event in store.subscribe(sealed=True, poll_interval=0.05):
            seen.append(event.data)
            if len(seen) == 2:
                return seen
        return seen

    child, _ = await asyncio.wait_for(first_two(), 5)
    assert all(is_encrypted(child[field]) for field in PERSONAL)
