"""A share request as it stood at a moment, rebuilt from the event store alone.

An auditor asks "what did the hub know, and what had it decided, when it did
this?". The answer folds the request's own events up to the moment with the
read models' pure folds (:mod:`events.read_models.folds`, :func:`replay_request`), so
the replay and the live views can never disagree about what an event means. Neither
Temporal nor the read-model tables are consulted: both may be long gone when an
auditor asks.

A moment is a recorded time (``at``: events the store had recorded by then) or
a global position (``position``: events up to and including it). Recorded time,
not the time an event says it happened: the question is what was on the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from events.access import client_names_in_log
from events.envelope import RecordedEvent
from events.read_models.folds import (
    Row,
    advice_key,
    disclosure_key,
    fold_advice,
    fold_disclosure,
    fold_request,
)
from events.share_requests import stream_id_for
from events.store import EventStore


@dataclass(frozen=True)
class RequestState:
    """A request as the events up to some moment show it (for auditors' replay)."""

    request: Row | None
    disclosures: list[Row]
    advice: list[Row]
    events_applied: int


def replay_request(events: Iterable[RecordedEvent]) -> RequestState:
    """Fold a request's events in memory with the read models' own folds."""
    request: Row | None = None
    disclosures: dict[UUID, Row] = {}
    advice: dict[UUID, Row] = {}
    applied = 0
    for event in events:
        applied += 1
        request = fold_request(request, event)
        for rows, key_of, fold in (
            (disclosures, disclosure_key, fold_disclosure),
            (advice, advice_key, fold_advice),
        ):
            key = key_of(event)
            if key is not None:
                row = fold(rows.get(key), event)
                if row is not None:
                    rows[key] = row
    return RequestState(request, list(disclosures.values()), list(advice.values()), applied)


@dataclass(frozen=True, kw_only=True)
class RequestReplay:
    request_id: UUID
    at: datetime | None
    position: int | None
    state: RequestState
    applied: list[RecordedEvent]  # the request's events up to the moment, in order
    later: int  # how many of its events came after the moment
    # The name of each actor of ``applied`` that is an API client's id (from the
    # clients' own streams); other actor ids, older events' names among them, read
    # as recorded.
    actor_names: Mapping[str, str] = field(default_factory=dict)

    def name_of(self, actor_id: str) -> str:
        return self.actor_names.get(actor_id, actor_id)


def replay_at(
    request_id: UUID,
    events: list[RecordedEvent],
    *,
    at: datetime | None = None,
    position: int | None = None,
) -> RequestReplay:
    """Fold ``events`` (the request's stream, in order) up to the moment."""
    if at is not None and at.tzinfo is None:
        raise ValueError("a replay moment must carry its time zone")
    applied = [
        e
        for e in events
        if (at is None or e.recorded_at <= at)
        and (position is None or e.global_position <= position)
    ]
    return RequestReplay(
        request_id=request_id,
        at=at,
        position=position,
        state=replay_request(applied),
        applied=applied,
        later=len(events) - len(applied),
    )


async def replay_request_at(
    store: EventStore,
    request_id: UUID,
    *,
    at: datetime | None = None,
    position: int | None = None,
) -> RequestReplay | None:
    """The request at the moment, or None when no such request was ever raised."""
    events = await store.read_stream(stream_id_for(request_id))
    if not events:
        return None
    replay = replay_at(request_id, events, at=at, position=position)
    names = await client_names_in_log(store, [e.actor.id for e in replay.applied])
    return replace(replay, actor_names=names)
