"""The API's request and response bodies, as the OpenAPI document shows them.

Bodies of hub actions are the workflow's own action models without ``actor``:
who acts is the authenticated client, never something a body can claim.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, create_model

from workflows.models import (
    GiveAdvice,
    RecordDecision,
    RecordFamilyStep,
    SeekAdvice,
    SignOff,
    Stage,
    Triage,
    Withdraw,
)

T = TypeVar("T")
_OUT = ConfigDict(frozen=True)


def _without_actor(action: type[BaseModel], *, drop: tuple[str, ...] = ()) -> Any:
    """``action``'s fields but ``actor`` (and ``drop``), as a body model of its own."""
    fields: dict[str, Any] = {
        name: (field.annotation, field)
        for name, field in action.model_fields.items()
        if name != "actor" and name not in drop
    }
    return create_model(
        f"{action.__name__}Body",
        __config__=ConfigDict(frozen=True, extra="forbid"),
        __doc__=action.__doc__,
        **fields,
    )


TriageBody = _without_actor(Triage)
SeekAdviceBody = _without_actor(SeekAdvice)
GiveAdviceBody = _without_actor(GiveAdvice, drop=("advice_id",))
DecisionBody = _without_actor(RecordDecision)
SignOffBody = _without_actor(SignOff)
FamilyStepBody = _without_actor(RecordFamilyStep)
WithdrawBody = _without_actor(Withdraw)


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` for the next."""

    items: list[T]
    next_cursor: str | None


class RaiseAccepted(BaseModel):
    model_config = _OUT

    request_id: UUID
    stage: Stage
    detail: str


class RaisedRequest(BaseModel):
    """A request as the agency that raised it sees it."""

    model_config = _OUT

    request_id: UUID
    raised_by: str
    purpose: str
    recipients: dict[str, list[str]]
    stage: str
    outcome: str | None
    decided_at: datetime | None
    referrer_told_at: datetime | None
    raised_at: datetime
    updated_at: datetime


class QueueItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    request_id: UUID
    referrer_agency: str
    purpose: str
    recipients: dict[str, list[str]]
    stage: str
    rag: str | None
    sla_deadline: datetime | None
    handed_to_emergency_duty_team: bool
    sla_breached_at: datetime | None
    time_left_seconds: int | None
    overdue: bool
    outcome: str | None
    raised_at: datetime
    updated_at: datetime


class DisclosureOut(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    disclosure_id: UUID
    request_id: UUID
    agency: str
    categories: list[str]
    purpose: str
    caveats: list[str]
    sent_at: datetime
    acknowledge_by: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    overdue_at: datetime | None


class DisclosureDetail(DisclosureOut):
    """What the recipient may know: the decided items, and which child they concern."""

    child: dict[str, Any] | str
    redacted: bool


class AdviceOut(BaseModel):
    """An advice request as the advisor sees it: a pseudonymised packet, never the identity."""

    model_config = _OUT

    advice_id: UUID
    question: str
    packet: dict[str, Any]
    due_by: datetime
    identity_escalation: str
    answered_at: datetime | None
    advice: str | None


class AdviceRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    advice_id: UUID
    question: str
    sought_at: datetime
    sought_by: str
    due_by: datetime
    answered_at: datetime | None
    answered_by: str | None
    advice: str | None


class ActorOut(BaseModel):
    id: str
    role: str
    agency: str | None


class TimelineEntry(BaseModel):
    global_position: int
    type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: ActorOut
    data: dict[str, Any]


class HubRequestView(QueueItem):
    """A request in full, for hub staff: who the child is, what was asked, what happened."""

    raised_by: str
    lawful_basis: str
    consent: str
    decided_at: datetime | None
    decided_by: str | None
    signed_off_by: str | None
    referrer_told_at: datetime | None
    family_step: str | None
    family_revisit_on: date | None
    policy_version: str
    child: dict[str, Any] | str
    details: dict[str, Any] | str
    redacted: bool
    disclosures: list[DisclosureOut]
    advice: list[AdviceRow]
    timeline: list[TimelineEntry]


class EventOut(BaseModel):
    """An event exactly as the log holds it (personal fields decrypted unless shredded)."""

    global_position: int
    stream_id: str
    stream_version: int
    event_id: UUID
    type: str
    schema_version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: ActorOut
    correlation_id: str | None
    data: dict[str, Any]
    metadata: dict[str, Any]
    prev_hash: str
    hash: str
    redacted_fields: list[str]


class ChainBreak(BaseModel):
    global_position: int
    reason: str


class CheckpointOut(BaseModel):
    """A signed checkpoint; the signature covers the statement, rebuilt from the fields."""

    tree_size: int
    root_hash: str
    head_hash: str
    signed_at: datetime
    key_id: str
    signature: str
    statement: str


class CheckpointFailure(BaseModel):
    tree_size: int
    reason: str


class VerificationOut(BaseModel):
    intact: bool
    events_checked: int
    head_hash: str
    first_break: ChainBreak | None
    checkpoints_checked: int
    checkpoint_failure: CheckpointFailure | None
    latest_checkpoint: CheckpointOut | None
    bus_copy: str  # whether the checkpoints' copy on the bus was compared, and if not why


class InclusionProofOut(BaseModel):
    """RFC 9162 §2.1.3: leaf = SHA-256(0x00 || event_hash), at leaf_index, under the root."""

    event_id: UUID
    global_position: int
    leaf_index: int
    event_hash: str
    audit_path: list[str]
    checkpoint: CheckpointOut
    verifies: bool


class RequestStateOut(BaseModel):
    """A request rebuilt from its events up to a moment or position."""

    request: dict[str, Any] | None
    disclosures: list[dict[str, Any]]
    advice: list[dict[str, Any]]
    events_applied: int
    events_after: int
    timeline: list[TimelineEntry]


class Health(BaseModel):
    status: str
    components: dict[str, str] = {}
