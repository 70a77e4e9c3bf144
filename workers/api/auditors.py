"""Read-only routes for auditors: raw events, a request at a moment, the chain's verdict.

Only auditors read raw events. Reading a request's events, or replaying it, is
recorded in its access log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request

from events.audit import verify_chain
from events.envelope import RecordedEvent
from workers.api.agencies import Limit, _via
from workers.api.context import Auditor, Context
from workers.api.problems import ProblemError, problem_responses
from workers.api.schemas import (
    ActorOut,
    ChainBreak,
    EventOut,
    Page,
    RequestStateOut,
    VerificationOut,
)

router = APIRouter(prefix="/v1/audit", tags=["auditors"])
Position = Annotated[int, Query(ge=1, le=2**62)]


def event_out(event: RecordedEvent) -> EventOut:
    return EventOut(
        global_position=event.global_position,
        stream_id=event.stream_id,
        stream_version=event.stream_version,
        event_id=event.event_id,
        type=event.type,
        schema_version=event.schema_version,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        actor=ActorOut(id=event.actor.id, role=event.actor.role, agency=event.actor.agency),
        correlation_id=event.correlation_id,
        data=event.data,
        metadata=event.metadata,
        prev_hash=event.prev_hash.hex(),
        hash=event.hash.hex(),
        redacted_fields=sorted(event.redacted_fields),
    )


def _page(events: list[RecordedEvent], limit: int, *, next_from: str) -> Page[EventOut]:
    """``limit`` events; with more, a cursor to the next (``next_from``: which number)."""
    more = len(events) > limit
    events = events[:limit]
    last = events[-1] if events else None
    number = {"position": "global_position", "version": "stream_version"}[next_from]
    cursor = f"{getattr(last, number) + 1}" if more and last else None
    return Page(items=[event_out(e) for e in events], next_cursor=cursor)


def _from(cursor: str | None, default: int) -> int:
    if cursor is None:
        return default
    if not cursor.isdigit() or int(cursor) < 1 or len(cursor) > 19:
        raise ProblemError(400, "invalid-cursor", "Invalid cursor", "the cursor is a position")
    return int(cursor)


@router.get(
    "/streams/{stream_id}/events",
    response_model=Page[EventOut],
    # 404: a stream id with a "/" in it names no route at all.
    responses=problem_responses(400, 401, 403, 404, 503),
)
async def stream_events(
    stream_id: Annotated[str, Path(min_length=1, max_length=300)],
    hub: Context,
    auditor: Auditor,
    request: Request,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    limit: Limit = 100,
) -> Page[EventOut]:
    """The events of one stream in version order (e.g. ``share-request-<uuid>``).

    Reading a request's own events is a view of the request (in its access log).
    """
    events = await hub.store.read_stream(stream_id, from_version=_from(cursor, 1))
    page = _page(events[: limit + 1], limit, next_from="version")
    await hub.records.raw_events_viewed(events[:limit], viewer=auditor, via=_via(request))
    return page


@router.get(
    "/events", response_model=Page[EventOut], responses=problem_responses(400, 401, 403, 503)
)
async def events_by_position(
    hub: Context,
    auditor: Auditor,
    request: Request,
    from_position: Position = 1,
    to_position: Position | None = None,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    limit: Limit = 100,
) -> Page[EventOut]:
    """Events of the whole log by global position, from ``from_position`` to ``to_position``.

    Each request whose own events the page shows is viewed (in its access log).
    """
    start = _from(cursor, from_position)
    events = await hub.store.read_all(from_position=start, limit=limit + 1)
    if to_position is not None:
        events = [e for e in events if e.global_position <= to_position]
    page = _page(events, limit, next_from="position")
    await hub.records.raw_events_viewed(events[:limit], viewer=auditor, via=_via(request))
    return page


@router.get(
    "/share-requests/{request_id}/state",
    response_model=RequestStateOut,
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def request_state(
    request_id: UUID,
    hub: Context,
    auditor: Auditor,
    request: Request,
    at: Annotated[datetime | None, Query(description="As recorded by this moment")] = None,
    position: Annotated[
        int | None, Query(ge=0, le=2**62, description="Up to this position")
    ] = None,
) -> RequestStateOut:
    """The request as its events up to ``at`` or ``position`` show it (now by default)."""
    if at is not None and at.tzinfo is None:
        raise ProblemError(
            422, "invalid-input", "The input is not valid", "at: give a time zone (e.g. Z)"
        )
    state = await hub.records.request_state(
        request_id, at=at, position=position, viewer=auditor, via=_via(request)
    )
    return RequestStateOut(
        request=state.request,
        disclosures=state.disclosures,
        advice=state.advice,
        events_applied=state.events_applied,
    )


@router.get(
    "/verification", response_model=VerificationOut, responses=problem_responses(401, 403, 503)
)
async def verification(hub: Context, auditor: Auditor) -> VerificationOut:
    """Walk the whole hash chain now and report the first broken link, if any."""
    report = await verify_chain(hub.store)
    brk = report.first_break
    return VerificationOut(
        intact=brk is None,
        events_checked=report.events_checked,
        head_hash=report.head_hash.hex(),
        first_break=None
        if brk is None
        else ChainBreak(global_position=brk.global_position, reason=brk.reason),
    )
