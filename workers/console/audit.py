"""The auditor's pages: is the log intact, a request at any moment, the decision report.

- ``/audit`` walks the hash chain and checks every signed checkpoint and its copy
  on the bus now (:func:`workers.audit.verification.verify_now`, as ``sharehub
  audit verify`` does) and shows the verdict, the latest signed checkpoint and
  what became of the bus copy, beside the forms of the two pages below.
- ``/audit/replay`` rebuilds a request from its own events up to a position or a
  recorded moment (:meth:`Records.replay`, in the access log), with each event
  linked to replay up to it.
- ``/audit/report`` downloads the record of every decision of a period
  (:func:`workers.audit.report.decision_report`) as CSV, a FHIR R5 Bundle or JSON;
  each request the report shows is a view in its access log.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from workers.audit.report import decision_report
from workers.audit.report_formats import MEDIA_TYPES, REPORT_FORMATS, render_report
from workers.audit.verification import BusCopy, verify_now
from workers.console import labels
from workers.console.routing import ConsoleRoute, context_of, via
from workers.console.sessions import Auditor
from workers.console.templates import render
from workers.hub.records import RecordNotFound

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
Text = Annotated[str, Query(max_length=100)]
_REPORT_DAYS = 31


@router.get("/audit")
async def audit_page(request: Request, person: Auditor) -> Response:
    return render(request, "audit.html", **await _audit_page(request))


async def _audit_page(request: Request, **extra: Any) -> dict[str, Any]:
    context = context_of(request)
    verification = await verify_now(context.store, context.settings)
    checked = verification.report.latest_checkpoint
    # Checkpoints that could not be checked are shown, marked as not checked.
    unchecked = verification.unchecked[-1] if verification.unchecked else None
    today = datetime.now(labels.HUB_TIME_ZONE).date()
    page: dict[str, Any] = {
        "title": "Audit",
        "verification": verification,
        "checkpoint": checked if checked is not None else unchecked,
        "checkpoint_checked": checked is not None,
        "key_loaded": verification.trusted.key is not None,
        "key_problem": verification.trusted.problem,
        "bus_copy": _bus_copy_text(verification.bus_copy),
        "head": await context.store.head_position(),
        "formats": REPORT_FORMATS,
        "agencies": [(a.id, a.name) for a in context.policy.agencies],
        "values": {
            "start-day": "1",
            "start-month": str(today.month),
            "start-year": str(today.year),
            "end-day": str(today.day),
            "end-month": str(today.month),
            "end-year": str(today.year),
            "format": "csv",
        },
        "errors": {},
        "replay_values": {},
    }
    page.update(extra)
    return page


def _bus_copy_text(copy: BusCopy) -> str:
    """What became of the checkpoints' copy on the bus, in the page's words."""
    match copy.state:
        case "compared":
            plural = "" if copy.compared == 1 else "s"
            return f"{copy.compared} checkpoint{plural} compared with the bus copy"
        case "no NATS":
            return "Not compared: no NATS is configured"
        case "unreachable":
            return "Not compared: the bus could not be reached"
        case "unreadable":
            return "Not compared: the bus copy does not read as checkpoints"
        case "no key":
            return "Not compared: there is no public key to check checkpoints with"
    return "Not compared"


@router.get("/audit/replay")
async def replay_page(
    request: Request,
    person: Auditor,
    request_id: Text = "",
    position: Text = "",
    at: Text = "",
) -> Response:
    context = context_of(request)
    values = {"request_id": request_id, "position": position, "at": at}
    errors: dict[str, str] = {}
    parsed_id = parsed_position = parsed_at = None
    try:
        parsed_id = UUID(request_id.strip())
    except ValueError:
        errors["request_id"] = (
            "Enter the request id"
            if not request_id.strip()
            else "Enter a request id like 8f14e45f-ceea-467f-a8ad-7f3a2b6c1d90"
        )
    if position.strip():
        if position.strip().isdigit() and len(position.strip()) < 19:
            parsed_position = int(position.strip())
        else:
            errors["position"] = "The position must be a whole number, like 120"
    if at.strip():
        parsed_at = _moment(at.strip())
        if parsed_at is None:
            errors["at"] = "Enter the moment as a date and time, like 2026-11-03 14:05"
    replay = None
    if not errors:
        assert parsed_id is not None
        try:
            replay = await context.records.replay(
                parsed_id, at=parsed_at, position=parsed_position, viewer=person, via=via(request)
            )
        except RecordNotFound:
            errors["request_id"] = "No share request has this id"
    if replay is None:
        return render(
            request,
            "audit.html",
            status_code=422,
            **await _audit_page(
                request,
                replay_values=values,
                replay_errors=errors,
                error_summary=[{"text": text, "href": f"#{name}"} for name, text in errors.items()],
            ),
        )
    return render(
        request,
        "audit_replay.html",
        title=f"Replay of request {labels.short_id(parsed_id)}",
        replay=replay,
        request_id=parsed_id,
        values=values,
        events=[
            {
                "position": e.global_position,
                "type": e.type,
                "recorded_at": e.recorded_at,
                "actor": {**e.actor.model_dump(), "name": replay.name_of(e.actor.id)},
                "text": labels.describe_event(e.type, e.data),
            }
            for e in replay.applied
        ],
    )


def _moment(text: str) -> datetime | None:
    """A moment typed by a person: ISO 8601, with a space or a T; London time if no zone."""
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=labels.HUB_TIME_ZONE)
    return moment


@router.get("/audit/report")
async def report_download(request: Request, person: Auditor) -> Response:
    context = context_of(request)
    query = request.query_params
    values = {key: query.get(key, "") for key in query}
    errors: dict[str, str] = {}
    start = _day(query, "start", errors, "the first day")
    end = _day(query, "end", errors, "the last day")
    fmt = query.get("format", "")
    if fmt not in REPORT_FORMATS:
        errors["format"] = "Select a format"
    agency = query.get("agency") or None
    if agency is not None and context.policy.agency(agency) is None:
        errors["agency"] = "Select an agency of the agreement"
    if start and end and end < start:
        errors["end-day"] = "The last day must be the same as or after the first day"
    if errors or start is None or end is None:
        return render(
            request,
            "audit.html",
            status_code=422,
            **await _audit_page(
                request,
                values=values,
                errors=errors,
                error_summary=[{"text": text, "href": f"#{name}"} for name, text in errors.items()],
            ),
        )
    report = await decision_report(
        context.store,
        start=datetime.combine(start, time(0), labels.HUB_TIME_ZONE),
        end=datetime.combine(end + timedelta(days=1), time(0), labels.HUB_TIME_ZONE),
        agency=agency,
        include_access_log=query.get("access_log") == "yes",
    )
    await context.records.report_viewed(
        (row.request_id for row in report.decisions), viewer=person, via=via(request)
    )
    body = render_report(report, fmt)  # type: ignore[arg-type]
    extension = {"csv": "csv", "json": "json", "fhir": "fhir.json"}[fmt]
    name = f"sharehub-decisions-{start:%Y%m%d}-{end:%Y%m%d}{'-' + agency if agency else ''}"
    return Response(
        body,
        media_type=MEDIA_TYPES[fmt],  # type: ignore[index]
        headers={"Content-Disposition": f'attachment; filename="{name}.{extension}"'},
    )


def _day(query: Any, name: str, errors: dict[str, str], what: str) -> date | None:
    parts = [query.get(f"{name}-{part}", "").strip() for part in ("day", "month", "year")]
    if not all(parts):
        errors[f"{name}-day"] = f"Enter {what} of the period"
        return None
    try:
        day, month, year = (int(part) for part in parts)
        return date(year, month, day)
    except ValueError:
        errors[f"{name}-day"] = f"{what.capitalize()} of the period must be a real date"
        return None
