"""Personal data is encrypted per subject; shredding a subject's key redacts it for good."""

from __future__ import annotations

import asyncpg
import pytest

from events.envelope import REDACTED
from events.errors import SubjectKeyDestroyed
from events.postgres import PostgresEventStore
from events.verify import verify_chain
from tests.events.sample_events import OFFICER, ChildIdentified, registry

CHILD = ChildIdentified(
    name="Amara Okafor", date_of_birth="2016-03-02", nhs_number="9434765919", area="Mitcham"
)


async def test_personal_fields_are_stored_encrypted_and_read_back_in_clear(
    store: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    await store.append(
        "request-1", [CHILD.to_new_event(actor=OFFICER, subject_id="child-1")], expected_version=0
    )
    raw = await owner.fetchrow("SELECT data::text AS data, canonical FROM events")
    assert raw is not None
    for secret in ("Amara", "Okafor", "2016-03-02", "9434765919"):
        assert secret not in raw["data"]
        assert secret.encode() not in raw["canonical"]
    assert "Mitcham" in raw["data"]  # not personal: stays readable for reports
    [recorded] = await store.read_stream("request-1")
    assert registry.decode(recorded) == CHILD
    keys = await owner.fetchval("SELECT wrapped_key FROM subject_keys WHERE subject_id = 'child-1'")
    assert keys is not None and CHILD.name.encode() not in keys


async def test_shredding_redacts_the_subject_and_the_chain_still_verifies(
    store: PostgresEventStore,
) -> None:
    await store.append(
        "request-1", [CHILD.to_new_event(actor=OFFICER, subject_id="child-1")], expected_version=0
    )
    other = CHILD.model_copy(update={"name": "Leo Grant"})
    await store.append(
        "request-2", [other.to_new_event(actor=OFFICER, subject_id="child-2")], expected_version=0
    )

    assert await store.shred("child-1") is True
    assert await store.shred("child-1") is False  # once only

    [shredded] = await store.read_stream("request-1")
    assert shredded.redacted_fields == {"name", "date_of_birth", "nhs_number"}
    assert shredded.data["name"] == REDACTED and shredded.data["area"] == "Mitcham"
    with pytest.raises(SubjectKeyDestroyed):
        registry.decode(shredded)
    [untouched] = await store.read_stream("request-2")
    assert untouched.data["name"] == "Leo Grant"
    assert (await verify_chain(store)).intact
    with pytest.raises(SubjectKeyDestroyed):
        await store.append(
            "request-1",
            [CHILD.to_new_event(actor=OFFICER, subject_id="child-1")],
            expected_version=1,
        )


async def test_a_shredded_key_cannot_be_restored_or_deleted(
    store: PostgresEventStore, owner: asyncpg.Connection
) -> None:
    await store.append(
        "request-1", [CHILD.to_new_event(actor=OFFICER, subject_id="child-1")], expected_version=0
    )
    await store.shred("child-1")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await owner.execute("UPDATE subject_keys SET wrapped_key = '\\x00', shredded_at = NULL")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await owner.execute("DELETE FROM subject_keys")


async def test_a_retried_append_with_personal_data_is_recognised(
    store: PostgresEventStore,
) -> None:
    # Encryption is randomised, so the retry's ciphertext differs: the store
    # compares the plaintext and returns the recorded event.
    event = CHILD.to_new_event(actor=OFFICER, subject_id="child-1")
    [first] = await store.append("request-1", [event], expected_version=0)
    [again] = await store.append("request-1", [event], expected_version=0)
    assert again == first
    assert await store.head_position() == 1


def test_personal_events_need_a_subject() -> None:
    with pytest.raises(ValueError, match="subject_id"):
        CHILD.to_new_event(actor=OFFICER)
