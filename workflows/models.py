"""Inputs and results of the share-request workflow: one model per action, no I/O.

Imported inside the Temporal workflow sandbox, so nothing here may do I/O at import.
Each human action has its own input model, so a field can be added without
breaking callers.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from events.envelope import Actor
from workflows.details import ShareRequestDetails
from workflows.identifiers import ChildIdentifier
from workflows.policy import (
    ConsentStatus,
    DataSharingAgreement,
    DecisionOutcome,
    LawfulBasis,
    ProcessingCondition,
    RagRating,
)
from workflows.redaction import AdvicePacket

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=5000)]
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Role(enum.StrEnum):
    """Who may do what: every input names the acting person's role."""

    AGENCY = "agency"
    HUB_OFFICER = "hub_officer"
    HUB_MANAGER = "hub_manager"
    IG_ADVISOR = "ig_advisor"
    AUDITOR = "auditor"
    ADMIN = "admin"


HUB_STAFF = frozenset({Role.HUB_OFFICER, Role.HUB_MANAGER})


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class HumanInput(BaseModel):
    """What people and agency systems send: no NUL character anywhere in it.

    The log could store one, but PostgreSQL's text and jsonb columns (the read
    models) cannot, so it is refused at the door, whichever door.
    """

    model_config = _FROZEN

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: Any) -> Any:
        if _has_nul(data):
            raise ValueError("text may not contain the NUL character (U+0000)")
        return data


class Participant(BaseModel):
    """A person acting in a role, for an agency where the role is an agency's.

    ``id`` is the actor events record: an API client's id for those who act with a
    key (before clients were people, the client's name). ``person`` is who holds
    the key, the same for each key of one person; ``name`` is the client's name.
    Both are absent where no key acts (a person named by an agency's system).
    """

    model_config = _FROZEN

    id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    role: Role
    agency: str | None = None
    person: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _agency_roles_name_their_agency(self) -> Participant:
        if self.role is Role.AGENCY and not self.agency:
            raise ValueError("a person acting for an agency must name the agency")
        return self

    def as_actor(self) -> Actor:
        return Actor(id=self.id, role=self.role.value, agency=self.agency)

    def is_same_person_as(self, other: Participant) -> bool:
        """Whether both are one person, however many keys they hold.

        An action recorded before clients were people names its actor by the
        client's name (``id``, without ``person``): it is compared by name.
        """
        if self.person is not None and other.person is not None:
            return self.person == other.person
        return self.id == other.id or (self.name or self.id) == (other.name or other.id)


class RequestedInformation(BaseModel):
    """What one recipient agency is asked to receive."""

    model_config = _FROZEN

    agency: str
    categories: tuple[str, ...] = Field(min_length=1)


class RaiseShareRequest(HumanInput):
    """An agency asks the hub to share information about a child."""

    model_config = _FROZEN

    request_id: UUID
    referrer: Participant
    purpose: str
    recipients: tuple[RequestedInformation, ...] = Field(min_length=1)
    lawful_basis: LawfulBasis
    condition: ProcessingCondition | None = None
    consent: ConsentStatus
    child: ChildIdentifier
    details: ShareRequestDetails


class StartShareRequest(BaseModel):
    """The workflow's input: a validated request and the agreement it was checked against."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )

    request: RaiseShareRequest
    policy: DataSharingAgreement
    # Salt of the advice packets' stable name tokens: one per request, never shown.
    pseudonym_salt: bytes = Field(min_length=16)


class Triage(HumanInput):
    model_config = _FROZEN

    actor: Participant
    rag: RagRating
    rationale: Reason


class SeekAdvice(HumanInput):
    model_config = _FROZEN

    actor: Participant
    question: Reason


class GiveAdvice(HumanInput):
    model_config = _FROZEN

    actor: Participant
    advice_id: UUID
    advice: Reason


class Share(BaseModel):
    """Exactly which information goes to one recipient, and why."""

    model_config = _FROZEN

    agency: str
    categories: tuple[str, ...] = Field(min_length=1)
    purpose: str


class RecordDecision(HumanInput):
    """Golden rule 7: the decision and the reasons, whether or not information is shared."""

    model_config = _FROZEN

    actor: Participant
    outcome: DecisionOutcome
    lawful_basis: LawfulBasis
    condition: ProcessingCondition | None = None
    reasons: Reason
    shares: tuple[Share, ...] = ()
    consent: ConsentStatus
    consent_note: Reason | None = None
    caveats: tuple[Reason, ...] = ()
    # s16LA: not sharing must be less detrimental to the child than sharing.
    why_not_sharing_is_less_detrimental: Reason | None = None


class SignOff(HumanInput):
    model_config = _FROZEN

    actor: Participant
    comment: Reason | None = None


class AcknowledgeDisclosure(HumanInput):
    model_config = _FROZEN

    actor: Participant
    disclosure_id: UUID


class FamilyStepKind(enum.StrEnum):
    NOTIFIED = "notified"
    WITHHELD = "withheld"
    DEFERRED = "deferred"


class RecordFamilyStep(HumanInput):
    """Golden rule 2: be open with the family, unless that is unsafe or premature."""

    model_config = _FROZEN

    actor: Participant
    kind: FamilyStepKind
    reason: Reason | None = None
    revisit_on: date | None = None


class Withdraw(HumanInput):
    model_config = _FROZEN

    actor: Participant
    reason: Reason


class Close(HumanInput):
    model_config = _FROZEN

    actor: Participant


class Stage(enum.StrEnum):
    RAISED = "raised"
    TRIAGED = "triaged"
    AWAITING_SIGN_OFF = "awaiting_sign_off"
    DISCLOSING = "disclosing"
    FAMILY_STEP = "family_step"
    READY_TO_CLOSE = "ready_to_close"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class AdviceRequest(BaseModel):
    model_config = _FROZEN

    advice_id: UUID
    packet: AdvicePacket
    question: str
    due_by: datetime
    answered: bool = False


class Disclosure(BaseModel):
    model_config = _FROZEN

    disclosure_id: UUID
    agency: str
    categories: tuple[str, ...]
    purpose: str
    acknowledge_by: datetime
    acknowledged: bool = False
    overdue: bool = False


class ActionResult(BaseModel):
    """What every human action answers: the stage it leaves the request in."""

    model_config = _FROZEN

    request_id: UUID
    stage: Stage
    events_recorded: int
    detail: str = ""
