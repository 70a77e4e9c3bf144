"""The advisor's inbox: pseudonymised packets and the questions asked about them.

An advisor sees what ``GET /v1/advice-requests`` shows: the question, the packet
(people as tokens with an age band and an area, the narrative scrubbed) and when the
answer is due; never the request it came from, its id, or who the child is. The
answer goes to the request's workflow as :class:`GiveAdvice`, as over the API.
"""

from __future__ import annotations

from typing import Annotated, cast
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from workers.console.forms import ADVICE, FieldError, FormProblems, form_values
from workers.console.labels import sentence
from workers.console.routing import ConsoleRoute, context_of, settled
from workers.console.sessions import CheckedForm, flash, permitted_to
from workers.console.templates import render
from workers.hub.clients import ApiClient
from workers.hub.permissions import Work
from workers.hub.records import InvalidCursor
from workers.hub.share_requests import ActionRejected, HubAction, ShareRequestFinished

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
Advisor = Annotated[ApiClient, Depends(permitted_to(Work.GIVE_ADVICE))]
PAGE_SIZE = 20


@router.get("/advice")
async def inbox(
    request: Request,
    person: Advisor,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    context = context_of(request)
    try:
        page = await context.records.advice_inbox(cursor=cursor, limit=PAGE_SIZE)
    except InvalidCursor:
        page = await context.records.advice_inbox(cursor=None, limit=PAGE_SIZE)
    return render(
        request,
        "advice_inbox.html",
        title="Advice inbox",
        items=page.items,
        next_url=f"/advice?cursor={page.next_cursor}" if page.next_cursor else None,
        first_url="/advice" if cursor else None,
    )


@router.get("/advice/{advice_id}")
async def advice_page(advice_id: UUID, request: Request, person: Advisor) -> Response:
    item = await context_of(request).records.advice_request(advice_id)
    return render(
        request, "advice_item.html", title="Advice request", item=item, values={}, errors={}
    )


@router.post("/advice/{advice_id}")
async def give_advice(
    advice_id: UUID, request: Request, person: Advisor, form: CheckedForm
) -> Response:
    context = context_of(request)
    row = await context.records.advice_row(advice_id)
    try:
        advice = cast(HubAction, ADVICE.build(form, row, person))
        await context.service.act(row["request_id"], advice)
    except FormProblems as e:
        errors = e.errors
    except (ActionRejected, ShareRequestFinished) as e:
        errors = [FieldError("", f"{sentence(str(e))} Nothing was recorded.")]
    else:
        await settled(context)
        response = RedirectResponse("/advice", status_code=303)
        flash(request, response, "Your advice is recorded and sent to the hub.")
        return response
    item = await context.records.advice_request(advice_id)
    return render(
        request,
        "advice_item.html",
        status_code=422,
        title="Advice request",
        item=item,
        values=form_values(form),
        errors={e.field: e.text for e in errors if e.field},
        error_summary=[e.summary_item("advice-form") for e in errors],
    )
