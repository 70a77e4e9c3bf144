"""The hub's queue: open requests, the least time left on the SLA first, refreshing itself.

It reads :meth:`Records.queue`, as ``GET /v1/hub/queue`` does. Each line shows the
time left on its running clock, counting down as the list refreshes: htmx asks for
the results again every 15 seconds (the server answers only the results for an htmx
request); without JavaScript the page reloads itself every minute. Filters and pages
are plain links and a GET form.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from workers.console import labels
from workers.console.routing import ConsoleRoute, context_of
from workers.console.sessions import permitted_to
from workers.console.templates import render
from workers.hub.clients import ApiClient
from workers.hub.permissions import Work
from workers.hub.records import ACTIVE_STAGES, InvalidCursor

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
QueueReader = Annotated[ApiClient, Depends(permitted_to(Work.READ_HUB_QUEUE))]
PAGE_SIZE = 25
REFRESH_SECONDS = 15
ALL_STAGES = (*ACTIVE_STAGES, "closed", "withdrawn")


@router.get("/queue")
async def queue_page(
    request: Request,
    person: QueueReader,
    stage: Annotated[list[str] | None, Query(max_length=40)] = None,
    rag: Annotated[str, Query(max_length=20)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    context = context_of(request)
    stages = tuple(s for s in stage or () if s in ALL_STAGES) or ACTIVE_STAGES
    chosen_rag = rag if rag in labels.RAGS else ""
    notice = None
    try:
        page = await context.records.queue(
            stages=stages, rag=chosen_rag or None, cursor=cursor, limit=PAGE_SIZE
        )
    except InvalidCursor:
        notice = "That page of the queue is no longer there: this is the first page."
        cursor = None
        page = await context.records.queue(
            stages=stages, rag=chosen_rag or None, cursor=None, limit=PAGE_SIZE
        )
    items = [_line(item) for item in page.items]
    filters: list[tuple[str, str]] = [("stage", s) for s in stages if stage]
    if chosen_rag:
        filters.append(("rag", chosen_rag))
    here = filters + ([("cursor", cursor)] if cursor else [])
    page_context: dict[str, Any] = {
        "title": "Queue",
        "items": items,
        "stages": stages,
        "all_stages": ALL_STAGES,
        "rag": chosen_rag,
        "notice": notice,
        "refresh_seconds": REFRESH_SECONDS,
        "refresh_url": "/queue" + (f"?{urlencode(here)}" if here else ""),
        "first_url": "/queue" + (f"?{urlencode(filters)}" if filters else "") if cursor else None,
        "next_url": f"/queue?{urlencode([*filters, ('cursor', page.next_cursor)])}"
        if page.next_cursor
        else None,
        "refreshed_at": datetime.now(UTC),
    }
    if request.headers.get("HX-Request"):
        return render(request, "_queue_results.html", **page_context)
    return render(request, "queue.html", **page_context)


def _line(item: dict[str, Any]) -> dict[str, Any]:
    """A queue line with what its clock says, in words."""
    left = item["time_left_seconds"]
    if item["stage"] == "raised":
        # Not yet rated: its clock is how long it has waited to be (the oldest first).
        clock, urgent = f"Waiting {labels.duration(left)} to be rated", False
    elif left is None:
        clock, urgent = "No SLA running", False
    elif left < 0 or item["sla_breached_at"] is not None:
        clock, urgent = f"Overdue by {labels.duration(left)}", True
    else:
        clock, urgent = f"{labels.duration(left)} left", False
    return {**item, "clock": clock, "overdue": urgent}
