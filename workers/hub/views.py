"""What people see of the records, as :class:`~workers.hub.records.Records` answers them.

The records service returns rows; these models say which fields each audience
gets and of what type. The HTTP API answers with them (their names are the
OpenAPI document's) and the operator CLI prints them as JSON (``queue --json``,
``show --json``), so a script reads the same shape from either door.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

_OUT = ConfigDict(frozen=True)


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
    """Who caused an event: ``id`` as recorded (an API client's id; in events recorded
    before those, the client's name), ``name`` for people (the client's name, or the
    id where it is no client's; absent from raw events)."""

    id: str
    role: str
    agency: str | None
    name: str | None = None


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
