"""The read-model folds and the projector on a store of their own (no workflow, no bus).

The whole stack's version of these checks, with the demo's requests, is
``tests/workers/hub/test_read_models.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from events.envelope import Actor
from events.postgres import PostgresEventStore
from events.read_models.folds import fold_request, request_key
from events.read_models.projector import CHECKPOINT, READ_MODELS, Projector
from events.read_models.replay import replay_request
from events.share_requests import (
    AdviceSought,
    DisclosureAcknowledged,
    DisclosureSent,
    ShareRequestRaised,
    TriageRecorded,
    stream_id_for,
    subject_id_for,
)

SCHOOL = Actor(id="dsl-okonjo", role="agency", agency="st-aldhelms-primary")
OFFICER = Actor(id="officer-reid", role="hub_officer")
POLICE = Actor(id="dc-harris", role="agency", agency="met-police")


async def _raise_and_work(store: PostgresEventStore) -> tuple[UUID, UUID]:
    """A request raised, rated, advised on and disclosed to the police; its id and the
    disclosure's."""
    request_id, disclosure_id = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    stream = stream_id_for(request_id)
    raised = ShareRequestRaised(
        request_id=request_id,
        referrer_agency="st-aldhelms-primary",
        purpose="to know whether the family is known to the police",
        recipients={"met-police": ["police_records"]},
        lawful_basis="public_task",
        condition=None,
        consent="not_sought",
        child={"nhs_number": "9434765919"},
        details={"people": [], "concern_summary": "bruising seen at school"},
        policy_version="test",
    )
    await store.append(
        stream,
        [raised.to_new_event(actor=SCHOOL, subject_id=subject_id_for(request_id))],
        expected_version=None,
    )
    triaged = TriageRecorded(
        rag="amber",
        rationale="no immediate danger",
        previous_rag=None,
        sla_deadline=now + timedelta(days=1),
        reminders_due=[],
        handed_to_emergency_duty_team=False,
        policy_version="test",
    )
    sought = AdviceSought(
        advice_id=uuid.uuid4(),
        question="may we share without consent?",
        packet={},
        due_by=now + timedelta(hours=4),
        identity_escalation="not_needed",
    )
    sent = DisclosureSent(
        disclosure_id=disclosure_id,
        agency="met-police",
        bus_subject="agencies.met-police.disclosures",
        categories=["police_records"],
        purpose="to know whether the family is known to the police",
        caveats=[],
        acknowledge_by=now + timedelta(days=2),
        policy_version="test",
    )
    acknowledged = DisclosureAcknowledged(disclosure_id=disclosure_id, agency="met-police")
    for event, actor in ((triaged, OFFICER), (sought, OFFICER), (sent, OFFICER)):
        await store.append(stream, [event.to_new_event(actor=actor)], expected_version=None)
    await store.append(stream, [acknowledged.to_new_event(actor=POLICE)], expected_version=None)
    return request_id, disclosure_id


async def _tables(store: PostgresEventStore) -> dict[str, list[dict[str, Any]]]:
    return {
        model.table: await store.query(f"SELECT * FROM {model.table} ORDER BY {model.key}")
        for model in READ_MODELS
    }


async def test_a_request_is_not_a_row_until_it_is_raised(store: PostgresEventStore) -> None:
    request_id, _ = await _raise_and_work(store)
    events = await store.read_stream(stream_id_for(request_id))
    assert all(request_key(e) == request_id for e in events)
    assert fold_request(None, events[1]) is None  # a rating with nothing raised to rate
    row = None
    for event in events:
        row = fold_request(row, event)
    assert row is not None
    assert (row["stage"], row["rag"], row["disclosures_acknowledged"]) == ("triaged", "amber", 1)


async def test_the_projector_writes_what_the_replay_folds(store: PostgresEventStore) -> None:
    request_id, disclosure_id = await _raise_and_work(store)
    head = await Projector(store).catch_up()
    assert head == await store.head_position() == await store.checkpoint(CHECKPOINT)

    tables = await _tables(store)
    replayed = replay_request(await store.read_stream(stream_id_for(request_id)))
    assert tables["share_request_view"] == [replayed.request]
    assert tables["disclosure_view"] == replayed.disclosures
    assert tables["advice_view"] == replayed.advice
    assert tables["disclosure_view"][0]["disclosure_id"] == disclosure_id
    assert tables["disclosure_view"][0]["acknowledged_by"] == POLICE.id


async def test_two_projectors_apply_each_event_once_and_a_rebuild_agrees(
    store: PostgresEventStore,
) -> None:
    await _raise_and_work(store)
    await Projector(store).catch_up()
    await _raise_and_work(store)
    head = await store.head_position()
    both = await asyncio.gather(Projector(store).catch_up(), Projector(store).catch_up())
    assert list(both) == [head, head]
    followed = await _tables(store)
    assert len(followed["share_request_view"]) == 2
    assert [row["disclosures_sent"] for row in followed["share_request_view"]] == [1, 1]

    assert await Projector(store).rebuild() == head
    assert await _tables(store) == followed
