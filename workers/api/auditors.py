"""Read-only routes for auditors: raw events, a request at a moment, the log's verdict,
signed checkpoints with inclusion proofs, and the report of every decision.

The same functions as ``sharehub audit …``. Only auditors read raw events.
Reading a request's events, replaying it, or reporting its decision is recorded
in its access log.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response

from events.envelope import RecordedEvent
from events.errors import ProofUnavailable
from events.signed_checkpoints import SignedCheckpoint
from events.verify import prove_inclusion
from workers.api.agencies import Limit, _via
from workers.api.context import Auditor, Context
from workers.api.problems import ProblemError, problem_responses
from workers.api.schemas import (
    ChainBreak,
    CheckpointFailure,
    CheckpointOut,
    EventOut,
    InclusionProofOut,
    Page,
    RequestStateOut,
    VerificationOut,
)
from workers.audit.report import decision_report
from workers.audit.report_formats import MEDIA_TYPES, ReportFormat, render_report
from workers.audit.verification import Verification, verify_now
from workers.hub.records import timeline_entry, with_actor_names
from workers.hub.views import ActorOut, TimelineEntry

logger = logging.getLogger(__name__)

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
    """The request as its events up to ``at`` or ``position`` show it (now by default),
    rebuilt from the event store alone, with the events that made it so. Each "who"
    is the actor id as recorded, with its name beside it (``decided_by_name``, the
    timeline's ``actor.name``)."""
    if at is not None and at.tzinfo is None:
        raise ProblemError(
            422, "invalid-input", "The input is not valid", "at: give a time zone (e.g. Z)"
        )
    replay = await hub.records.replay(
        request_id, at=at, position=position, viewer=auditor, via=_via(request)
    )
    state, names = replay.state, replay.actor_names
    return RequestStateOut(
        request=with_actor_names(state.request, names),
        disclosures=[with_actor_names(d, names) or {} for d in state.disclosures],
        advice=[with_actor_names(a, names) or {} for a in state.advice],
        events_applied=state.events_applied,
        events_after=replay.later,
        timeline=[TimelineEntry.model_validate(timeline_entry(e, names)) for e in replay.applied],
    )


@router.get(
    "/verification", response_model=VerificationOut, responses=problem_responses(401, 403, 503)
)
async def verification(hub: Context, auditor: Auditor) -> VerificationOut:
    """Walk the whole hash chain and check every signed checkpoint now; the first failure.

    Checkpoints are checked with the deployment's public key, and against their
    copy on the bus when the bus can be reached (``bus_copy`` says). Signed
    checkpoints that cannot be checked at all (no public key, or a bus copy that
    does not read as checkpoints) are a failure, as for ``sharehub audit verify``:
    ``intact`` is false and ``checkpoint_failure`` names the first of them (tree
    size 0 when the database holds none).
    """
    verified = await verify_now(hub.store, hub.settings)
    report = verified.report
    brk, failure = report.first_break, verified.checkpoint_failure
    return VerificationOut(
        intact=verified.intact,
        events_checked=report.events_checked,
        head_hash=report.head_hash.hex(),
        first_break=None
        if brk is None
        else ChainBreak(global_position=brk.global_position, reason=brk.reason),
        checkpoints_checked=report.checkpoints_checked,
        checkpoint_failure=None
        if failure is None
        else CheckpointFailure(tree_size=failure.tree_size, reason=failure.reason),
        latest_checkpoint=None
        if report.latest_checkpoint is None
        else checkpoint_out(report.latest_checkpoint),
        bus_copy=_bus_copy_out(verified),
    )


def _bus_copy_out(verified: Verification) -> str:
    """Whether the checkpoints' bus copy was compared, and if not why (errors stay in the log)."""
    copy = verified.bus_copy
    match copy.state:
        case "compared":
            return f"{copy.compared} checkpoints compared"
        case "no NATS":
            return "not compared: no NATS configured"
        case "unreachable":
            logger.warning("checkpoint copies unavailable: %s", copy.problem)
            return "not compared: the bus could not be read"
        case "unreadable":
            logger.warning("checkpoint copies unreadable: %s", copy.problem)
            return "not compared: the copy does not read as checkpoints"
        case "no key":
            return f"not compared: checkpoints not checked ({verified.trusted.problem})"
    return "not compared: not asked"


def checkpoint_out(checkpoint: SignedCheckpoint) -> CheckpointOut:
    return CheckpointOut(
        tree_size=checkpoint.tree_size,
        root_hash=checkpoint.root_hash.hex(),
        head_hash=checkpoint.head_hash.hex(),
        signed_at=checkpoint.signed_at,
        key_id=checkpoint.key_id.hex(),
        signature=checkpoint.signature.hex(),
        statement=checkpoint.statement().decode(),
    )


@router.get(
    "/checkpoints",
    response_model=Page[CheckpointOut],
    responses=problem_responses(400, 401, 403, 503),
)
async def checkpoints(
    hub: Context,
    auditor: Auditor,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    limit: Limit = 100,
) -> Page[CheckpointOut]:
    """The signed checkpoints, smallest tree first; verify each with the public key."""
    after = _from(cursor, 1) - 1
    found = await hub.store.signed_checkpoints(after_size=after)
    more = len(found) > limit
    found = found[:limit]
    return Page(
        items=[checkpoint_out(c) for c in found],
        next_cursor=f"{found[-1].tree_size + 1}" if more and found else None,
    )


@router.get(
    "/checkpoints/latest",
    response_model=CheckpointOut,
    responses=problem_responses(401, 403, 404, 503),
)
async def latest_checkpoint(hub: Context, auditor: Auditor) -> CheckpointOut:
    """The checkpoint over the most events."""
    latest = await hub.store.latest_signed_checkpoint()
    if latest is None:
        raise ProblemError(404, "no-checkpoint", "No checkpoint yet", "none has been signed yet")
    return checkpoint_out(latest)


@router.get(
    "/events/{event_id}/inclusion-proof",
    response_model=InclusionProofOut,
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def inclusion_proof(event_id: UUID, hub: Context, auditor: Auditor) -> InclusionProofOut:
    """That the event is in the log the latest signed checkpoint covers (RFC 9162 §2.1.3)."""
    if await hub.store.position_of(event_id) is None:
        raise ProblemError(404, "not-found", "Not found", f"no event {event_id} is recorded")
    try:
        proof = await prove_inclusion(hub.store, event_id)
    except ProofUnavailable as e:
        raise ProblemError(
            409, "not-yet-checkpointed", "Not covered by a checkpoint yet", str(e)
        ) from e
    return InclusionProofOut(
        event_id=proof.event_id,
        global_position=proof.global_position,
        leaf_index=proof.leaf_index,
        event_hash=proof.event_hash.hex(),
        audit_path=[h.hex() for h in proof.audit_path],
        checkpoint=checkpoint_out(proof.checkpoint),
        verifies=proof.verifies(),
    )


@router.get(
    "/report",
    response_class=Response,
    responses={
        200: {
            "description": "The report",
            "content": {media: {} for media in MEDIA_TYPES.values()},
        },
        **problem_responses(401, 403, 422, 503),
    },
)
async def report(
    hub: Context,
    auditor: Auditor,
    request: Request,
    start: Annotated[datetime, Query(alias="from", description="Included (with a time zone)")],
    end: Annotated[datetime, Query(alias="to", description="Excluded (with a time zone)")],
    format: Annotated[ReportFormat, Query(description="csv, json or fhir")] = "csv",
    agency: Annotated[str | None, Query(max_length=100)] = None,
    access_log: Annotated[bool, Query(description="json and fhir only")] = False,
) -> Response:
    """Golden rule 7: one row per decision made in the period (the same as `sharehub audit
    report`). Producing it reads who each child is: it is put on each request's access log."""
    for name, moment in (("from", start), ("to", end)):
        if moment.tzinfo is None:
            raise ProblemError(
                422, "invalid-input", "The input is not valid", f"{name}: give a time zone"
            )
    if access_log and format == "csv":
        raise ProblemError(
            422,
            "invalid-input",
            "The input is not valid",
            "access_log: the csv is one row per decision; ask json or fhir for the access log",
        )
    try:
        made = await decision_report(
            hub.store, start=start, end=end, agency=agency, include_access_log=access_log
        )
    except ValueError as e:  # the period: backwards, or beyond the years it may span
        raise ProblemError(422, "invalid-input", "The input is not valid", str(e)) from e
    await hub.records.report_viewed(
        (row.request_id for row in made.decisions), viewer=auditor, via=_via(request)
    )
    filename = f"sharehub-decisions-{start:%Y%m%d}-{end:%Y%m%d}.{_SUFFIX[format]}"
    return Response(
        render_report(made, format),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


_SUFFIX = {"csv": "csv", "json": "json", "fhir": "fhir.json"}
