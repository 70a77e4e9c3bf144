"""The facts of a share request's life, as recorded in the event store.

One stream per request (``share-request-<uuid>``). Every event that depends on the
data sharing agreement records the agreement's version. Personal data (the child's
identifier, names, addresses, the account of the concern) lives only in
``ShareRequestRaised``'s personal fields, encrypted with the request's subject key.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from events.registry import DomainEvent, EventRegistry

share_request_events = EventRegistry()


_STREAM_PREFIX = "share-request-"


def stream_id_for(request_id: UUID) -> str:
    return f"{_STREAM_PREFIX}{request_id}"


def request_id_of(stream_id: str) -> UUID | None:
    """The request whose stream this is, or None for any other stream (or a malformed id)."""
    if not stream_id.startswith(_STREAM_PREFIX):
        return None
    try:
        return UUID(stream_id.removeprefix(_STREAM_PREFIX))
    except ValueError:
        return None


def subject_id_for(request_id: UUID) -> str:
    """The data-key subject of a request: shredding it redacts the whole request."""
    return f"share-request-{request_id}"


@share_request_events.event
class ShareRequestRaised(DomainEvent):
    event_type = "ShareRequestRaised"
    personal_fields = frozenset({"child", "details"})

    request_id: UUID
    referrer_agency: str
    purpose: str
    recipients: dict[str, list[str]]
    lawful_basis: str
    condition: str | None
    consent: str
    child: dict[str, Any]
    details: dict[str, Any]
    policy_version: str


@share_request_events.event
class TriageRecorded(DomainEvent):
    event_type = "TriageRecorded"

    rag: Literal["red", "amber", "green", "blue"]
    rationale: str
    previous_rag: str | None
    sla_deadline: datetime | None
    reminders_due: list[datetime]
    handed_to_emergency_duty_team: bool
    policy_version: str


@share_request_events.event
class SlaReminderDue(DomainEvent):
    event_type = "SlaReminderDue"

    rag: str
    fraction: float
    deadline: datetime


@share_request_events.event
class SlaBreached(DomainEvent):
    event_type = "SlaBreached"

    rag: str
    deadline: datetime
    escalated_to: str
    policy_version: str


@share_request_events.event
class AdviceSought(DomainEvent):
    event_type = "AdviceSought"

    advice_id: UUID
    question: str
    packet: dict[str, Any]
    due_by: datetime
    identity_escalation: str


@share_request_events.event
class AdviceGiven(DomainEvent):
    event_type = "AdviceGiven"

    advice_id: UUID
    advice: str


@share_request_events.event
class DecisionRecorded(DomainEvent):
    """Golden rule 7: what was decided, on which basis, why, and for whom."""

    event_type = "DecisionRecorded"

    outcome: Literal["share", "share_partial", "decline"]
    lawful_basis: str
    condition: str | None
    reasons: str
    shares: list[dict[str, Any]]
    consent: str
    consent_note: str | None
    caveats: list[str]
    why_not_sharing_is_less_detrimental: str | None
    sign_off_needed_because: list[str]
    policy_version: str


@share_request_events.event
class DecisionSignedOff(DomainEvent):
    event_type = "DecisionSignedOff"

    comment: str | None


@share_request_events.event
class DisclosureSent(DomainEvent):
    event_type = "DisclosureSent"

    disclosure_id: UUID
    agency: str
    bus_subject: str
    categories: list[str]
    purpose: str
    caveats: list[str]
    acknowledge_by: datetime
    policy_version: str


@share_request_events.event
class DisclosureAcknowledged(DomainEvent):
    event_type = "DisclosureAcknowledged"

    disclosure_id: UUID
    agency: str


@share_request_events.event
class AcknowledgementOverdue(DomainEvent):
    event_type = "AcknowledgementOverdue"

    disclosure_id: UUID
    agency: str
    acknowledge_by: datetime
    escalated_to: str


@share_request_events.event
class ReferrerToldOutcome(DomainEvent):
    """Working Together 2023: the referrer hears the outcome within one working day."""

    event_type = "ReferrerToldOutcome"

    referrer_agency: str
    outcome: str
    due_by: datetime


@share_request_events.event
class FamilyStepRecorded(DomainEvent):
    """Golden rule 2: the family was told, or why not yet, or why not at all."""

    event_type = "FamilyStepRecorded"

    kind: Literal["notified", "withheld", "deferred"]
    reason: str | None
    revisit_on: date | None


@share_request_events.event
class FamilyStepDue(DomainEvent):
    event_type = "FamilyStepDue"

    revisit_on: date


@share_request_events.event
class ShareRequestWithdrawn(DomainEvent):
    event_type = "ShareRequestWithdrawn"

    reason: str


@share_request_events.event
class ShareRequestClosed(DomainEvent):
    event_type = "ShareRequestClosed"

    outcome: str | None
