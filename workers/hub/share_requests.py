"""The share-request service: what the CLI, the demo, the API and bus intake all call.

It raises requests (validating them first, so an invalid one leaves no workflow
and no event) and passes every human action to the request's workflow as an
Update, answering with the validator's verdict. Reads for people come from
projections; the queries here serve operators, the demo and tests.

    ShareRequestServiceError
     ├── RequestRejected        the request may not be raised (every problem listed)
     ├── RequestAlreadyRaised   a workflow with this request id exists or existed
     ├── UnknownShareRequest    no workflow has this request id
     ├── ShareRequestFinished   the request is closed or withdrawn: nothing more to do
     └── ActionRejected         the workflow's validator refused the action
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Annotated
from uuid import UUID

from pydantic import ConfigDict, Field, StringConstraints
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from workflows.details import ShareRequestDetails
from workflows.identifiers import ChildIdentifier
from workflows.models import (
    AcknowledgeDisclosure,
    ActionResult,
    AdviceRequest,
    Close,
    Disclosure,
    GiveAdvice,
    HumanInput,
    Participant,
    RaiseShareRequest,
    RecordDecision,
    RecordFamilyStep,
    RequestedInformation,
    Role,
    SeekAdvice,
    SignOff,
    Stage,
    StartShareRequest,
    Triage,
    Withdraw,
)
from workflows.policy import (
    ConsentStatus,
    DataSharingAgreement,
    LawfulBasis,
    ProcessingCondition,
)
from workflows.raising import raise_problems
from workflows.share_request import ShareRequestWorkflow

HubAction = (
    Triage
    | SeekAdvice
    | GiveAdvice
    | RecordDecision
    | SignOff
    | AcknowledgeDisclosure
    | RecordFamilyStep
    | Withdraw
    | Close
)

# The workflow's Update for each action (the handler's method name).
_UPDATES: dict[type[HubAction], str] = {
    Triage: "triage",
    SeekAdvice: "seek_advice",
    GiveAdvice: "give_advice",
    RecordDecision: "decide",
    SignOff: "sign_off",
    AcknowledgeDisclosure: "acknowledge_disclosure",
    RecordFamilyStep: "record_family_step",
    Withdraw: "withdraw",
    Close: "close",
}


class ShareRequestSubmission(HumanInput):
    """What an agency system sends to raise a request, over HTTP or the bus.

    The referring agency is not in the body: it is the authenticated client's
    agency (HTTP) or the agency whose intake subject the message came on (bus).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    raised_by: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    purpose: str
    recipients: tuple[RequestedInformation, ...] = Field(min_length=1)
    lawful_basis: LawfulBasis
    condition: ProcessingCondition | None = None
    consent: ConsentStatus
    child: ChildIdentifier
    details: ShareRequestDetails

    def as_request(self, *, request_id: UUID, agency: str) -> RaiseShareRequest:
        return RaiseShareRequest(
            request_id=request_id,
            referrer=Participant(id=self.raised_by, role=Role.AGENCY, agency=agency),
            purpose=self.purpose,
            recipients=self.recipients,
            lawful_basis=self.lawful_basis,
            condition=self.condition,
            consent=self.consent,
            child=self.child,
            details=self.details,
        )


class ShareRequestServiceError(Exception):
    """Root of every error the share-request service raises."""


class RequestRejected(ShareRequestServiceError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("the share request cannot be raised: " + "; ".join(problems))
        self.problems = problems


class RequestAlreadyRaised(ShareRequestServiceError):
    def __init__(self, request_id: UUID) -> None:
        super().__init__(f"share request {request_id} has already been raised")
        self.request_id = request_id


class UnknownShareRequest(ShareRequestServiceError):
    def __init__(self, request_id: UUID) -> None:
        super().__init__(f"no share request {request_id}")
        self.request_id = request_id


class ShareRequestFinished(ShareRequestServiceError):
    def __init__(self, request_id: UUID) -> None:
        super().__init__(f"share request {request_id} is closed or withdrawn")
        self.request_id = request_id


class ActionRejected(ShareRequestServiceError):
    """The validator's message says what was wrong; nothing was recorded."""


class ShareRequestService:
    def __init__(self, client: Client, policy: DataSharingAgreement, *, task_queue: str) -> None:
        self._client = client
        self._policy = policy
        self._task_queue = task_queue

    @property
    def policy(self) -> DataSharingAgreement:
        return self._policy

    async def raise_request(self, request: RaiseShareRequest) -> ActionResult:
        """Validate, then start the request's workflow (id = request id).

        Raises:
            RequestRejected: with every problem; no workflow is started.
            RequestAlreadyRaised: a request id is used once, even after it closed.
        """
        problems = raise_problems(request, self._policy)
        if problems:
            raise RequestRejected(problems)
        start = StartShareRequest(
            request=request, policy=self._policy, pseudonym_salt=os.urandom(32)
        )
        try:
            await self._client.start_workflow(
                ShareRequestWorkflow.run,
                start,
                id=str(request.request_id),
                task_queue=self._task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
        except WorkflowAlreadyStartedError as e:
            raise RequestAlreadyRaised(request.request_id) from e
        return ActionResult(
            request_id=request.request_id, stage=Stage.RAISED, events_recorded=0, detail="raised"
        )

    async def act(self, request_id: UUID, action: HubAction) -> ActionResult:
        """Pass one human action to the request; the answer is the validator's verdict.

        Raises:
            ActionRejected: out of order, incomplete or not permitted; nothing recorded.
            UnknownShareRequest, ShareRequestFinished.
        """
        update = _UPDATES[type(action)]
        try:
            with _missing_raised_as_ours(request_id):
                result: ActionResult = await self._handle(request_id).execute_update(
                    update, action, result_type=ActionResult
                )
        except WorkflowUpdateFailedError as e:
            cause = e.cause
            raise ActionRejected(getattr(cause, "message", None) or str(cause)) from e
        return result

    async def stage(self, request_id: UUID) -> Stage:
        with _missing_raised_as_ours(request_id):
            return await self._handle(request_id).query(ShareRequestWorkflow.stage)

    async def disclosures(self, request_id: UUID) -> list[Disclosure]:
        with _missing_raised_as_ours(request_id):
            return await self._handle(request_id).query(ShareRequestWorkflow.disclosures)

    async def advice_requests(self, request_id: UUID) -> list[AdviceRequest]:
        with _missing_raised_as_ours(request_id):
            return await self._handle(request_id).query(ShareRequestWorkflow.advice_requests)

    def _handle(self, request_id: UUID) -> WorkflowHandle[ShareRequestWorkflow, ActionResult]:
        return self._client.get_workflow_handle_for(ShareRequestWorkflow.run, str(request_id))


@contextlib.contextmanager
def _missing_raised_as_ours(request_id: UUID) -> Iterator[None]:
    """Temporal answers NOT_FOUND both for an unknown id and for a finished workflow."""
    try:
        yield
    except RPCError as e:
        if e.status is RPCStatusCode.NOT_FOUND:
            if "completed" in e.message:
                raise ShareRequestFinished(request_id) from e
            raise UnknownShareRequest(request_id) from e
        raise
