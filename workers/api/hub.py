"""Routes for hub officers and managers: the work queue, a request in full, every action.

Each action answers synchronously with the workflow validator's verdict: the
stage it left the request in, or a 422 problem saying why it was refused (and
that nothing was recorded).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from workers.api.agencies import Cursor, Limit, _via
from workers.api.context import Context, permitted_to
from workers.api.problems import problem_responses
from workers.api.schemas import Page
from workers.hub.actions import (
    DecisionBody,
    FamilyStepBody,
    SeekAdviceBody,
    SignOffBody,
    TriageBody,
    WithdrawBody,
)
from workers.hub.clients import ApiClient
from workers.hub.permissions import Work
from workers.hub.records import ACTIVE_STAGES
from workers.hub.share_requests import HubAction
from workers.hub.views import HubRequestView, QueueItem
from workflows.models import (
    ActionResult,
    Close,
    RecordDecision,
    RecordFamilyStep,
    SeekAdvice,
    SignOff,
    Stage,
    Triage,
    Withdraw,
)
from workflows.policy import RagRating

router = APIRouter(prefix="/v1/hub", tags=["hub staff"])
QueueReader = Annotated[ApiClient, Depends(permitted_to(Work.READ_HUB_QUEUE))]
RequestReader = Annotated[ApiClient, Depends(permitted_to(Work.SEE_REQUEST_IN_FULL))]
HubStaff = Annotated[ApiClient, Depends(permitted_to(Work.ACT_FOR_THE_HUB))]
_ACTION_ERRORS = problem_responses(401, 403, 404, 409, 422, 503)


@router.get(
    "/queue", response_model=Page[QueueItem], responses=problem_responses(400, 401, 403, 503)
)
async def queue(
    hub: Context,
    staff: QueueReader,
    stage: Annotated[list[Stage] | None, Query(description="Only these stages")] = None,
    rag: Annotated[RagRating | None, Query(description="Only this rating")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[QueueItem]:
    """Open requests, the least time left on the SLA first (overdue ones flagged)."""
    stages = tuple(s.value for s in stage) if stage else ACTIVE_STAGES
    page = await hub.records.queue(
        stages=stages, rag=rag.value if rag else None, cursor=cursor, limit=limit
    )
    return Page(items=[QueueItem(**r) for r in page.items], next_cursor=page.next_cursor)


@router.get(
    "/share-requests/{request_id}",
    response_model=HubRequestView,
    responses=problem_responses(401, 403, 404, 503),
)
async def request_in_full(
    request_id: UUID, hub: Context, staff: RequestReader, request: Request
) -> HubRequestView:
    """A request with the child, what was asked, disclosures, advice and its timeline."""
    view = await hub.records.request_in_full(request_id, viewer=staff, via=_via(request))
    return HubRequestView(**view)


async def _act(
    hub: Context, staff: ApiClient, request_id: UUID, action: type[HubAction], body: BaseModel
) -> ActionResult:
    await hub.records.request_row(request_id)  # 404 before the workflow is asked
    fields: dict[str, Any] = dict(body) if body is not None else {}
    return await hub.service.act(request_id, action(actor=staff.participant(), **fields))


@router.post(
    "/share-requests/{request_id}/triage", response_model=ActionResult, responses=_ACTION_ERRORS
)
async def triage(request_id: UUID, body: TriageBody, hub: Context, staff: HubStaff) -> ActionResult:
    """Rate the request red, amber, green or blue with a rationale (or re-rate it)."""
    return await _act(hub, staff, request_id, Triage, body)


@router.post(
    "/share-requests/{request_id}/advice-requests",
    response_model=ActionResult,
    responses=_ACTION_ERRORS,
)
async def seek_advice(
    request_id: UUID, body: SeekAdviceBody, hub: Context, staff: HubStaff
) -> ActionResult:
    """Ask an information-governance advisor, who sees a pseudonymised packet only."""
    return await _act(hub, staff, request_id, SeekAdvice, body)


@router.post(
    "/share-requests/{request_id}/decision", response_model=ActionResult, responses=_ACTION_ERRORS
)
async def decide(
    request_id: UUID, body: DecisionBody, hub: Context, staff: HubStaff
) -> ActionResult:
    """Record the decision: outcome, lawful basis, reasons, who receives what and why."""
    return await _act(hub, staff, request_id, RecordDecision, body)


@router.post(
    "/share-requests/{request_id}/sign-off", response_model=ActionResult, responses=_ACTION_ERRORS
)
async def sign_off(
    request_id: UUID, body: SignOffBody, hub: Context, staff: HubStaff
) -> ActionResult:
    """A hub manager's second sign-off of a decision that needs one."""
    return await _act(hub, staff, request_id, SignOff, body)


@router.post(
    "/share-requests/{request_id}/family-step",
    response_model=ActionResult,
    responses=_ACTION_ERRORS,
)
async def family_step(
    request_id: UUID, body: FamilyStepBody, hub: Context, staff: HubStaff
) -> ActionResult:
    """The family notified, withheld with a reason, or deferred to a revisit date."""
    return await _act(hub, staff, request_id, RecordFamilyStep, body)


@router.post(
    "/share-requests/{request_id}/withdrawal", response_model=ActionResult, responses=_ACTION_ERRORS
)
async def withdraw(
    request_id: UUID, body: WithdrawBody, hub: Context, staff: HubStaff
) -> ActionResult:
    """Withdraw the request before its decision, with the reason."""
    return await _act(hub, staff, request_id, Withdraw, body)


@router.post(
    "/share-requests/{request_id}/closure", response_model=ActionResult, responses=_ACTION_ERRORS
)
async def close(request_id: UUID, hub: Context, staff: HubStaff) -> ActionResult:
    """Close a request whose disclosures are acknowledged and family step recorded."""
    await hub.records.request_row(request_id)
    return await hub.service.act(request_id, Close(actor=staff.participant()))
