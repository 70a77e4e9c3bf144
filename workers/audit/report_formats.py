"""The decision report rendered for people and their tools: CSV, JSON, or FHIR.

- ``csv`` is the decisions alone, one row per decision, for a spreadsheet; the
  access log, a table of another shape, is :func:`render_access_log_csv`;
- ``json`` is the whole report as its models (:mod:`workers.audit.report_models`)
  serialise it;
- ``fhir`` is a FHIR R5 Bundle, built by :mod:`workers.audit.report_fhir`.

:func:`render_report` gives the bytes of a format, to be served as
``MEDIA_TYPES[fmt]``. Rendering reads nothing and logs nothing.

Who acted is in two columns each: ``decided_by``, ``signed_off_by`` and
``viewer_id`` hold the actor id as recorded (an API client's id; in events
recorded before those, the client's name), for tools to match on; the columns
added after the others, ``decided_by_name``, ``signed_off_by_name`` and
``viewer_name``, hold the client's name for people (an id that is no client's
reads as recorded). The JSON has the same pairs (``decided_by.id`` beside
``decided_by_name``); FHIR gives each agent the id as its identifier and the name
as its display.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from workers.audit.report_models import AccessRow, DecisionReport, DecisionRow

ReportFormat = Literal["csv", "json", "fhir"]
REPORT_FORMATS: tuple[ReportFormat, ...] = ("csv", "json", "fhir")
MEDIA_TYPES: Mapping[ReportFormat, str] = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "fhir": "application/fhir+json",
}

DECISION_COLUMNS = (
    "request_id",
    "referrer_agency",
    "child",
    "purpose",
    "raised_at",
    "rag",
    "previous_rag",
    "sla_deadline",
    "decided_at",
    "sla_met",
    "sla_breached_by",
    "outcome",
    "lawful_basis",
    "condition",
    "reasons",
    "why_not_sharing_is_less_detrimental",
    "shares",
    "consent",
    "consent_note",
    "caveats",
    "decided_by",
    "decided_by_role",
    "sign_off_needed",
    "sign_off_needed_because",
    "signed_off_by",
    "signed_off_by_role",
    "signed_off_at",
    "disclosures",
    "referrer_told_at",
    "family_step",
    "family_step_reason",
    "family_revisit_on",
    "policy_version",
    "decision_event_id",
    "decision_position",
    # Added after the rest, so no column moved: the names of the actors above.
    "decided_by_name",
    "signed_off_by_name",
)
ACCESS_COLUMNS = (
    "request_id",
    "viewed_at",
    "viewer_id",
    "viewer_role",
    "viewer_agency",
    "record",
    "record_id",
    "via",
    "event_id",
    "position",
    "viewer_name",
)


def render_report(report: DecisionReport, fmt: ReportFormat) -> bytes:
    """The report as ``fmt``; serve it as ``MEDIA_TYPES[fmt]``.

    ``csv`` is the decisions alone, one row per decision (the access log, a table
    of another shape, is :func:`render_access_log_csv`); ``json`` is the whole
    report; ``fhir`` is a FHIR R5 Bundle of AuditEvent and Provenance resources.
    """
    if fmt == "csv":
        return _csv(DECISION_COLUMNS, (_decision_cells(row) for row in report.decisions))
    if fmt == "json":
        return report.model_dump_json(indent=2).encode()
    if fmt == "fhir":
        # Imported here: the FHIR models are large to load, and only this format needs them.
        from workers.audit.report_fhir import fhir_bundle

        return fhir_bundle(report).model_dump_json(indent=2).encode()
    raise ValueError(f"unknown report format {fmt!r}; one of {', '.join(REPORT_FORMATS)}")


def render_access_log_csv(report: DecisionReport) -> bytes:
    """The access log as its own CSV table (``text/csv``), one row per view.

    Raises:
        ValueError: the report was built without the access log.
    """
    if report.access_log is None:
        raise ValueError("the report was built without the access log (include_access_log)")
    return _csv(ACCESS_COLUMNS, (_access_cells(row) for row in report.access_log))


def _csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    out = io.StringIO()
    # The byte order mark is how spreadsheet programs learn a CSV file is UTF-8;
    # without it, names with accents open garbled.
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_inert(cell) for cell in row] for row in rows)
    return out.getvalue().encode("utf-8")


def _inert(cell: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (CSV injection).

    Reasons and caveats are typed by people; one beginning ``=`` would otherwise
    be evaluated when an auditor opens the file. The JSON keeps the exact text.
    """
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def _decision_cells(row: DecisionRow) -> list[str]:
    family = row.family_step
    cells = {
        "request_id": str(row.request_id),
        "referrer_agency": row.referrer_agency,
        "child": row.child,
        "purpose": row.purpose,
        "raised_at": _moment(row.raised_at),
        "rag": row.rag or "",
        "previous_rag": row.previous_rag or "",
        "sla_deadline": _moment(row.sla_deadline),
        "decided_at": _moment(row.decided_at),
        "sla_met": _yes_no(row.sla_met),
        "sla_breached_by": _duration(row.sla_breached_by),
        "outcome": row.outcome,
        "lawful_basis": row.lawful_basis,
        "condition": row.condition or "",
        "reasons": row.reasons,
        "why_not_sharing_is_less_detrimental": row.why_not_sharing_is_less_detrimental or "",
        "shares": "; ".join(
            f"{share.agency}: {', '.join(share.categories)} ({share.purpose})"
            for share in row.shares
        ),
        "consent": row.consent,
        "consent_note": row.consent_note or "",
        "caveats": "; ".join(row.caveats),
        "decided_by": row.decided_by.id,
        "decided_by_role": row.decided_by.role,
        "sign_off_needed": _yes_no(row.sign_off_needed),
        "sign_off_needed_because": ", ".join(row.sign_off_needed_because),
        "signed_off_by": row.signed_off_by.id if row.signed_off_by else "",
        "signed_off_by_role": row.signed_off_by.role if row.signed_off_by else "",
        "signed_off_at": _moment(row.signed_off_at),
        "disclosures": "; ".join(
            f"{d.agency}: acknowledged {_moment(d.acknowledged_at)}"
            if d.acknowledged_at is not None
            else f"{d.agency}: not acknowledged (due {_moment(d.acknowledge_by)})"
            for d in row.disclosures
        ),
        "referrer_told_at": _moment(row.referrer_told_at),
        "family_step": family.kind if family else "",
        "family_step_reason": (family.reason or "") if family else "",
        "family_revisit_on": family.revisit_on.isoformat() if family and family.revisit_on else "",
        "policy_version": row.policy_version,
        "decision_event_id": str(row.decision_event_id),
        "decision_position": str(row.decision_position),
        "decided_by_name": row.decided_by_name,
        "signed_off_by_name": row.signed_off_by_name or "",
    }
    return [cells[column] for column in DECISION_COLUMNS]


def _access_cells(row: AccessRow) -> list[str]:
    cells = {
        "request_id": str(row.request_id),
        "viewed_at": _moment(row.viewed_at),
        "viewer_id": row.viewer_id,
        "viewer_role": row.viewer_role,
        "viewer_agency": row.viewer_agency or "",
        "record": row.record,
        "record_id": str(row.record_id),
        "via": row.via,
        "event_id": str(row.event_id),
        "position": str(row.position),
        "viewer_name": row.viewer_name,
    }
    return [cells[column] for column in ACCESS_COLUMNS]


def _moment(value: datetime | None) -> str:
    """UTC to the second with a ``Z``: unambiguous, and sorts as text."""
    if value is None:
        return ""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _duration(value: timedelta | None) -> str:
    """``H:MM:SS`` (hours past 24 included), which spreadsheets read as a duration.

    Rounded up to the second, so a breach by a fraction of a second still shows.
    """
    if value is None:
        return ""
    seconds = math.ceil(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")
