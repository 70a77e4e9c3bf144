"""Routes for agency systems: raise requests, follow their outcome, receive disclosures.

An agency sees only what it raised and what was disclosed to it; any other id
answers 404, exactly as an id that does not exist.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response

from workers.api.context import AgencyClient, Context
from workers.api.problems import ProblemError, problem_responses
from workers.api.schemas import (
    DisclosureDetail,
    DisclosureOut,
    Page,
    RaiseAccepted,
    RaisedRequest,
    WithdrawBody,
)
from workers.api_clients import ApiClient
from workers.share_requests import RequestAlreadyRaised, RequestRejected, ShareRequestSubmission
from workflows.models import AcknowledgeDisclosure, ActionResult, Stage, Withdraw
from workflows.raising import raise_problems

router = APIRouter(prefix="/v1", tags=["agencies"])
# Request ids of idempotent raises: uuid5(client id + key), so a repeat can never
# start a second workflow even if the first answer was lost mid-way.
_IDEMPOTENT_REQUESTS = UUID("5b4f2c1e-8f0a-4c3e-9a57-1d2b6e0c7a11")

Cursor = Annotated[str | None, Query(max_length=500, description="From the previous page")]
Limit = Annotated[int, Query(ge=1, le=100)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Repeat a raise safely: the same key and body return the first answer; "
        "the same key with another body is refused (409).",
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
    agency: AgencyClient,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> RaiseAccepted:
    """Raise a share request as this agency (the referrer is the authenticated client)."""
    assert agency.agency is not None
    if idempotency_key is None:
        request_id = uuid.uuid4()
    else:
        request_id = uuid.uuid5(_IDEMPOTENT_REQUESTS, f"{agency.client_id}:{idempotency_key}")
    request = submission.as_request(request_id=request_id, agency=agency.agency)
    problems = raise_problems(request, hub.policy)
    if problems:  # before the key is remembered: a refused raise leaves nothing behind
        raise RequestRejected(problems)
    if idempotency_key is not None:
        first = await _remember_key(hub, agency, idempotency_key, submission, request_id)
        if not first:  # the first answer again, marked as a replay
            response.headers["Idempotent-Replayed"] = "true"
            response.headers["Location"] = f"/v1/share-requests/{request_id}"
            return RaiseAccepted(request_id=request_id, stage=Stage.RAISED, detail="raised")
    try:
        await hub.service.raise_request(request)
    except RequestAlreadyRaised:
        if idempotency_key is None:
            raise
        # The first call with this key stopped after starting the workflow.
    response.headers["Location"] = f"/v1/share-requests/{request_id}"
    return RaiseAccepted(request_id=request_id, stage=Stage.RAISED, detail="raised")


async def _remember_key(
    hub: Context, agency: ApiClient, key: str, submission: ShareRequestSubmission, request_id: UUID
) -> bool:
    """Record the key with a digest of the body; False if it was used before with it."""
    digest = hashlib.sha256(
        json.dumps(submission.model_dump(mode="json"), sort_keys=True).encode()
    ).digest()
    async with hub.store.transaction() as session:
        inserted = await session.fetchrow(
            "INSERT INTO idempotency_keys (client_id, key, body_digest, request_id)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (client_id, key) DO NOTHING RETURNING key",
            agency.client_id,
            key,
            digest,
            request_id,
        )
        if inserted is not None:
            return True
        first = await session.fetchrow(
            "SELECT body_digest FROM idempotency_keys WHERE client_id = $1 AND key = $2",
            agency.client_id,
            key,
        )
    assert first is not None
    if first["body_digest"] != digest:
        raise ProblemError(
            409,
            "idempotency-key-reused",
            "Idempotency key already used for another body",
            f"the key {key!r} was used for a different share request; use a new key",
        )
    return False


@router.get(
    "/share-requests",
    response_model=Page[RaisedRequest],
    responses=problem_responses(400, 401, 403, 503),
)
async def requests_raised(
    hub: Context, agency: AgencyClient, cursor: Cursor = None, limit: Limit = 50
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
    request_id: UUID, hub: Context, agency: AgencyClient, request: Request
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
    request_id: UUID, body: WithdrawBody, hub: Context, agency: AgencyClient
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
    hub: Context, agency: AgencyClient, cursor: Cursor = None, limit: Limit = 50
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
    disclosure_id: UUID, hub: Context, agency: AgencyClient, request: Request
) -> DisclosureDetail:
    """One disclosure to this agency: what was decided for it (recorded in the access log)."""
    row = await hub.records.disclosure(disclosure_id, viewer=agency, via=_via(request))
    return DisclosureDetail(**row)


@router.post(
    "/disclosures/{disclosure_id}/acknowledgement",
    response_model=ActionResult,
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def acknowledge(disclosure_id: UUID, hub: Context, agency: AgencyClient) -> ActionResult:
    """Acknowledge a disclosure addressed to this agency."""
    row = await hub.records.disclosure_row(disclosure_id, agency=agency.agency)
    return await hub.service.act(
        row["request_id"],
        AcknowledgeDisclosure(actor=agency.participant(), disclosure_id=disclosure_id),
    )


def _via(request: Request) -> str:
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"
