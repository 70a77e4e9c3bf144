"""Retention: the end of a request's personal data, by destroying its subject key.

The data sharing agreement keeps a request's record for ``years_after_closure``
years after it finishes (closed, or withdrawn). After that, its subject's data
key is destroyed ("crypto-shredding"): the child's identity and the account of
the concern become unreadable in every event that holds them, while every
event, hash and checkpoint stays as it was, so the chain and the checkpoints
still verify and the record of what was decided, when and by whom remains.

Each shredding is itself on the record: a ``SubjectShredded`` event in the
stream ``retention-<subject>``, naming the closure and the rule applied. Its
event id is derived from the subject, so a run that is interrupted between
destroying a key and recording it simply records it on the next run, once.
"""

from __future__ import annotations

import calendar
import contextlib
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid5

from events.envelope import Actor, RecordedEvent
from events.errors import EventIdReused
from events.registry import DomainEvent, EventRegistry
from events.share_requests import request_id_of, subject_id_for
from events.store import EventStore

retention_events = EventRegistry()

FINISHING_EVENT_TYPES = ("ShareRequestClosed", "ShareRequestWithdrawn")
_SHREDDING_IDS = UUID("6d1f6c84-54a4-4d39-9a0f-2f1b5d7f0e11")  # namespace for uuid5


def retention_stream(subject_id: str) -> str:
    return f"retention-{subject_id}"


@retention_events.event
class SubjectShredded(DomainEvent):
    """The subject's data key was destroyed at the end of its retention period."""

    event_type = "SubjectShredded"

    subject_id: str
    request_id: UUID
    finished_at: datetime
    retention_years: int
    due_from: datetime
    policy_version: str


def retention_ends(finished_at: datetime, years: int) -> datetime:
    """The same day and time ``years`` later (29 February ends on 28 February)."""
    year = finished_at.year + years
    day = min(finished_at.day, calendar.monthrange(year, finished_at.month)[1])
    return finished_at.replace(year=year, day=day)


@dataclass(frozen=True, kw_only=True)
class DueSubject:
    subject_id: str
    request_id: UUID
    finished_at: datetime
    due_from: datetime


def due_subjects(
    finishing: list[RecordedEvent], shredded: set[str], *, years: int, now: datetime
) -> list[DueSubject]:
    """Requests finished (``finishing`` events) whose retention has ended and that are
    not yet recorded as shredded, oldest first."""
    due: dict[str, DueSubject] = {}
    for event in finishing:
        request_id = request_id_of(event.stream_id)
        if request_id is None:
            continue
        subject = subject_id_for(request_id)
        ends = retention_ends(event.recorded_at, years)
        if subject in shredded or ends > now or subject in due:
            continue
        due[subject] = DueSubject(
            subject_id=subject, request_id=request_id, finished_at=event.recorded_at, due_from=ends
        )
    return sorted(due.values(), key=lambda d: d.finished_at)


@dataclass(frozen=True, kw_only=True)
class RetentionRun:
    shredded: list[DueSubject]
    keys_already_destroyed: int  # due subjects whose key an interrupted run had destroyed


async def run_retention(
    store: EventStore,
    *,
    years: int,
    policy_version: str,
    now: datetime,
    actor: Actor,
    dry_run: bool = False,
) -> RetentionRun:
    """Shred every subject whose retention ended by ``now``, and record each."""
    finishing = await store.read_types(FINISHING_EVENT_TYPES, sealed=True)
    recorded = await store.read_types([SubjectShredded.event_type], sealed=True)
    already = {str(e.data["subject_id"]) for e in recorded}
    due = due_subjects(finishing, already, years=years, now=now)
    if dry_run:
        return RetentionRun(shredded=due, keys_already_destroyed=0)
    destroyed_before = 0
    for subject in due:
        if not await store.shred(subject.subject_id):
            destroyed_before += 1
        event = SubjectShredded(
            subject_id=subject.subject_id,
            request_id=subject.request_id,
            finished_at=subject.finished_at,
            retention_years=years,
            due_from=subject.due_from,
            policy_version=policy_version,
        )
        new = event.to_new_event(
            actor=actor,
            correlation_id=str(subject.request_id),
            event_id=uuid5(_SHREDDING_IDS, subject.subject_id),
        )
        # EventIdReused: a run alongside this one recorded it first, at its own moment.
        with contextlib.suppress(EventIdReused):
            await store.append(retention_stream(subject.subject_id), [new], expected_version=None)
    return RetentionRun(shredded=due, keys_already_destroyed=destroyed_before)
