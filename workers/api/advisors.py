"""Routes for information-governance advisors: the advice inbox and the answer.

An advisor sees the question and the pseudonymised packet, never the request
it came from or who the child is.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from workers.api.agencies import Cursor, Limit
from workers.api.context import Context, permitted_to
from workers.api.problems import problem_responses
from workers.api.schemas import Page
from workers.hub.actions import GiveAdviceBody
from workers.hub.clients import ApiClient
from workers.hub.permissions import Work
from workers.hub.views import AdviceOut
from workflows.models import GiveAdvice

router = APIRouter(prefix="/v1", tags=["advisors"])
Advisor = Annotated[ApiClient, Depends(permitted_to(Work.GIVE_ADVICE))]


class AdviceRecorded(BaseModel):
    advice_id: UUID
    detail: str


@router.get(
    "/advice-requests",
    response_model=Page[AdviceOut],
    responses=problem_responses(400, 401, 403, 503),
)
async def inbox(
    hub: Context, advisor: Advisor, cursor: Cursor = None, limit: Limit = 50
) -> Page[AdviceOut]:
    """Advice requests, unanswered first and soonest due first."""
    page = await hub.records.advice_inbox(cursor=cursor, limit=limit)
    return Page(items=[AdviceOut(**r) for r in page.items], next_cursor=page.next_cursor)


@router.get(
    "/advice-requests/{advice_id}",
    response_model=AdviceOut,
    responses=problem_responses(401, 403, 404, 503),
)
async def advice_request(advice_id: UUID, hub: Context, advisor: Advisor) -> AdviceOut:
    return AdviceOut(**await hub.records.advice_request(advice_id))


@router.post(
    "/advice-requests/{advice_id}/advice",
    response_model=AdviceRecorded,
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def give_advice(
    advice_id: UUID, body: GiveAdviceBody, hub: Context, advisor: Advisor
) -> AdviceRecorded:
    """Answer an advice request; the answer is recorded against the request.

    The answer names only the advice request: the request it belongs to stays
    out of the advisor's sight.
    """
    row = await hub.records.advice_row(advice_id)
    result = await hub.service.act(
        row["request_id"],
        GiveAdvice(actor=advisor.participant(), advice_id=advice_id, **dict(body)),
    )
    return AdviceRecorded(advice_id=advice_id, detail=result.detail)
