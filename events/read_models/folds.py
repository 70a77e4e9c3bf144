"""The pure folds of events into read-model rows: one fold and one key per read model.

Each read model is a table with one row per key (a request, a disclosure, an advice
request, an API client). Its key function says which row an event touches (``None``:
none), and its fold returns that row after the event (``None``: no row yet). Nothing
here reads or writes a database: the :class:`~events.read_models.projector.Projector`
writes what the folds return, and :mod:`events.read_models.replay` folds a request in
memory for auditors with the very same functions, so the views and the replay cannot
disagree about what an event means.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from events.envelope import RecordedEvent
from events.share_requests import request_id_of

Row = dict[str, Any]
_FAMILY_DONE = ("notified", "withheld")
_CLIENT_STREAM_PREFIX = "api-client-"


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def request_key(event: RecordedEvent) -> UUID | None:
    """The request whose stream ``event`` is on (its row in ``share_request_view``)."""
    return request_id_of(event.stream_id)


# ----------------------------------------------------------------------- share requests


def fold_request(row: Row | None, event: RecordedEvent) -> Row | None:
    """The request's row after ``event``; ``None`` while it has not been raised."""
    data = event.data
    if event.type == "ShareRequestRaised":
        row = {
            "request_id": request_key(event),
            "referrer_agency": data["referrer_agency"],
            "raised_by": event.actor.id,
            "purpose": data["purpose"],
            "recipients": data["recipients"],
            "lawful_basis": data["lawful_basis"],
            "consent": data["consent"],
            "stage": "raised",
            "rag": None,
            "sla_deadline": None,
            "handed_to_emergency_duty_team": False,
            "sla_breached_at": None,
            "outcome": None,
            "decided_at": None,
            "decided_by": None,
            "signed_off_by": None,
            "referrer_told_at": None,
            "disclosures_sent": 0,
            "disclosures_acknowledged": 0,
            "family_step": None,
            "family_revisit_on": None,
            "queue_rank": 0,
            "queue_due_at": event.occurred_at,
            "policy_version": data["policy_version"],
            "raised_at": event.occurred_at,
        }
    if row is None:
        return None
    row = dict(row)
    match event.type:
        case "TriageRecorded":
            row["rag"] = data["rag"]
            row["sla_deadline"] = _moment(data["sla_deadline"])
            row["handed_to_emergency_duty_team"] = data["handed_to_emergency_duty_team"]
            row["sla_breached_at"] = None  # a re-rating starts a new clock
        case "SlaBreached":
            row["sla_breached_at"] = event.occurred_at
        case "DecisionRecorded":
            row["outcome"] = data["outcome"]
            row["decided_at"] = event.occurred_at
            row["decided_by"] = event.actor.id
            if data["sign_off_needed_because"]:
                row["stage"] = "awaiting_sign_off"  # until DecisionSignedOff names a signer
        case "DecisionSignedOff":
            row["signed_off_by"] = event.actor.id
        case "ReferrerToldOutcome":
            row["referrer_told_at"] = event.occurred_at
        case "DisclosureSent":
            row["disclosures_sent"] += 1
        case "DisclosureAcknowledged":
            row["disclosures_acknowledged"] += 1
        case "FamilyStepRecorded":
            row["family_step"] = data["kind"]
            row["family_revisit_on"] = (
                date.fromisoformat(data["revisit_on"]) if data["revisit_on"] else None
            )
        case "FamilyStepDue":
            row["family_step"] = "due"
        case "ShareRequestWithdrawn":
            row["stage"] = "withdrawn"
        case "ShareRequestClosed":
            row["stage"] = "closed"
    row["stage"] = _stage(row)
    row["queue_rank"], row["queue_due_at"] = _queue_position(row)
    row["updated_at"] = event.occurred_at
    row["last_position"] = event.global_position
    return row


def _stage(row: Row) -> str:
    """The workflow's stage, as far as the events show it (workflows.models.Stage)."""
    if row["stage"] in ("withdrawn", "closed"):
        return str(row["stage"])
    if row["outcome"] is None:
        return "triaged" if row["rag"] is not None else "raised"
    if row["stage"] == "awaiting_sign_off" and row["signed_off_by"] is None:
        return "awaiting_sign_off"
    if row["referrer_told_at"] is None or row["disclosures_acknowledged"] < row["disclosures_sent"]:
        return "disclosing"
    return "ready_to_close" if row["family_step"] in _FAMILY_DONE else "family_step"


def _queue_position(row: Row) -> tuple[int, datetime]:
    if row["stage"] == "raised":
        return 0, row["raised_at"]  # to be rated: the oldest first
    if row["stage"] == "triaged" and row["sla_deadline"] is not None:
        return 0, row["sla_deadline"]
    return 1, row["raised_at"]


# ----------------------------------------------------------------------- disclosures


def fold_disclosure(row: Row | None, event: RecordedEvent) -> Row | None:
    data = event.data
    if event.type == "DisclosureSent":
        return {
            "disclosure_id": UUID(data["disclosure_id"]),
            "request_id": request_key(event),
            "agency": data["agency"],
            "categories": data["categories"],
            "purpose": data["purpose"],
            "caveats": data["caveats"],
            "sent_at": event.occurred_at,
            "acknowledge_by": _moment(data["acknowledge_by"]),
            "acknowledged_at": None,
            "acknowledged_by": None,
            "overdue_at": None,
        }
    if row is None:
        return None
    if event.type == "DisclosureAcknowledged":
        return {**row, "acknowledged_at": event.occurred_at, "acknowledged_by": event.actor.id}
    if event.type == "AcknowledgementOverdue":
        return {**row, "overdue_at": event.occurred_at}
    return row


def disclosure_key(event: RecordedEvent) -> UUID | None:
    if event.type in ("DisclosureSent", "DisclosureAcknowledged", "AcknowledgementOverdue"):
        return UUID(event.data["disclosure_id"])
    return None


# ----------------------------------------------------------------------- advice


def fold_advice(row: Row | None, event: RecordedEvent) -> Row | None:
    data = event.data
    if event.type == "AdviceSought":
        return {
            "advice_id": UUID(data["advice_id"]),
            "request_id": request_key(event),
            "question": data["question"],
            "sought_at": event.occurred_at,
            "sought_by": event.actor.id,
            "due_by": _moment(data["due_by"]),
            "answered_at": None,
            "answered_by": None,
            "advice": None,
        }
    if row is not None and event.type == "AdviceGiven":
        return {
            **row,
            "answered_at": event.occurred_at,
            "answered_by": event.actor.id,
            "advice": data["advice"],
        }
    return row


def advice_key(event: RecordedEvent) -> UUID | None:
    if event.type in ("AdviceSought", "AdviceGiven"):
        return UUID(event.data["advice_id"])
    return None


# ----------------------------------------------------------------------- API clients


def fold_api_client(row: Row | None, event: RecordedEvent) -> Row | None:
    data = event.data
    if event.type == "ApiClientCreated":
        return {
            "client_id": UUID(data["client_id"]),
            "name": data["name"],
            "role": data["role"],
            "agency": data["agency"],
            "created_at": event.occurred_at,
            "created_by": event.actor.id,
            "revoked_at": None,
            "revoked_by": None,
        }
    if row is not None and event.type == "ApiClientRevoked":
        return {**row, "revoked_at": event.occurred_at, "revoked_by": event.actor.id}
    return row


def api_client_key(event: RecordedEvent) -> UUID | None:
    if event.stream_id.startswith(_CLIENT_STREAM_PREFIX):
        return UUID(event.stream_id.removeprefix(_CLIENT_STREAM_PREFIX))
    return None
