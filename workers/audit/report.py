"""The decision report: the record of every decision, with its reasons (golden rule 7).

DfE's seventh golden rule asks practitioners to record each decision to share or
not to share, with the reasons: what was shared, with whom, for what purpose, and
whether with consent (the ICO adds when, and on which lawful basis). This module
turns the event log into that record for auditors: one
:class:`~workers.audit.report_models.DecisionRow` per ``DecisionRecorded`` event,
holding the decision itself and the facts around it that an auditor checks it
against — the rating and SLA in force when it was made, who decided and who signed
off (and why a sign-off was needed), which disclosures were sent and acknowledged,
and what the family was told.

Rows are built from the events of the request's own stream, never from the read
models, so the report says exactly what the hash-chained log says. The read model
``share_request_view`` is used only to find *which* requests to read. The child's
identity comes from the request's encrypted personal fields; once the subject's key
is shredded it reads ``"[redacted]"``, and every other column stays as recorded.

The report's rooms, each usable alone:

- :mod:`workers.audit.report_models` — the rows and the report (its shape);
- this module — :func:`decision_rows`, :func:`access_rows`, :func:`build_report`,
  pure folds over recorded events (no I/O), for unit tests and replays; and
  :func:`decision_report`, which finds the decisions of a period in a store and
  reads their streams;
- :mod:`workers.audit.report_formats` — :func:`~workers.audit.report_formats.render_report`
  (CSV, JSON, or a FHIR R5 Bundle from :mod:`workers.audit.report_fhir`).

Events record who acted by the API client's id; each row carries the id as
recorded and, beside it, the client's name, folded from the ``api-client-*``
streams (:func:`~events.access.client_names_in_log`), so the report still needs
nothing but the log. An event recorded before clients' ids were names its actor
by the client's name, and the row shows it as recorded.

Generating a report reads who each child is; recording that read (the access log)
is the caller's business, as for any other read. Nothing here logs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID

from events.access import (
    RecordViewed,
    access_events,
    access_log_stream,
    client_names_in_log,
)
from events.envelope import RecordedEvent
from events.read_models.queries import ReadModelQueries, decided_in_view
from events.share_requests import (
    DecisionRecorded,
    DecisionSignedOff,
    DisclosureAcknowledged,
    DisclosureSent,
    FamilyStepRecorded,
    ReferrerToldOutcome,
    ShareRequestRaised,
    TriageRecorded,
    request_id_of,
    share_request_events,
    stream_id_for,
)
from events.store import EventStore
from workers.audit.report_models import (
    REDACTED_CHILD,
    AccessRow,
    DecisionReport,
    DecisionRow,
    DisclosureStatus,
    FamilyStep,
    ReportPeriod,
    SharedInformation,
)

# Sealed pages of the log while looking for decisions: no subject key is looked up,
# and a page this size keeps one round trip per few thousand events.
_SCAN_PAGE = 5000
# Streams read at once: enough to hide round trips, few enough to leave the store's
# pool (shared with its committers) room for the workflows' appends.
_CONCURRENT_READS = 4


# ----------------------------------------------------------------------- folding events


@dataclass
class _DecisionFacts:
    """A decision while its stream is folded: later events add to it."""

    decision: DecisionRecorded
    event: RecordedEvent
    triage: TriageRecorded | None
    signed_off: RecordedEvent | None = None
    disclosures: dict[UUID, tuple[DisclosureSent, RecordedEvent]] = field(default_factory=dict)
    acknowledged_at: dict[UUID, datetime] = field(default_factory=dict)
    referrer_told_at: datetime | None = None


def decision_rows(
    events: Iterable[RecordedEvent], names: Mapping[str, str] | None = None
) -> list[DecisionRow]:
    """One row per ``DecisionRecorded`` in one request's stream, in stream order.

    Pure. The events are the request's stream (decrypted, as ``read_stream`` gives
    them). What follows a decision — its sign-off, disclosures, acknowledgements,
    the referrer's feedback — belongs to it until the next decision; the family
    step is the latest one recorded for the request.

    ``names`` gives the name of each actor id that is an API client's; an id not in
    it (sharehub, an older event's name) is shown as recorded.

    Raises:
        ValueError: the events do not begin with the request being raised.
    """
    raised: ShareRequestRaised | None = None
    raised_event: RecordedEvent | None = None
    child = REDACTED_CHILD
    triage: TriageRecorded | None = None
    family_step: FamilyStep | None = None
    decisions: list[_DecisionFacts] = []
    for event in events:
        if event.type == "ShareRequestRaised":
            raised, child = _read_raised(event)
            raised_event = event
            continue
        if raised is None:
            raise ValueError(f"{event.stream_id} has a {event.type} before its request was raised")
        latest = decisions[-1] if decisions else None
        decoded = _decode_if_needed(event)
        match decoded:
            case TriageRecorded():
                triage = decoded
            case DecisionRecorded():
                decisions.append(_DecisionFacts(decoded, event, triage))
            case DecisionSignedOff() if latest is not None:
                latest.signed_off = event
            case DisclosureSent() if latest is not None:
                latest.disclosures[decoded.disclosure_id] = (decoded, event)
            case DisclosureAcknowledged() if latest is not None:
                latest.acknowledged_at.setdefault(decoded.disclosure_id, event.occurred_at)
            case ReferrerToldOutcome() if latest is not None:
                latest.referrer_told_at = event.occurred_at
            case FamilyStepRecorded():
                family_step = FamilyStep(
                    kind=decoded.kind,
                    reason=decoded.reason,
                    revisit_on=decoded.revisit_on,
                    recorded_at=event.occurred_at,
                )
    if raised is None or raised_event is None:
        return []
    names = names or {}
    return [_row(raised, raised_event, child, facts, family_step, names) for facts in decisions]


_FOLDED = frozenset(
    {
        "TriageRecorded",
        "DecisionRecorded",
        "DecisionSignedOff",
        "DisclosureSent",
        "DisclosureAcknowledged",
        "ReferrerToldOutcome",
        "FamilyStepRecorded",
    }
)


def _decode_if_needed(event: RecordedEvent) -> object:
    # Only the events the row reads are validated: clocks, advice and the like are
    # skipped unread, so a type the report does not know never stops it.
    if event.type not in _FOLDED:
        return None
    return share_request_events.decode(event)


def _read_raised(event: RecordedEvent) -> tuple[ShareRequestRaised, str]:
    """The raise, and the child as the report shows it (``[redacted]`` once shredded)."""
    data = dict(event.data)
    # A shredded field reads as a marker string; an empty value of the field's own
    # shape lets the rest of the raise (referrer, purpose, basis) validate as recorded.
    for name in event.redacted_fields:
        data[name] = {}
    data = share_request_events.upcast(event.type, event.schema_version, data)
    raised = ShareRequestRaised.model_validate(data)
    if event.redacted_fields & ShareRequestRaised.personal_fields:
        return raised, REDACTED_CHILD
    return raised, describe_child(raised.child, raised.details)


def describe_child(child: Mapping[str, Any], details: Mapping[str, Any]) -> str:
    """The child's names and consistent identifier, as the request recorded them.

    ``child`` is the raise's identifier (the NHS number, or the statutory reason it
    is absent, Children Act 2004 s16LC); the names are those of the people the
    details record in the role ``child``.
    """
    parts: list[str] = []
    for person in details.get("people", ()):
        if person.get("role") != "child":
            continue
        name = " ".join(
            str(part) for part in (person.get("given_names"), person.get("family_name")) if part
        )
        known_as = [str(alias) for alias in person.get("known_as", ()) if alias]
        if known_as:
            name = f"{name} (known as {', '.join(known_as)})"
        if name:
            parts.append(name)
    nhs_number = child.get("nhs_number")
    if nhs_number:
        digits = str(nhs_number)
        parts.append(f"NHS number {digits[:3]} {digits[3:6]} {digits[6:]}")
    elif child.get("absence_reason"):
        parts.append(f"no NHS number: {child['absence_reason']}")
    return "; ".join(parts)


def _row(
    raised: ShareRequestRaised,
    raised_event: RecordedEvent,
    child: str,
    facts: _DecisionFacts,
    family_step: FamilyStep | None,
    names: Mapping[str, str],
) -> DecisionRow:
    decision, event, triage = facts.decision, facts.event, facts.triage
    decided_at = event.occurred_at
    deadline = triage.sla_deadline if triage is not None else None
    sla_met: bool | None = None
    breached_by: timedelta | None = None
    if deadline is not None:
        # A decision exactly at the deadline is in time.
        sla_met = decided_at <= deadline
        breached_by = None if sla_met else decided_at - deadline
    signed = facts.signed_off
    return DecisionRow(
        request_id=raised.request_id,
        referrer_agency=raised.referrer_agency,
        child=child,
        purpose=raised.purpose,
        raised_at=raised_event.occurred_at,
        rag=triage.rag if triage is not None else None,
        previous_rag=triage.previous_rag if triage is not None else None,
        sla_deadline=deadline,
        decided_at=decided_at,
        sla_met=sla_met,
        sla_breached_by=breached_by,
        outcome=decision.outcome,
        lawful_basis=decision.lawful_basis,
        condition=decision.condition,
        reasons=decision.reasons,
        why_not_sharing_is_less_detrimental=decision.why_not_sharing_is_less_detrimental,
        shares=tuple(
            SharedInformation(
                agency=str(share["agency"]),
                categories=tuple(str(c) for c in share["categories"]),
                purpose=str(share["purpose"]),
            )
            for share in decision.shares
        ),
        consent=decision.consent,
        consent_note=decision.consent_note,
        caveats=tuple(decision.caveats),
        decided_by=event.actor,
        decided_by_name=names.get(event.actor.id, event.actor.id),
        sign_off_needed=bool(decision.sign_off_needed_because),
        sign_off_needed_because=tuple(decision.sign_off_needed_because),
        signed_off_by=signed.actor if signed is not None else None,
        signed_off_by_name=names.get(signed.actor.id, signed.actor.id)
        if signed is not None
        else None,
        signed_off_at=signed.occurred_at if signed is not None else None,
        disclosures=tuple(
            DisclosureStatus(
                agency=sent.agency,
                disclosure_id=disclosure_id,
                categories=tuple(sent.categories),
                sent_at=sent_event.occurred_at,
                acknowledge_by=sent.acknowledge_by,
                acknowledged_at=facts.acknowledged_at.get(disclosure_id),
            )
            for disclosure_id, (sent, sent_event) in facts.disclosures.items()
        ),
        referrer_told_at=facts.referrer_told_at,
        family_step=family_step,
        policy_version=decision.policy_version,
        decision_event_id=event.event_id,
        decision_position=event.global_position,
    )


def access_rows(
    events: Iterable[RecordedEvent], names: Mapping[str, str] | None = None
) -> list[AccessRow]:
    """One row per ``RecordViewed`` in a request's access log, in log order. Pure.

    ``names`` as for :func:`decision_rows`.
    """
    names = names or {}
    rows: list[AccessRow] = []
    for event in events:
        if event.type != "RecordViewed":
            continue
        viewed = access_events.decode(event)
        assert isinstance(viewed, RecordViewed)
        rows.append(
            AccessRow(
                request_id=viewed.request_id,
                viewed_at=event.occurred_at,
                viewer_id=event.actor.id,
                viewer_name=names.get(event.actor.id, event.actor.id),
                viewer_role=event.actor.role,
                viewer_agency=event.actor.agency,
                record=viewed.record,
                record_id=viewed.record_id,
                via=viewed.via,
                event_id=event.event_id,
                position=event.global_position,
            )
        )
    return rows


class RequestHistory(NamedTuple):
    """One request's stream and its access log, as read from the store."""

    events: Sequence[RecordedEvent]
    access_events: Sequence[RecordedEvent] = ()


def decided_in(row: DecisionRow, *, start: datetime, end: datetime) -> bool:
    """Whether the decision falls in the half-open period ``[start, end)``."""
    return start <= row.decided_at < end


def concerns_agency(rows: Iterable[DecisionRow], agency: str) -> bool:
    """Whether ``agency`` raised the request these decisions answer or received a share."""
    return any(
        row.referrer_agency == agency or any(share.agency == agency for share in row.shares)
        for row in rows
    )


def build_report(
    histories: Iterable[RequestHistory],
    *,
    start: datetime,
    end: datetime,
    generated_at: datetime,
    agency: str | None = None,
    include_access_log: bool = False,
    names: Mapping[str, str] | None = None,
) -> DecisionReport:
    """The report over already-read request histories. Pure.

    ``names`` gives the name of each actor id that is an API client's
    (:func:`decision_rows`); without it, every actor reads as recorded.

    The access log, when included, is each reported request's whole log: an auditor
    asking about a decision wants everyone who looked at that request, before or
    after the period.
    """
    _check_period(start, end)
    decisions: list[DecisionRow] = []
    viewed: list[AccessRow] = []
    for history in histories:
        rows = decision_rows(history.events, names)
        if agency is not None and not concerns_agency(rows, agency):
            continue
        in_period = [row for row in rows if decided_in(row, start=start, end=end)]
        if not in_period:
            continue
        decisions.extend(in_period)
        if include_access_log:
            viewed.extend(access_rows(history.access_events, names))
    decisions.sort(key=lambda row: (row.decided_at, row.decision_position))
    viewed.sort(key=lambda row: row.position)
    return DecisionReport(
        period=ReportPeriod(start=start, end=end),
        agency=agency,
        generated_at=generated_at,
        decisions=tuple(decisions),
        access_log=tuple(viewed) if include_access_log else None,
    )


EARLIEST_PERIOD_START = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_PERIOD_END = datetime(9000, 1, 1, tzinfo=UTC)


def _check_period(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("the report's period needs timezone-aware start and end")
    if not start < end:
        raise ValueError("the report's period must end after it starts")
    # Far enough from datetime's own limits for the database to take either end
    # in any time zone; no share request was decided outside these years.
    if start < EARLIEST_PERIOD_START or end > LATEST_PERIOD_END:
        raise ValueError("the report's period must lie between the years 1900 and 9000")


# ----------------------------------------------------------------------- from the store


async def decided_requests(
    store: EventStore, *, start: datetime, end: datetime, agency: str | None = None
) -> set[UUID]:
    """Requests that may hold a decision made in ``[start, end)``: a superset, never less.

    Where the store has the read models, the requests they already show decided in
    the period, plus those whose decision the projector has not reached yet, found
    in the log after its checkpoint. Otherwise one sealed pass over the whole log.
    """
    _check_period(start, end)
    found: set[UUID] = set()
    scanned_up_to = 0
    if isinstance(store, ReadModelQueries):
        view = await decided_in_view(store, start=start, end=end, agency=agency)
        scanned_up_to = view.applied_up_to
        found.update(view.request_ids)
    while True:
        # Sealed: a decision holds no personal data, so no key needs unwrapping.
        page = await store.read_all(from_position=scanned_up_to + 1, limit=_SCAN_PAGE, sealed=True)
        if not page:
            return found
        for event in page:
            if event.type == "DecisionRecorded" and start <= event.occurred_at < end:
                request_id = request_id_of(event.stream_id)
                if request_id is not None:
                    found.add(request_id)
        scanned_up_to = page[-1].global_position


async def decision_report(
    store: EventStore,
    *,
    start: datetime,
    end: datetime,
    agency: str | None = None,
    include_access_log: bool = False,
) -> DecisionReport:
    """Every decision made in ``[start, end)``, from the events themselves.

    Args:
        store: the event store; its read models, when it has them, only narrow
            which streams are read.
        start: the first moment of the period (timezone-aware), included.
        end: the moment the period ends (timezone-aware), excluded.
        agency: keep only requests this agency raised or received a share in.
        include_access_log: add every read of the reported requests.

    Raises:
        ValueError: the period is not timezone-aware or ends before it starts.
        EventStoreError: the store failed.
    """
    generated_at = datetime.now(UTC)
    candidates = await decided_requests(store, start=start, end=end, agency=agency)
    gate = asyncio.Semaphore(_CONCURRENT_READS)

    async def read(request_id: UUID) -> RequestHistory:
        async with gate:
            events = await store.read_stream(stream_id_for(request_id))
            viewed = (
                await store.read_stream(access_log_stream(request_id)) if include_access_log else []
            )
        return RequestHistory(events, viewed)

    histories = await asyncio.gather(*(read(request_id) for request_id in sorted(candidates)))
    names = await client_names_in_log(
        store,
        sorted(
            {
                event.actor.id
                for history in histories
                for event in (*history.events, *history.access_events)
            }
        ),
    )
    return build_report(
        histories,
        start=start,
        end=end,
        generated_at=generated_at,
        agency=agency,
        include_access_log=include_access_log,
        names=names,
    )
