"""An agency's view: what it raised and how each ended, and what was disclosed to it.

The same reads as ``/v1/share-requests`` and ``/v1/disclosures``, with the same
scope: another agency's request or disclosure is "not found", exactly as one that
does not exist. Opening one request or disclosure is recorded in its access log.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from workers.console.labels import sentence
from workers.console.routing import ConsoleRoute, context_of, settled, via
from workers.console.sessions import CheckedForm, flash, permitted_to
from workers.console.templates import render
from workers.hub.clients import ApiClient
from workers.hub.permissions import Work
from workers.hub.records import InvalidCursor, Page
from workers.hub.share_requests import ActionRejected, ShareRequestFinished
from workflows.models import AcknowledgeDisclosure

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
ReferringAgency = Annotated[ApiClient, Depends(permitted_to(Work.FOLLOW_OWN_REQUESTS))]
RecipientAgency = Annotated[ApiClient, Depends(permitted_to(Work.RECEIVE_DISCLOSURES))]
PAGE_SIZE = 20
Cursor = Annotated[str | None, Query(max_length=500)]


@router.get("/agency")
async def agency_page(
    request: Request,
    person: ReferringAgency,
    raised_cursor: Cursor = None,
    received_cursor: Cursor = None,
) -> Response:
    context = context_of(request)
    agency = person.agency
    assert agency is not None  # an agency's client names its agency
    try:
        raised = await context.records.raised_by(agency, cursor=raised_cursor, limit=PAGE_SIZE)
    except InvalidCursor:
        raised = await context.records.raised_by(agency, cursor=None, limit=PAGE_SIZE)
    try:
        received: Page = await context.records.disclosures_to(
            agency, cursor=received_cursor, limit=PAGE_SIZE
        )
    except InvalidCursor:
        received = await context.records.disclosures_to(agency, cursor=None, limit=PAGE_SIZE)
    known = context.policy.agency(agency)
    return render(
        request,
        "agency.html",
        title=known.name if known else agency,
        raised=raised.items,
        received=received.items,
        raised_next=f"/agency?raised_cursor={raised.next_cursor}" if raised.next_cursor else None,
        received_next=f"/agency?received_cursor={received.next_cursor}#received"
        if received.next_cursor
        else None,
    )


@router.get("/agency/requests/{request_id}")
async def raised_request(request_id: UUID, request: Request, person: ReferringAgency) -> Response:
    row = await context_of(request).records.raised_request(
        request_id, viewer=person, via=via(request)
    )
    return render(request, "agency_request.html", title="A request you raised", row=row)


@router.get("/agency/disclosures/{disclosure_id}")
async def disclosure(disclosure_id: UUID, request: Request, person: RecipientAgency) -> Response:
    row = await context_of(request).records.disclosure(
        disclosure_id, viewer=person, via=via(request)
    )
    return render(request, "agency_disclosure.html", title="Disclosure", row=row, error=None)


@router.post("/agency/disclosures/{disclosure_id}/acknowledgement")
async def acknowledge(
    disclosure_id: UUID, request: Request, person: RecipientAgency, form: CheckedForm
) -> Response:
    context = context_of(request)
    row = await context.records.disclosure_row(disclosure_id, agency=person.agency)
    try:
        result = await context.service.act(
            row["request_id"],
            AcknowledgeDisclosure(actor=person.participant(), disclosure_id=disclosure_id),
        )
    except (ActionRejected, ShareRequestFinished) as e:
        return render(
            request,
            "error.html",
            status_code=422,
            title="The disclosure was not acknowledged",
            detail=f"{sentence(str(e))} Nothing was recorded.",
        )
    await settled(context)
    response = RedirectResponse("/agency#received", status_code=303)
    flash(request, response, sentence(result.detail))
    return response
