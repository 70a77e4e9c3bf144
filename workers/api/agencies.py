"""Routes for agency systems: raise requests, follow their outcome, receive disclosures.

An agency sees only what it raised and what was disclosed to it; any other id
answers 404, exactly as an id that does not exist.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from workers.api.context import Context, permitted_to
from workers.api.problems import problem_responses
from workers.api.schemas import Page, RaiseAccepted
from workers.hub.actions import WithdrawBody
from workers.hub.clients import ApiClient
from workers.hub.permissions import Work
from workers.hub.share_requests import ShareRequestSubmission
from workers.hub.submissions import raise_submission
from workers.hub.views import DisclosureDetail, DisclosureOut, RaisedRequest
from workflows.models import AcknowledgeDisclosure, ActionResult, Stage, Withdraw

router = APIRouter(prefix="/v1", tags=["agencies"])
RaisingAgency = Annotated[ApiClient, Depends(permitted_to(Work.RAISE_REQUESTS))]
ReferringAgency = Annotated[ApiClient, Depends(permitted_to(Work.FOLLOW_OWN_REQUESTS))]
RecipientAgency = Annotated[ApiClient, Depends(permitted_to(Work.RECEIVE_DISCLOSURES))]

Cursor = Annotated[str | None, Query(max_length=500, description="From the previous page")]
Limit = Annotated[int, Query(ge=1, le=100)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Repeat a raise safely: the same key and body return the first answer; "
        "the same key with another body is refused (409). The request id is derived from "
        "the key under a secret of the hub's, so no other agency can take it first.",
    ),
]


@router.post(
    "/share-requests",
    status_code=201,
    response_model=RaiseAccepted,
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def raise_share_request(
    submission: ShareRequestSubmission,
    hub: Context,
    agency: RaisingAgency,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> RaiseAccepted:
    """Raise a share request as this agency (the referrer is the authenticated client)."""
    raised = await raise_submission(
        hub.service,
        hub.store,
        agency=agency,
        submission=submission,
        idempotency_key=idempotency_key,
        id_secret=hub.settings.request_id_secret_bytes(),
    )
    if raised.replayed:  # the first answer again, marked as a replay
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/v1/share-requests/{raised.request_id}"
    return RaiseAccepted(request_id=raised.request_id, stage=Stage.RAISED, detail="raised")


@router.get(
    "/share-requests",
    response_model=Page[RaisedRequest],
    responses=problem_responses(400, 401, 403, 503),
)
async def requests_raised(
    hub: Context, agency: ReferringAgency, cursor: Cursor = None, limit: Limit = 50
) -> Page[RaisedRequest]:
    """The requests this agency raised, newest first, with their outcome."""
    assert agency.agency is not None
    page = await hub.records.raised_by(agency.agency, cursor=cursor, limit=limit)
    return Page(items=[RaisedRequest(**r) for r in page.items], next_cursor=page.next_cursor)


@router.get(
    "/share-requests/{request_id}",
    response_model=RaisedRequest,
    responses=problem_responses(401, 403, 404, 503),
)
async def request_raised(
    request_id: UUID, hub: Context, agency: ReferringAgency, request: Request
) -> RaisedRequest:
    """One request this agency raised, with its outcome (recorded in the access log)."""
    row = await hub.records.raised_request(request_id, viewer=agency, via=_via(request))
    return RaisedRequest(**row)


@router.post(
    "/share-requests/{request_id}/withdrawal",
    response_model=ActionResult,
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def withdraw_raised(
    request_id: UUID, body: WithdrawBody, hub: Context, agency: ReferringAgency
) -> ActionResult:
    """Withdraw a request this agency raised, before its decision."""
    await hub.records.raised_request_row(request_id, agency=agency.agency)
    return await hub.service.act(
        request_id, Withdraw(actor=agency.participant(), **body.model_dump())
    )


@router.get(
    "/disclosures",
    response_model=Page[DisclosureOut],
    responses=problem_responses(400, 401, 403, 503),
)
async def disclosures_received(
    hub: Context, agency: RecipientAgency, cursor: Cursor = None, limit: Limit = 50
) -> Page[DisclosureOut]:
    """Disclosures addressed to this agency, newest first."""
    assert agency.agency is not None
    page = await hub.records.disclosures_to(agency.agency, cursor=cursor, limit=limit)
    return Page(items=[DisclosureOut(**r) for r in page.items], next_cursor=page.next_cursor)


@router.get(
    "/disclosures/{disclosure_id}",
    response_model=DisclosureDetail,
    responses=problem_responses(401, 403, 404, 503),
)
async def disclosure_received(
    disclosure_id: UUID, hub: Context, agency: RecipientAgency, request: Request
) -> DisclosureDetail:
    """One disclosure to this agency: what was decided for it (recorded in the access log)."""
    row = await hub.records.disclosure(disclosure_id, viewer=agency, via=_via(request))
    return DisclosureDetail(**row)


@router.post(
    "/disclosures/{disclosure_id}/acknowledgement",
    response_model=ActionResult,
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def acknowledge(disclosure_id: UUID, hub: Context, agency: RecipientAgency) -> ActionResult:
    """Acknowledge a disclosure addressed to this agency."""
    row = await hub.records.disclosure_row(disclosure_id, agency=agency.agency)
    return await hub.service.act(
        row["request_id"],
        AcknowledgeDisclosure(actor=agency.participant(), disclosure_id=disclosure_id),
    )


def _via(request: Request) -> str:
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"
