"""The decision report (golden rule 7): rows from events, the three renderings, the store.

The pure tests fold recorded events built in memory; the store tests append the same
histories to a real PostgreSQL, shred a subject and read the report back.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import pytest
from fhir.resources.auditevent import AuditEvent
from fhir.resources.bundle import Bundle
from pydantic import ValidationError

from events.access import ApiClientCreated, RecordViewed, access_log_stream, api_client_stream
from events.envelope import REDACTED, Actor, RecordedEvent
from events.postgres import PostgresEventStore
from events.read_models.projector import Projector
from events.registry import DomainEvent
from events.share_requests import (
    DecisionRecorded,
    DecisionSignedOff,
    DisclosureAcknowledged,
    DisclosureSent,
    FamilyStepRecorded,
    ReferrerToldOutcome,
    ShareRequestRaised,
    SlaBreached,
    TriageRecorded,
    stream_id_for,
    subject_id_for,
)
from tests.workflows.scenario import (
    GP,
    GP_ASKED,
    MANAGER,
    OFFICER,
    POLICE,
    POLICE_ASKED,
    SCHOOL_DSL,
    SECOND_MANAGER,
    raise_request,
)
from workers.audit.report import (
    RequestHistory,
    access_rows,
    build_report,
    decided_requests,
    decision_report,
    decision_rows,
)
from workers.audit.report_fhir import fhir_bundle, resource_id
from workers.audit.report_formats import (
    ACCESS_COLUMNS,
    DECISION_COLUMNS,
    MEDIA_TYPES,
    render_access_log_csv,
    render_report,
)
from workers.audit.report_models import REDACTED_CHILD, AccessRow, DecisionReport, DecisionRow
from workflows.models import Participant, Role

Rag = Literal["red", "amber", "green", "blue"]
Outcome = Literal["share", "share_partial", "decline"]
FamilyKind = Literal["notified", "withheld", "deferred"]

POLICY = "2026.1"
SHAREHUB = Participant(id="sharehub", role=Role.ADMIN)
# Monday 2 March 2026: London is on GMT, so hub hours are 09:00-17:00 UTC.
RAISED_AT = datetime(2026, 3, 2, 9, 5, tzinfo=UTC)
TRIAGED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
AMBER_DEADLINE = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)  # six working hours
IN_TIME = datetime(2026, 3, 2, 14, 50, tzinfo=UTC)
MONTH_START = datetime(2026, 3, 1, tzinfo=UTC)
MONTH_END = datetime(2026, 4, 1, tzinfo=UTC)
GENERATED_AT = datetime(2026, 4, 2, 8, 0, tzinfo=UTC)
CHILD = "Amara Okafor; NHS number 943 476 5919"
FULL_SHARES = [
    {"agency": "met-police", "categories": list(POLICE_ASKED), "purpose": "safeguarding_strategy"},
    {
        "agency": "riverside-medical-practice",
        "categories": list(GP_ASKED),
        "purpose": "safeguarding_strategy",
    },
]
POLICE_IN_PART = [
    {
        "agency": "met-police",
        "categories": ["social_care_involvement"],
        "purpose": "safeguarding_strategy",
    }
]


# ----------------------------------------------------------------------- histories


@dataclass
class History:
    """One request's events as the workflow records them, and its access log."""

    referrer: Participant = SCHOOL_DSL
    raised_at: datetime = RAISED_AT
    request_id: UUID = field(default_factory=uuid.uuid4)
    steps: list[tuple[DomainEvent, Actor, datetime]] = field(default_factory=list)
    views: list[tuple[DomainEvent, Actor, datetime]] = field(default_factory=list)
    disclosure_ids: dict[str, UUID] = field(default_factory=dict)

    def __post_init__(self) -> None:
        request = raise_request()
        self.add(
            self.referrer,
            self.raised_at,
            ShareRequestRaised(
                request_id=self.request_id,
                referrer_agency=self.referrer.agency or "",
                purpose=request.purpose,
                recipients={r.agency: list(r.categories) for r in request.recipients},
                lawful_basis=request.lawful_basis.value,
                condition=request.condition.value if request.condition else None,
                consent=request.consent.value,
                child=request.child.model_dump(mode="json"),
                details=request.details.model_dump(mode="json"),
                policy_version=POLICY,
            ),
        )

    def add(self, who: Participant, at: datetime, event: DomainEvent) -> History:
        self.steps.append((event, who.as_actor(), at))
        return self

    def triage(
        self,
        rag: Rag = "amber",
        *,
        at: datetime = TRIAGED_AT,
        deadline: datetime | None = AMBER_DEADLINE,
        previous: str | None = None,
    ) -> History:
        return self.add(
            OFFICER,
            at,
            TriageRecorded(
                rag=rag,
                rationale="Missing episodes, no current harm",
                previous_rag=previous,
                sla_deadline=deadline,
                reminders_due=[],
                handed_to_emergency_duty_team=False,
                policy_version=POLICY,
            ),
        )

    def decide(
        self,
        *,
        at: datetime = IN_TIME,
        by: Participant = MANAGER,
        outcome: Outcome = "share",
        shares: Sequence[dict[str, Any]] = tuple(FULL_SHARES),
        consent: str = "given",
        consent_note: str | None = None,
        why_not: str | None = None,
        sign_off_because: Sequence[str] = (),
        reasons: str = "Repeated missing episodes; police need the school and GP picture.",
        caveats: Sequence[str] = ("Do not approach the parents before the strategy discussion",),
    ) -> History:
        return self.add(
            by,
            at,
            DecisionRecorded(
                outcome=outcome,
                lawful_basis="art6_1e_public_task",
                condition="art9_2g_dpa2018_sch1_para18_safeguarding",
                reasons=reasons,
                shares=list(shares),
                consent=consent,
                consent_note=consent_note,
                caveats=list(caveats),
                why_not_sharing_is_less_detrimental=why_not,
                sign_off_needed_because=list(sign_off_because),
                policy_version=POLICY,
            ),
        )

    def sign_off(self, *, at: datetime, by: Participant = SECOND_MANAGER) -> History:
        return self.add(by, at, DecisionSignedOff(comment="Agreed: the risk outweighs privacy"))

    def disclose(self, agency: str, categories: Sequence[str], *, at: datetime) -> History:
        disclosure_id = self.disclosure_ids.setdefault(agency, uuid.uuid4())
        return self.add(
            SHAREHUB,
            at,
            DisclosureSent(
                disclosure_id=disclosure_id,
                agency=agency,
                bus_subject=f"sharehub.disclosures.{agency}",
                categories=list(categories),
                purpose="safeguarding_strategy",
                caveats=[],
                acknowledge_by=at + timedelta(hours=2),
                policy_version=POLICY,
            ),
        )

    def acknowledge(self, who: Participant, *, at: datetime) -> History:
        agency = who.agency or ""
        return self.add(
            who,
            at,
            DisclosureAcknowledged(disclosure_id=self.disclosure_ids[agency], agency=agency),
        )

    def family(
        self,
        kind: FamilyKind,
        *,
        at: datetime,
        reason: str | None = None,
        revisit_on: date | None = None,
    ) -> History:
        return self.add(
            OFFICER,
            at,
            FamilyStepRecorded(kind=kind, reason=reason, revisit_on=revisit_on),
        )

    def viewed(self, who: Participant, *, at: datetime, via: str = "GET /v1/hub") -> History:
        event = RecordViewed(
            request_id=self.request_id,
            record="share_request",
            record_id=self.request_id,
            via=via,
        )
        self.views.append((event, who.as_actor(), at))
        return self

    # --- as the store would return them, without a store

    def recorded(self, *, first_position: int = 1) -> list[RecordedEvent]:
        return _recorded(stream_id_for(self.request_id), self.steps, first_position, subject=True)

    def recorded_views(self, *, first_position: int = 1000) -> list[RecordedEvent]:
        return _recorded(access_log_stream(self.request_id), self.views, first_position)

    def history(self) -> RequestHistory:
        return RequestHistory(self.recorded(), self.recorded_views())

    # --- in a real store

    async def append_to(self, store: PostgresEventStore) -> None:
        await store.append(
            stream_id_for(self.request_id),
            [
                event.to_new_event(
                    actor=actor,
                    subject_id=subject_id_for(self.request_id),
                    occurred_at=at,
                    correlation_id=str(self.request_id),
                )
                for event, actor, at in self.steps
            ],
            expected_version=0,
        )
        if self.views:
            await store.append(
                access_log_stream(self.request_id),
                [
                    event.to_new_event(actor=actor, occurred_at=at)
                    for event, actor, at in self.views
                ],
                expected_version=0,
            )


def _recorded(
    stream_id: str,
    steps: Sequence[tuple[DomainEvent, Actor, datetime]],
    first_position: int,
    *,
    subject: bool = False,
) -> list[RecordedEvent]:
    return [
        RecordedEvent(
            global_position=first_position + index,
            stream_id=stream_id,
            stream_version=index + 1,
            # Stable ids: the same history read twice is the same events.
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{stream_id}/{index}"),
            type=event.event_type,
            schema_version=event.schema_version,
            occurred_at=at,
            recorded_at=at,
            actor=actor,
            correlation_id=None,
            subject_id=stream_id if subject else None,
            data=event.model_dump(mode="json"),
            metadata={},
            prev_hash=b"",
            hash=b"",
        )
        for index, (event, actor, at) in enumerate(steps)
    ]


def full_share() -> History:
    """A hub manager shares all that was asked, with consent; both recipients acknowledge."""
    return (
        History()
        .triage()
        .decide()
        .disclose("met-police", POLICE_ASKED, at=IN_TIME + timedelta(seconds=1))
        .disclose("riverside-medical-practice", GP_ASKED, at=IN_TIME + timedelta(seconds=1))
        .add(
            SHAREHUB,
            IN_TIME + timedelta(minutes=1),
            ReferrerToldOutcome(
                referrer_agency="st-aldhelms-primary",
                outcome="share",
                due_by=IN_TIME + timedelta(days=1),
            ),
        )
        .acknowledge(POLICE, at=IN_TIME + timedelta(minutes=20))
        .acknowledge(GP, at=IN_TIME + timedelta(minutes=45))
        .family("notified", at=IN_TIME + timedelta(hours=1))
    )


def only_row(history: History) -> DecisionRow:
    [row] = decision_rows(history.recorded())
    return row


def report_of(*histories: History, **options: Any) -> DecisionReport:
    return build_report(
        [h.history() for h in histories],
        start=options.pop("start", MONTH_START),
        end=options.pop("end", MONTH_END),
        generated_at=GENERATED_AT,
        **options,
    )


# ----------------------------------------------------------------------- rows


def test_a_full_share_by_a_manager_with_consent() -> None:
    history = full_share()

    row = only_row(history)

    assert row.request_id == history.request_id
    assert row.referrer_agency == "st-aldhelms-primary"
    assert row.child == CHILD
    assert (row.purpose, row.raised_at, row.decided_at) == (
        "safeguarding_strategy",
        RAISED_AT,
        IN_TIME,
    )
    assert (row.rag, row.previous_rag, row.sla_deadline) == ("amber", None, AMBER_DEADLINE)
    assert (row.sla_met, row.sla_breached_by) == (True, None)
    assert row.outcome == "share"
    assert row.lawful_basis == "art6_1e_public_task"
    assert row.condition == "art9_2g_dpa2018_sch1_para18_safeguarding"
    assert [(s.agency, s.categories) for s in row.shares] == [
        ("met-police", POLICE_ASKED),
        ("riverside-medical-practice", GP_ASKED),
    ]
    assert (row.consent, row.consent_note) == ("given", None)
    assert row.caveats == ("Do not approach the parents before the strategy discussion",)
    assert row.decided_by == Actor(id="manager-aziz", role="hub_manager")
    assert (row.sign_off_needed, row.sign_off_needed_because, row.signed_off_by) == (
        False,
        (),
        None,
    )
    assert row.referrer_told_at == IN_TIME + timedelta(minutes=1)
    assert row.family_step is not None and row.family_step.kind == "notified"
    assert row.policy_version == POLICY
    decision_event = history.recorded()[2]
    assert (row.decision_event_id, row.decision_position) == (decision_event.event_id, 3)


def test_a_partial_share_by_an_officer_without_consent_needs_and_gets_a_sign_off() -> None:
    signed_at = IN_TIME + timedelta(minutes=30)
    history = (
        History()
        .triage()
        .decide(
            by=OFFICER,
            outcome="share_partial",
            shares=POLICE_IN_PART,
            consent="not_sought",
            consent_note="Seeking consent could place Amara at risk of harm",
            sign_off_because=("sharing_without_consent", "decided_by_officer"),
        )
        .sign_off(at=signed_at)
        .disclose("met-police", ["social_care_involvement"], at=signed_at)
    )

    row = only_row(history)

    assert row.outcome == "share_partial"
    assert [(s.agency, s.categories) for s in row.shares] == [
        ("met-police", ("social_care_involvement",))
    ]
    assert row.consent == "not_sought"
    assert row.consent_note == "Seeking consent could place Amara at risk of harm"
    assert row.decided_by == Actor(id="officer-reid", role="hub_officer")
    assert row.sign_off_needed is True
    assert row.sign_off_needed_because == ("sharing_without_consent", "decided_by_officer")
    assert row.signed_off_by == Actor(id="manager-lowe", role="hub_manager")
    assert row.signed_off_at == signed_at


def test_a_decline_records_why_not_sharing_is_less_detrimental() -> None:
    why_not = "The police already hold the attendance record; a second copy adds risk only."
    history = History().triage().decide(outcome="decline", shares=[], why_not=why_not)

    row = only_row(history)

    assert row.outcome == "decline"
    assert row.shares == ()
    assert row.why_not_sharing_is_less_detrimental == why_not
    assert row.disclosures == ()


def test_the_sla_is_met_up_to_its_deadline_and_breached_by_the_minutes_after() -> None:
    on_the_dot = only_row(History().triage().decide(at=AMBER_DEADLINE))
    late = only_row(History().triage().decide(at=AMBER_DEADLINE + timedelta(minutes=12)))

    assert (on_the_dot.sla_met, on_the_dot.sla_breached_by) == (True, None)
    assert (late.sla_met, late.sla_breached_by) == (False, timedelta(minutes=12))


def test_a_breach_recorded_while_waiting_does_not_change_the_arithmetic() -> None:
    breach = SlaBreached(
        rag="amber", deadline=AMBER_DEADLINE, escalated_to="manager-aziz", policy_version=POLICY
    )
    history = (
        History()
        .triage()
        .add(SHAREHUB, AMBER_DEADLINE, breach)
        .decide(at=AMBER_DEADLINE + timedelta(hours=1, minutes=5))
    )

    row = only_row(history)

    assert (row.sla_met, row.sla_breached_by) == (False, timedelta(hours=1, minutes=5))


def test_blue_has_no_sla_and_the_rating_in_force_is_the_last_before_the_decision() -> None:
    blue = only_row(History().triage("blue", deadline=None).decide(outcome="decline", shares=[]))
    rerated_deadline = datetime(2026, 3, 2, 11, 30, tzinfo=UTC)
    rerated = only_row(
        History()
        .triage()
        .triage(
            "red", at=TRIAGED_AT + timedelta(minutes=1), deadline=rerated_deadline, previous="amber"
        )
        .decide(at=rerated_deadline - timedelta(minutes=5))
    )

    assert (blue.rag, blue.sla_deadline, blue.sla_met, blue.sla_breached_by) == (
        "blue",
        None,
        None,
        None,
    )
    assert (rerated.rag, rerated.previous_rag, rerated.sla_deadline, rerated.sla_met) == (
        "red",
        "amber",
        rerated_deadline,
        True,
    )


def test_the_family_step_is_the_latest_recorded() -> None:
    deferred = (
        History()
        .triage()
        .decide()
        .family(
            "deferred",
            at=IN_TIME + timedelta(hours=2),
            reason="Telling the family now could prejudice the police investigation",
            revisit_on=date(2026, 3, 16),
        )
    )
    step = only_row(deferred).family_step
    assert step is not None
    assert (step.kind, step.revisit_on) == ("deferred", date(2026, 3, 16))
    assert step.reason == "Telling the family now could prejudice the police investigation"

    deferred.family("notified", at=datetime(2026, 3, 16, 10, tzinfo=UTC))
    latest = only_row(deferred).family_step
    assert latest is not None and (latest.kind, latest.reason, latest.revisit_on) == (
        "notified",
        None,
        None,
    )
    assert only_row(History().triage().decide()).family_step is None


def test_each_disclosure_shows_whether_and_when_it_was_acknowledged() -> None:
    history = (
        History()
        .triage()
        .decide()
        .disclose("met-police", POLICE_ASKED, at=IN_TIME)
        .disclose("riverside-medical-practice", GP_ASKED, at=IN_TIME)
        .acknowledge(POLICE, at=IN_TIME + timedelta(minutes=20))
    )

    row = only_row(history)

    assert [(d.agency, d.acknowledged_at) for d in row.disclosures] == [
        ("met-police", IN_TIME + timedelta(minutes=20)),
        ("riverside-medical-practice", None),
    ]
    assert row.disclosures[1].acknowledge_by == IN_TIME + timedelta(hours=2)
    assert row.disclosures[0].disclosure_id == history.disclosure_ids["met-police"]


def test_a_shredded_raise_reads_redacted_and_the_rest_of_the_row_stays() -> None:
    history = full_share()
    raised, *rest = history.recorded()
    # As the store reads a raise whose subject key is destroyed.
    shredded = dataclasses.replace(
        raised,
        data={**raised.data, "child": REDACTED, "details": REDACTED},
        redacted_fields=frozenset({"child", "details"}),
    )

    [row] = decision_rows([shredded, *rest])

    assert row.child == REDACTED_CHILD
    assert row.model_dump(exclude={"child"}) == only_row(history).model_dump(exclude={"child"})


def test_a_request_not_yet_decided_has_no_row() -> None:
    assert decision_rows(History().triage().recorded()) == []


def test_access_rows_name_the_viewer_and_the_record() -> None:
    history = History().viewed(POLICE, at=IN_TIME, via="GET /v1/agency/share-requests/{id}")

    [view] = access_rows(history.recorded_views(first_position=7))

    assert view == AccessRow(
        request_id=history.request_id,
        viewed_at=IN_TIME,
        viewer_id="dc-harris",
        viewer_name="dc-harris",  # recorded before clients' ids: the name, as recorded
        viewer_role="agency",
        viewer_agency="met-police",
        record="share_request",
        record_id=history.request_id,
        via="GET /v1/agency/share-requests/{id}",
        event_id=view.event_id,
        position=7,
    )


# ----------------------------------------------------------------------- the report


def test_the_period_includes_its_start_and_excludes_its_end() -> None:
    at_start = History().triage().decide(at=MONTH_START)
    just_before_end = History().triage().decide(at=MONTH_END - timedelta(microseconds=1))
    at_end = History().triage().decide(at=MONTH_END)
    before = History().triage().decide(at=MONTH_START - timedelta(seconds=1))

    report = report_of(at_start, just_before_end, at_end, before)

    assert [row.request_id for row in report.decisions] == [
        at_start.request_id,
        just_before_end.request_id,
    ]
    assert (report.period.start, report.period.end) == (MONTH_START, MONTH_END)
    assert report.generated_at == GENERATED_AT
    assert report.access_log is None


def test_the_agency_filter_keeps_what_the_agency_raised_or_received() -> None:
    shared_with_police = full_share()
    gp_only = (
        History()
        .triage()
        .decide(
            outcome="share_partial",
            shares=[{**FULL_SHARES[1]}],
            consent="not_sought",
            consent_note="Seeking consent could place Amara at risk of harm",
        )
    )
    raised_by_police = (
        History(referrer=POLICE)
        .triage()
        .decide(outcome="decline", shares=[], why_not="Already known")
    )
    declined = History().triage().decide(outcome="decline", shares=[], why_not="Already known")
    everything = (shared_with_police, gp_only, raised_by_police, declined)

    def kept(agency: str | None) -> set[UUID]:
        return {row.request_id for row in report_of(*everything, agency=agency).decisions}

    assert kept("met-police") == {shared_with_police.request_id, raised_by_police.request_id}
    assert kept("riverside-medical-practice") == {
        shared_with_police.request_id,
        gp_only.request_id,
    }
    assert kept("st-aldhelms-primary") == {
        shared_with_police.request_id,
        gp_only.request_id,
        declined.request_id,
    }
    assert kept(None) == {h.request_id for h in everything}
    assert report_of(*everything, agency="met-police").agency == "met-police"


def test_the_access_log_is_included_only_when_asked_and_only_for_reported_requests() -> None:
    reported = full_share().viewed(MANAGER, at=IN_TIME).viewed(POLICE, at=IN_TIME)
    outside = History().triage().decide(at=MONTH_END).viewed(MANAGER, at=MONTH_END)

    report = report_of(reported, outside, include_access_log=True)

    assert report.access_log is not None
    assert [(view.request_id, view.viewer_id) for view in report.access_log] == [
        (reported.request_id, "manager-aziz"),
        (reported.request_id, "dc-harris"),
    ]
    nobody_looked = report_of(History().triage().decide(), include_access_log=True)
    assert nobody_looked.access_log == ()


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2026, 3, 1), datetime(2026, 4, 1)),
        (MONTH_END, MONTH_START),
        (MONTH_START, MONTH_START),
    ],
)
def test_a_period_must_be_aware_and_move_forward(start: datetime, end: datetime) -> None:
    with pytest.raises(ValueError, match="period"):
        report_of(full_share(), start=start, end=end)


# ----------------------------------------------------------------------- renderings


def three_decisions() -> DecisionReport:
    late = (
        History()
        .triage()
        .decide(
            at=AMBER_DEADLINE + timedelta(minutes=12),
            by=OFFICER,
            outcome="share_partial",
            shares=POLICE_IN_PART,
            consent="not_sought",
            consent_note='Seeking consent could place Amara at risk, "in her words"',
            sign_off_because=("sharing_without_consent", "decided_by_officer"),
            reasons='=HYPERLINK("http://example.invalid")\nsecond line, with a comma',
            caveats=("Do not approach the parents", "Police only; not for the school"),
        )
        .sign_off(at=AMBER_DEADLINE + timedelta(minutes=40))
    )
    declined = (
        History()
        .triage("blue", deadline=None)
        .decide(outcome="decline", shares=[], why_not="Sharing would add nothing the police lack")
    )
    shared = full_share().viewed(POLICE, at=IN_TIME + timedelta(hours=3))
    return report_of(shared, late, declined, include_access_log=True)


def read_csv(body: bytes) -> list[dict[str, str]]:
    # utf-8-sig: the file starts with the byte order mark spreadsheets look for.
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_the_csv_is_one_header_and_one_row_per_decision() -> None:
    report = three_decisions()

    body = render_report(report, "csv")

    assert body.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert table[0] == list(DECISION_COLUMNS)
    assert len(table) == 1 + len(report.decisions) == 4
    rows = {row["outcome"]: row for row in read_csv(body)}
    shared, partial, declined = rows["share"], rows["share_partial"], rows["decline"]
    assert shared["child"] == CHILD
    assert shared["shares"] == (
        "met-police: social_care_involvement, school_attendance, missing_episodes "
        "(safeguarding_strategy); riverside-medical-practice: social_care_involvement, "
        "household_composition (safeguarding_strategy)"
    )
    assert shared["disclosures"] == (
        "met-police: acknowledged 2026-03-02T15:10:00Z; "
        "riverside-medical-practice: acknowledged 2026-03-02T15:35:00Z"
    )
    assert (shared["sla_met"], shared["sla_breached_by"]) == ("yes", "")
    assert (shared["decided_by"], shared["decided_by_role"]) == ("manager-aziz", "hub_manager")
    # Recorded before clients' ids were: the name is the id, and reads as recorded.
    assert (shared["decided_by_name"], shared["signed_off_by_name"]) == ("manager-aziz", "")
    assert shared["family_step"] == "notified"
    assert (partial["sla_met"], partial["sla_breached_by"]) == ("no", "0:12:00")
    assert partial["decided_at"] == "2026-03-02T15:42:00Z"
    assert partial["sign_off_needed"] == "yes"
    assert partial["sign_off_needed_because"] == "sharing_without_consent, decided_by_officer"
    assert (partial["signed_off_by"], partial["signed_off_by_role"]) == (
        "manager-lowe",
        "hub_manager",
    )
    assert partial["signed_off_by_name"] == "manager-lowe"
    assert partial["caveats"] == "Do not approach the parents; Police only; not for the school"
    assert partial["consent_note"] == 'Seeking consent could place Amara at risk, "in her words"'
    # Typed text never runs as a spreadsheet formula; newlines and commas stay in one cell.
    assert partial["reasons"] == '\'=HYPERLINK("http://example.invalid")\nsecond line, with a comma'
    assert (declined["rag"], declined["sla_met"], declined["shares"]) == ("blue", "", "")
    assert declined["why_not_sharing_is_less_detrimental"] == (
        "Sharing would add nothing the police lack"
    )
    assert MEDIA_TYPES["csv"].startswith("text/csv")


def test_the_access_log_has_its_own_csv() -> None:
    report = three_decisions()

    body = render_access_log_csv(report)

    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert table[0] == list(ACCESS_COLUMNS)
    [view] = read_csv(body)
    assert (view["viewer_id"], view["viewer_agency"], view["viewed_at"]) == (
        "dc-harris",
        "met-police",
        "2026-03-02T17:50:00Z",
    )
    assert view["viewer_name"] == "dc-harris"
    with pytest.raises(ValueError, match="access log"):
        render_access_log_csv(report_of(full_share()))


def test_the_json_round_trips() -> None:
    report = three_decisions()

    body = render_report(report, "json")

    assert DecisionReport.model_validate_json(body) == report
    document = json.loads(body)
    assert list(document) == ["period", "agency", "generated_at", "decisions", "access_log"]
    assert document["period"] == {"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"}
    late = next(d for d in document["decisions"] if d["outcome"] == "share_partial")
    assert late["sla_breached_by"] == "PT12M"
    assert late["signed_off_by"] == {"id": "manager-lowe", "role": "hub_manager", "agency": None}
    assert late["signed_off_by_name"] == "manager-lowe"
    assert len(document["access_log"]) == 1
    assert MEDIA_TYPES["json"] == "application/json"


def test_the_fhir_bundle_validates_and_round_trips() -> None:
    report = three_decisions()

    body = render_report(report, "fhir")

    parsed = Bundle.model_validate_json(body)
    assert parsed == fhir_bundle(report)
    assert parsed.type == "collection"
    assert parsed.timestamp == GENERATED_AT
    assert json.loads(body)["resourceType"] == "Bundle"
    entries = parsed.entry or []
    kinds = [type(entry.resource).__name__ for entry in entries]
    assert kinds == ["AuditEvent", "Provenance"] * 3 + ["AuditEvent"]
    for entry in entries:
        assert entry.resource is not None
        assert entry.fullUrl == f"urn:uuid:{entry.resource.id}"
    assert MEDIA_TYPES["fhir"] == "application/fhir+json"


def test_the_fhir_resources_say_what_the_rows_say() -> None:
    report = three_decisions()
    bundle = json.loads(render_report(report, "fhir"))
    resources = {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}
    late_row = next(row for row in report.decisions if row.outcome == "share_partial")
    audit_url = f"urn:uuid:{resource_id('AuditEvent', late_row.decision_event_id)}"
    audit = resources[audit_url]
    [provenance] = [
        r
        for r in resources.values()
        if r["resourceType"] == "Provenance" and r["target"][0]["reference"] == audit_url
    ]

    assert (audit["action"], audit["recorded"], audit["occurredDateTime"]) == (
        "C",
        "2026-03-02T15:42:00Z",
        "2026-03-02T15:42:00Z",
    )
    assert [agent["who"]["identifier"]["value"] for agent in audit["agent"]] == [
        "officer-reid",
        "manager-lowe",
    ]
    assert audit["outcome"]["code"]["code"] == "0"  # the audited action succeeded
    assert audit["outcome"]["detail"][0]["coding"][0]["code"] == "share_partial"
    [request_entity] = audit["entity"]  # no disclosure was sent in this history
    details = {
        d["type"]["coding"][0]["code"]: d.get("valueString", d.get("valueBoolean"))
        for d in request_entity["detail"]
    }
    assert details["lawful_basis"] == "art6_1e_public_task"
    assert details["condition"] == "art9_2g_dpa2018_sch1_para18_safeguarding"
    assert details["reasons"] == late_row.reasons  # exact: no spreadsheet guard in FHIR
    assert details["child"] == late_row.child == CHILD
    assert details["sla_met"] is False
    assert details["sla_breached_by"] == "PT12M"
    # The child appears only as that detail, never in a display or narrative text.
    shown = _texts(bundle, ("display", "text"))
    assert shown and not any("Amara" in text or "943" in text for text in shown)

    assert provenance["recorded"] == "2026-03-02T15:42:00Z"
    assert provenance["policy"] == ["urn:sharehub:data-sharing-agreement:2026.1"]
    assert [a["concept"]["coding"][0]["code"] for a in provenance["authorization"]] == [
        "art6_1e_public_task",
        "art9_2g_dpa2018_sch1_para18_safeguarding",
    ]
    assert [
        (a["type"]["coding"][0]["code"], a["who"]["identifier"]["value"])
        for a in provenance["agent"]
    ] == [("author", "officer-reid"), ("verifier", "manager-lowe")]
    shared_row = report.decisions[0]
    shared_audit = resources[f"urn:uuid:{resource_id('AuditEvent', shared_row.decision_event_id)}"]
    assert [e["what"]["display"] for e in shared_audit["entity"]] == [
        f"Share request {shared_row.request_id}",
        "Disclosure to met-police",
        "Disclosure to riverside-medical-practice",
    ]
    view = bundle["entry"][-1]["resource"]
    assert (view["resourceType"], view["action"]) == ("AuditEvent", "R")
    assert view["agent"][0]["who"]["identifier"]["value"] == "dc-harris"


def _texts(node: Any, keys: tuple[str, ...]) -> list[str]:
    """Every string value under one of ``keys`` anywhere in a JSON document."""
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k in keys and isinstance(v, str)]
        return found + [t for v in node.values() for t in _texts(v, keys)]
    if isinstance(node, list):
        return [t for v in node for t in _texts(v, keys)]
    return []


# Clients acting since events record the client's id as the actor.
OFFICER_KEY = Participant(
    id="0b9a4d0e-6f43-4b5e-9d7a-3c1b7e0f2a11", role=Role.HUB_OFFICER, name="officer-reid"
)
MANAGER_KEY = Participant(
    id="5e2c8f61-0d7b-4a39-8e4f-92a6b1c3d7e5", role=Role.HUB_MANAGER, name="manager-lowe"
)
POLICE_KEY = Participant(
    id="c4f1a7b2-93e8-4d06-b5a1-7e2d9c0f4b38",
    role=Role.AGENCY,
    agency="met-police",
    name="dc-harris",
)
CLIENT_NAMES = {p.id: p.name or "" for p in (OFFICER_KEY, MANAGER_KEY, POLICE_KEY)}


def test_an_actor_recorded_by_client_id_shows_the_clients_name_beside_it() -> None:
    by_keys = (
        History()
        .triage()
        .decide(by=OFFICER_KEY, sign_off_because=("decided_by_officer",))
        .sign_off(at=IN_TIME + timedelta(minutes=5), by=MANAGER_KEY)
        .viewed(POLICE_KEY, at=IN_TIME + timedelta(hours=1))
    )
    by_name = full_share()  # recorded before clients' ids: names as actor ids

    report = report_of(by_keys, by_name, include_access_log=True, names=CLIENT_NAMES)

    new, old = report.decisions
    assert (new.decided_by.id, new.decided_by_name) == (OFFICER_KEY.id, "officer-reid")
    assert new.signed_off_by is not None
    assert (new.signed_off_by.id, new.signed_off_by_name) == (MANAGER_KEY.id, "manager-lowe")
    assert (old.decided_by.id, old.decided_by_name) == ("manager-aziz", "manager-aziz")
    assert report.access_log is not None
    [view] = report.access_log
    assert (view.viewer_id, view.viewer_name) == (POLICE_KEY.id, "dc-harris")

    # CSV: the recorded ids where they always were, the names in columns added at the end.
    assert DECISION_COLUMNS[-2:] == ("decided_by_name", "signed_off_by_name")
    assert ACCESS_COLUMNS[-1] == "viewer_name"
    csv_new, csv_old = read_csv(render_report(report, "csv"))
    assert (csv_new["decided_by"], csv_new["decided_by_name"]) == (OFFICER_KEY.id, "officer-reid")
    assert (csv_new["signed_off_by"], csv_new["signed_off_by_name"]) == (
        MANAGER_KEY.id,
        "manager-lowe",
    )
    assert (csv_old["decided_by"], csv_old["decided_by_name"]) == ("manager-aziz", "manager-aziz")
    [csv_view] = read_csv(render_access_log_csv(report))
    assert (csv_view["viewer_id"], csv_view["viewer_name"]) == (POLICE_KEY.id, "dc-harris")

    # JSON: the recorded actor, and the name beside it.
    document = json.loads(render_report(report, "json"))
    assert document["decisions"][0]["decided_by"]["id"] == OFFICER_KEY.id
    assert document["decisions"][0]["decided_by_name"] == "officer-reid"
    assert document["access_log"][0]["viewer_name"] == "dc-harris"

    # FHIR: the id as the agent's identifier, the name as its display.
    bundle = json.loads(render_report(report, "fhir"))
    audit = bundle["entry"][0]["resource"]
    assert [
        (agent["who"]["identifier"]["value"], agent["who"]["display"]) for agent in audit["agent"]
    ] == [
        (OFFICER_KEY.id, "officer-reid (hub_officer)"),
        (MANAGER_KEY.id, "manager-lowe (hub_manager)"),
    ]
    old_audit = bundle["entry"][2]["resource"]
    assert old_audit["agent"][0]["who"]["display"] == "manager-aziz (hub_manager)"
    view_event = bundle["entry"][-1]["resource"]
    assert view_event["agent"][0]["who"]["display"] == "dc-harris (agency, met-police)"


def test_fhir_ids_are_stable_and_a_malformed_resource_is_refused() -> None:
    report = three_decisions()
    again = report.model_copy()

    first = [e.fullUrl for e in fhir_bundle(report).entry or []]
    second = [e.fullUrl for e in fhir_bundle(again).entry or []]

    assert first == second and len(set(first)) == len(first)
    # The models validate on construction: an AuditEvent without its required agent fails.
    with pytest.raises(ValidationError):
        AuditEvent.model_validate(
            {
                "resourceType": "AuditEvent",
                "code": {"text": "x"},
                "recorded": GENERATED_AT,
                "source": {"observer": {"display": "sharehub"}},
            }
        )


# ----------------------------------------------------------------------- the store


async def test_the_report_from_the_store_and_after_shredding(store: PostgresEventStore) -> None:
    shared = full_share().viewed(MANAGER, at=IN_TIME + timedelta(hours=2))
    late = (
        History(referrer=POLICE)
        .triage()
        .decide(
            at=AMBER_DEADLINE + timedelta(minutes=12),
            outcome="share_partial",
            shares=POLICE_IN_PART,
        )
    )
    april = History().triage().decide(at=MONTH_END + timedelta(hours=1))
    undecided = History().triage()
    for history in (shared, late, april, undecided):
        await history.append_to(store)

    report = await decision_report(store, start=MONTH_START, end=MONTH_END, include_access_log=True)

    assert [row.request_id for row in report.decisions] == [shared.request_id, late.request_id]
    by_id = {row.request_id: row for row in report.decisions}
    assert by_id[shared.request_id].child == CHILD
    assert by_id[late.request_id].sla_breached_by == timedelta(minutes=12)
    assert report.access_log is not None
    assert [(v.request_id, v.viewer_id) for v in report.access_log] == [
        (shared.request_id, "manager-aziz")
    ]
    police_only = await decision_report(
        store, start=MONTH_START, end=MONTH_END, agency="met-police"
    )
    assert [row.request_id for row in police_only.decisions] == [
        shared.request_id,
        late.request_id,
    ]
    school_only = await decision_report(
        store, start=MONTH_START, end=MONTH_END, agency="st-aldhelms-primary"
    )
    assert [row.request_id for row in school_only.decisions] == [shared.request_id]

    assert await store.shred(subject_id_for(shared.request_id)) is True
    after = await decision_report(store, start=MONTH_START, end=MONTH_END)

    redacted = {row.request_id: row for row in after.decisions}
    assert redacted[shared.request_id].child == REDACTED_CHILD
    assert redacted[late.request_id].child == CHILD  # another subject: untouched
    assert redacted[shared.request_id].model_dump(exclude={"child"}) == by_id[
        shared.request_id
    ].model_dump(exclude={"child"})
    # The school's report holds only the shredded request: no rendering names the child.
    school_after = await decision_report(
        store, start=MONTH_START, end=MONTH_END, agency="st-aldhelms-primary"
    )
    [csv_row] = read_csv(render_report(school_after, "csv"))
    assert csv_row["child"] == "[redacted]"
    for fmt in ("csv", "json", "fhir"):
        body = render_report(school_after, fmt)
        assert b"Amara" not in body and b"9434765919" not in body and b"943 476" not in body


async def test_the_report_from_the_store_names_clients_from_their_own_streams(
    store: PostgresEventStore,
) -> None:
    for client in (OFFICER_KEY, MANAGER_KEY, POLICE_KEY):
        created = ApiClientCreated(
            client_id=UUID(client.id),
            name=client.name or "",
            role=client.role.value,
            agency=client.agency,
            key_hash="0" * 64,
        )
        await store.append(
            api_client_stream(UUID(client.id)),
            [created.to_new_event(actor=SHAREHUB.as_actor())],
            expected_version=0,
        )
    by_keys = (
        History()
        .triage()
        .decide(at=IN_TIME, by=OFFICER_KEY, sign_off_because=("decided_by_officer",))
        .sign_off(at=IN_TIME + timedelta(minutes=5), by=MANAGER_KEY)
        .viewed(POLICE_KEY, at=IN_TIME + timedelta(hours=1))
    )
    by_name = full_share()
    for history in (by_keys, by_name):
        await history.append_to(store)

    report = await decision_report(store, start=MONTH_START, end=MONTH_END, include_access_log=True)

    rows = {row.request_id: row for row in report.decisions}
    new, old = rows[by_keys.request_id], rows[by_name.request_id]
    assert (new.decided_by.id, new.decided_by_name) == (OFFICER_KEY.id, "officer-reid")
    assert new.signed_off_by_name == "manager-lowe"
    assert (old.decided_by.id, old.decided_by_name) == ("manager-aziz", "manager-aziz")
    assert report.access_log is not None
    assert [(v.viewer_id, v.viewer_name) for v in report.access_log] == [
        (POLICE_KEY.id, "dc-harris")
    ]


async def test_read_models_narrow_the_search_and_the_log_after_them_is_scanned(
    store: PostgresEventStore,
) -> None:
    projected = full_share()
    await projected.append_to(store)
    applied = await Projector(store).catch_up()
    not_yet_projected = History().triage().decide(at=IN_TIME + timedelta(days=1))
    await not_yet_projected.append_to(store)
    scans: list[int] = []

    class Watched:
        """The store, noting where each scan of the log starts."""

        async def query(self, sql: str, *args: Any) -> list[dict[str, Any]]:
            return await store.query(sql, *args)

        async def read_all(self, **options: Any) -> list[RecordedEvent]:
            scans.append(options["from_position"])
            return await store.read_all(**options)

        async def read_stream(self, stream_id: str, **options: Any) -> list[RecordedEvent]:
            return await store.read_stream(stream_id, **options)

    watched: Any = Watched()
    found = await decided_requests(watched, start=MONTH_START, end=MONTH_END)
    report = await decision_report(watched, start=MONTH_START, end=MONTH_END)

    assert found == {projected.request_id, not_yet_projected.request_id}
    assert scans[0] == applied + 1  # the view answered for everything it had folded
    assert [row.request_id for row in report.decisions] == [
        projected.request_id,
        not_yet_projected.request_id,
    ]
    # The view's agency test is a superset (asked-for recipients); the tail is unfiltered.
    for_gp = await decided_requests(
        watched, start=MONTH_START, end=MONTH_END, agency="riverside-medical-practice"
    )
    for_nobody = await decided_requests(
        watched, start=MONTH_START, end=MONTH_END, agency="housing-options"
    )
    assert for_gp == found
    assert for_nobody == {not_yet_projected.request_id}
    # Without read models (another store), one pass over the whole log finds the same.
    log_only: Any = _LogOnly(store)
    assert await decided_requests(log_only, start=MONTH_START, end=MONTH_END) == found


@dataclass
class _LogOnly:
    """A store with the log but no read models."""

    store: PostgresEventStore

    async def read_all(self, **options: Any) -> list[RecordedEvent]:
        return await self.store.read_all(**options)
