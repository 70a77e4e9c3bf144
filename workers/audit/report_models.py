"""The decision report's shape: its rows, and the report that holds them.

One :class:`DecisionRow` per recorded decision, with the facts an auditor checks it
against, and one :class:`AccessRow` per read of a reported request; a
:class:`DecisionReport` holds the rows of a period. These are the vocabulary shared
by the module that builds a report from the log (:mod:`workers.audit.report`) and
the modules that render one (:mod:`workers.audit.report_formats`,
:mod:`workers.audit.report_fhir`), which need the shape and nothing of the store.

Who acted is given twice: as recorded (``decided_by.id``, ``viewer_id``: an API
client's id, or for events recorded before clients' ids were, the client's name)
and for people (``decided_by_name``, ``viewer_name``: the client's name, looked up
in the clients' own streams; an id that is no client's reads as recorded).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from events.envelope import Actor

# What the child column says once the subject's key is shredded.
REDACTED_CHILD = "[redacted]"
# Attribute docstrings become descriptions in the JSON schema, as in workflows.policy.
_FROZEN = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class SharedInformation(BaseModel):
    """What the decision sends to one recipient, and for which purpose."""

    model_config = _FROZEN

    agency: str
    categories: tuple[str, ...]
    purpose: str


class DisclosureStatus(BaseModel):
    """One disclosure sent after the decision, and whether its recipient acknowledged it."""

    model_config = _FROZEN

    agency: str
    disclosure_id: UUID
    categories: tuple[str, ...]
    sent_at: datetime
    acknowledge_by: datetime
    acknowledged_at: datetime | None


class FamilyStep(BaseModel):
    """Golden rule 2: what the family was told, as last recorded for the request."""

    model_config = _FROZEN

    kind: Literal["notified", "withheld", "deferred"]
    reason: str | None
    revisit_on: date | None
    recorded_at: datetime


class DecisionRow(BaseModel):
    """One recorded decision, with the facts an auditor checks it against."""

    model_config = _FROZEN

    request_id: UUID
    referrer_agency: str
    child: str
    """The child's names and consistent identifier as raised, or ``[redacted]``."""
    purpose: str
    raised_at: datetime
    rag: str | None
    """The rating in force when the decision was made (None: never triaged)."""
    previous_rag: str | None
    """The rating before that one, when the request was re-rated."""
    sla_deadline: datetime | None
    decided_at: datetime
    sla_met: bool | None
    """None when the rating set no deadline (blue) or the request was never triaged."""
    sla_breached_by: timedelta | None
    outcome: Literal["share", "share_partial", "decline"]
    lawful_basis: str
    condition: str | None
    """The Art 9 (or Art 10) condition for special category data, if one was needed."""
    reasons: str
    why_not_sharing_is_less_detrimental: str | None
    shares: tuple[SharedInformation, ...]
    consent: str
    consent_note: str | None
    caveats: tuple[str, ...]
    decided_by: Actor
    """Who decided, as recorded: ``id`` is the API client's id (before clients' ids
    were recorded, the client's name)."""
    decided_by_name: str
    """Who decided, for people: the client's name; the recorded id where it is no
    client's."""
    sign_off_needed: bool
    sign_off_needed_because: tuple[str, ...]
    signed_off_by: Actor | None
    signed_off_by_name: str | None
    """Who signed off, for people, as ``decided_by_name``."""
    signed_off_at: datetime | None
    disclosures: tuple[DisclosureStatus, ...]
    referrer_told_at: datetime | None
    family_step: FamilyStep | None
    policy_version: str
    """The data sharing agreement's version the decision was checked against."""
    decision_event_id: UUID
    decision_position: int
    """The decision event's global position: where to find it in the verified log."""


class AccessRow(BaseModel):
    """One person's read of a request or a disclosure (the access log)."""

    model_config = _FROZEN

    request_id: UUID
    viewed_at: datetime
    viewer_id: str
    """The actor id recorded: the API client's id (before, its name)."""
    viewer_name: str
    """The viewer for people: the client's name, or the recorded id where it is no client's."""
    viewer_role: str
    viewer_agency: str | None
    record: str
    record_id: UUID
    via: str
    event_id: UUID
    position: int


class ReportPeriod(BaseModel):
    """The decisions reported are those made in ``[start, end)``."""

    model_config = _FROZEN

    start: datetime
    end: datetime


class DecisionReport(BaseModel):
    """The decisions of a period (optionally of one agency), and who viewed those requests.

    ``access_log`` is None when it was not asked for, and empty when it was and
    nobody viewed the requests: the two answers mean different things to an auditor.
    """

    model_config = _FROZEN

    period: ReportPeriod
    agency: str | None
    generated_at: datetime
    decisions: tuple[DecisionRow, ...]
    access_log: tuple[AccessRow, ...] | None
