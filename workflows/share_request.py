"""ShareRequestWorkflow: one workflow per share request, the request id its workflow id.

raised -> triaged (RAG) -> [advice sought -> advice given]* -> decision recorded
       -> [second sign-off] -> disclosures sent -> acknowledged (per recipient)
       -> referrer told the outcome -> family notified | withheld | deferred -> closed
withdrawn: any time before the decision.

Human steps are Updates with validators: an action that is out of order, incomplete
or not permitted to the actor's role is rejected by the validator, before anything
is recorded. Every accepted step appends events through the ``record_events``
activity with ids from ``workflow.uuid4()``, so a retried activity never
duplicates an event. Clocks (SLA reminders and breach, acknowledgement deadlines,
a deferred family step) are timers in the main loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from events.registry import DomainEvent
    from events.share_requests import (
        AcknowledgementOverdue,
        AdviceGiven,
        AdviceSought,
        DecisionRecorded,
        DecisionSignedOff,
        DisclosureAcknowledged,
        DisclosureSent,
        FamilyStepDue,
        FamilyStepRecorded,
        ReferrerToldOutcome,
        ShareRequestClosed,
        ShareRequestRaised,
        ShareRequestWithdrawn,
        SlaBreached,
        SlaReminderDue,
        TriageRecorded,
        stream_id_for,
        subject_id_for,
    )
    from workflows.activities import AgencyNotice, NotifyAgency, RecordEvents
    from workflows.calendar import SlaClock
    from workflows.models import (
        HUB_STAFF,
        AcknowledgeDisclosure,
        ActionResult,
        AdviceRequest,
        Close,
        Disclosure,
        FamilyStepKind,
        GiveAdvice,
        Participant,
        RecordDecision,
        RecordFamilyStep,
        Role,
        SeekAdvice,
        SignOff,
        Stage,
        StartShareRequest,
        Triage,
        Withdraw,
    )
    from workflows.policy import DecisionOutcome, HubRole, RagRating
    from workflows.redaction import pseudonymise

_RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(30))
_RECORD_TIMEOUT = timedelta(seconds=10)  # an append takes milliseconds; retried with the same ids
_DECIDED_STAGES = frozenset(
    {Stage.AWAITING_SIGN_OFF, Stage.DISCLOSING, Stage.FAMILY_STEP, Stage.READY_TO_CLOSE}
)
_BEFORE_DECISION = frozenset({Stage.RAISED, Stage.TRIAGED})
# Version marker: agencies are notified at the same time, not one after another.
_NOTIFY_TOGETHER = "notify-agencies-together"


def _require(condition: bool, message: str) -> None:
    """Validators reject with a specific message; nothing has been recorded yet."""
    if not condition:
        raise ValueError(message)


def _require_role(actor: Participant, allowed: frozenset[Role], action: str) -> None:
    names = " or ".join(sorted(role.value for role in allowed))
    _require(actor.role in allowed, f"only a {names} may {action}, not a {actor.role.value}")


@workflow.defn
class ShareRequestWorkflow:
    @workflow.init
    def __init__(self, start: StartShareRequest | None = None) -> None:
        # A start with no input carries no payload for the codec to refuse; without the
        # default the SDK's TypeError would fail this workflow's task again and again.
        # run() refuses it instead, before anything is recorded.
        if start is None:
            return
        self._request = start.request
        self._policy = start.policy
        self._salt = start.pseudonym_salt
        self._stream_id = stream_id_for(start.request.request_id)
        self._version = 0
        self._stage = Stage.RAISED
        self._rag: RagRating | None = None
        self._rationale: str | None = None
        self._sla: SlaClock | None = None
        self._sla_fired: set[datetime] = set()
        self._advice: dict[UUID, AdviceRequest] = {}
        self._decision: RecordDecision | None = None
        self._sign_off_reasons: tuple[str, ...] = ()
        self._disclosures: dict[UUID, Disclosure] = {}
        self._family_revisit: datetime | None = None
        self._family_done = False
        self._told_referrer = False
        self._wake = False
        # One append at a time: each knows the stream version the previous left.
        self._recording = asyncio.Lock()

    # ------------------------------------------------------------------ main loop

    @workflow.run
    async def run(self, start: StartShareRequest | None = None) -> ActionResult:
        if start is None:
            raise ApplicationError(
                "a share request is started with its request, and this start had none",
                type="MissingStart",
                non_retryable=True,
            )
        request = start.request
        await self._record(
            ShareRequestRaised(
                request_id=request.request_id,
                referrer_agency=request.referrer.agency or "",
                purpose=request.purpose,
                recipients={r.agency: list(r.categories) for r in request.recipients},
                lawful_basis=request.lawful_basis.value,
                condition=request.condition.value if request.condition else None,
                consent=request.consent.value,
                child=request.child.model_dump(mode="json"),
                details=request.details.model_dump(mode="json"),
                policy_version=self._policy.version,
            ),
            actor=request.referrer,
        )
        while self._stage not in (Stage.CLOSED, Stage.WITHDRAWN):
            await self._send_disclosures_when_decided()
            next_timer = self._next_timer()
            timeout = None if next_timer is None else max(next_timer - workflow.now(), timedelta(0))
            with contextlib.suppress(asyncio.TimeoutError):  # a clock is due
                await workflow.wait_condition(lambda: self._wake, timeout=timeout)
            self._wake = False
            await self._fire_due_timers()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result("finished")

    def _next_timer(self) -> datetime | None:
        due = [moment for moment, _ in self._timers()]
        return min(due) if due else None

    def _timers(self) -> list[tuple[datetime, Any]]:
        """Every clock still running, with what to record when it fires."""
        timers: list[tuple[datetime, Any]] = []
        if self._sla is not None and self._stage in _BEFORE_DECISION:
            for reminder in self._sla.reminders:
                if reminder.due_at not in self._sla_fired:
                    timers.append((reminder.due_at, reminder))
            if self._sla.deadline not in self._sla_fired:
                timers.append((self._sla.deadline, self._sla))
        for disclosure in self._disclosures.values():
            if not disclosure.acknowledged and not disclosure.overdue:
                timers.append((disclosure.acknowledge_by, disclosure))
        if self._family_revisit is not None:
            timers.append((self._family_revisit, "family"))
        return timers

    async def _fire_due_timers(self) -> None:
        now = workflow.now()
        for due_at, what in sorted(self._timers(), key=lambda timer: timer[0]):
            if due_at > now:
                continue
            # Each record awaits an activity, during which an update may have
            # decided the request or acknowledged the disclosure: check again.
            if not any(due == due_at and item is what for due, item in self._timers()):
                continue
            if isinstance(what, SlaClock):
                self._sla_fired.add(due_at)
                await self._record(
                    SlaBreached(
                        rag=str(self._rag),
                        deadline=what.deadline,
                        escalated_to=self._policy.escalation.hub_manager.email,
                        policy_version=self._policy.version,
                    ),
                    occurred_at=due_at,
                )
            elif isinstance(what, Disclosure):
                self._disclosures[what.disclosure_id] = what.model_copy(update={"overdue": True})
                await self._record(
                    AcknowledgementOverdue(
                        disclosure_id=what.disclosure_id,
                        agency=what.agency,
                        acknowledge_by=what.acknowledge_by,
                        escalated_to=self._policy.escalation.hub_manager.email,
                    ),
                    occurred_at=due_at,
                )
            elif what == "family":
                # The stage moves on to the family step only once every recipient
                # has acknowledged (the main loop's rule), deferral or not.
                assert self._family_revisit is not None
                self._family_revisit = None
                await self._record(
                    FamilyStepDue(revisit_on=self._policy.working_calendar().local_date(due_at)),
                    occurred_at=due_at,
                )
            else:  # an SLA reminder
                self._sla_fired.add(due_at)
                assert self._sla is not None
                await self._record(
                    SlaReminderDue(
                        rag=str(self._rag), fraction=what.fraction, deadline=self._sla.deadline
                    ),
                    occurred_at=due_at,
                )

    async def _send_disclosures_when_decided(self) -> None:
        """Once the decision is final: the referrer told, one disclosure per recipient.

        All of it is recorded in one append, before any recipient can see a
        disclosure to acknowledge; then each agency is notified on its subject.
        """
        decision = self._decision
        if self._stage is not Stage.DISCLOSING or decision is None or self._told_referrer:
            if self._stage is Stage.DISCLOSING and self._told_referrer and self._all_acknowledged():
                self._stage = Stage.READY_TO_CLOSE if self._family_done else Stage.FAMILY_STEP
            return
        now = workflow.now()
        referrer_agency = self._request.referrer.agency or ""
        events: list[DomainEvent] = [
            ReferrerToldOutcome(
                referrer_agency=referrer_agency,
                outcome=decision.outcome.value,
                due_by=self._policy.referrer_feedback_deadline(now),
            )
        ]
        notices: list[tuple[str, AgencyNotice]] = []
        referrer = self._policy.agency(referrer_agency)
        if referrer is not None:
            notices.append(
                (
                    referrer.bus_subject,
                    AgencyNotice(
                        notice_id=workflow.uuid4(),
                        kind="outcome",
                        request_id=self._request.request_id,
                        agency=referrer.id,
                        outcome=decision.outcome.value,
                    ),
                )
            )
        disclosures = []
        for share in decision.shares:
            agency = self._policy.agency(share.agency)
            assert agency is not None  # the validator checked every recipient
            disclosure = Disclosure(
                disclosure_id=workflow.uuid4(),
                agency=share.agency,
                categories=share.categories,
                purpose=share.purpose,
                acknowledge_by=self._policy.acknowledgement_deadline(now),
            )
            disclosures.append(disclosure)
            events.append(
                DisclosureSent(
                    disclosure_id=disclosure.disclosure_id,
                    agency=share.agency,
                    bus_subject=agency.bus_subject,
                    categories=list(share.categories),
                    purpose=share.purpose,
                    caveats=list(decision.caveats),
                    acknowledge_by=disclosure.acknowledge_by,
                    policy_version=self._policy.version,
                )
            )
            notices.append(
                (
                    agency.bus_subject,
                    AgencyNotice(
                        notice_id=disclosure.disclosure_id,
                        kind="disclosure",
                        request_id=self._request.request_id,
                        agency=share.agency,
                        categories=list(share.categories),
                        purpose=share.purpose,
                        caveats=list(decision.caveats),
                        respond_by=disclosure.acknowledge_by,
                    ),
                )
            )
        await self._record(*events)
        self._told_referrer = True
        self._disclosures = {d.disclosure_id: d for d in disclosures}
        if workflow.patched(_NOTIFY_TOGETHER):
            await asyncio.gather(*(self._notify(subject, notice) for subject, notice in notices))
        else:  # requests that began notifying one agency after another
            for subject, notice in notices:
                await self._notify(subject, notice)
        self._wake = True  # re-check: a decision sharing nothing moves on at once

    def _all_acknowledged(self) -> bool:
        return all(d.acknowledged for d in self._disclosures.values())

    # ------------------------------------------------------------------ triage

    @workflow.update
    async def triage(self, action: Triage) -> ActionResult:
        await self._after_raise()
        async with self._recording:
            self._still_valid(self._validate_triage, action)
            previous = self._rag
            self._rag, self._rationale = action.rag, action.rationale
            self._sla = self._policy.sla_clock(action.rag, workflow.now())
            self._sla_fired = set()
            self._stage = Stage.TRIAGED
            await self._record_locked(
                TriageRecorded(
                    rag=action.rag.value,
                    rationale=action.rationale,
                    previous_rag=previous.value if previous else None,
                    sla_deadline=self._sla.deadline if self._sla else None,
                    reminders_due=[r.due_at for r in self._sla.reminders] if self._sla else [],
                    handed_to_emergency_duty_team=bool(
                        self._sla and self._sla.handed_to_emergency_duty_team
                    ),
                    policy_version=self._policy.version,
                ),
                actor=action.actor,
            )
        self._wake = True
        return self._result(f"rated {action.rag.value}")

    @triage.validator
    def _validate_triage(self, action: Triage) -> None:
        _require_role(action.actor, HUB_STAFF, "triage a share request")
        _require(
            self._stage in _BEFORE_DECISION,
            f"a request can be rated only before its decision; it is {self._stage.value}",
        )
        _require(
            self._rationale is None or action.rationale != self._rationale,
            "a re-rating needs its own rationale, not the previous one",
        )
        self._require_agreement_can_time("this request's SLA", rag=action.rag)

    # ------------------------------------------------------------------ advice

    @workflow.update
    async def seek_advice(self, action: SeekAdvice) -> ActionResult:
        await self._after_raise()
        self._still_valid(self._validate_seek_advice, action)
        now = workflow.now()
        calendar = self._policy.working_calendar()
        packet = pseudonymise(
            self._request.details, salt=self._salt, as_of=calendar.local_date(now)
        )
        advice = AdviceRequest(
            advice_id=workflow.uuid4(),
            packet=packet,
            question=action.question,
            due_by=calendar.add_working_days(now, 1),
        )
        self._advice[advice.advice_id] = advice
        await self._record(
            AdviceSought(
                advice_id=advice.advice_id,
                question=advice.question,
                packet=packet.model_dump(mode="json"),
                due_by=advice.due_by,
                identity_escalation=(
                    "identity only through a recorded escalation to the hub manager "
                    f"({self._policy.escalation.hub_manager.email})"
                ),
            ),
            actor=action.actor,
        )
        return self._result(f"advice {advice.advice_id} sought")

    @seek_advice.validator
    def _validate_seek_advice(self, action: SeekAdvice) -> None:
        _require_role(action.actor, HUB_STAFF, "seek advice")
        _require(
            self._stage in _BEFORE_DECISION,
            f"advice is sought before the decision; the request is {self._stage.value}",
        )

    @workflow.update
    async def give_advice(self, action: GiveAdvice) -> ActionResult:
        await self._after_raise()
        self._still_valid(self._validate_give_advice, action)
        advice = self._advice[action.advice_id]
        self._advice[action.advice_id] = advice.model_copy(update={"answered": True})
        await self._record(
            AdviceGiven(advice_id=action.advice_id, advice=action.advice), actor=action.actor
        )
        return self._result(f"advice {action.advice_id} given")

    @give_advice.validator
    def _validate_give_advice(self, action: GiveAdvice) -> None:
        _require_role(action.actor, frozenset({Role.IG_ADVISOR}), "give advice")
        advice = self._advice.get(action.advice_id)
        _require(advice is not None, f"no advice {action.advice_id} was sought on this request")
        assert advice is not None
        _require(not advice.answered, f"advice {action.advice_id} has already been given")

    # ------------------------------------------------------------------ decision

    @workflow.update
    async def decide(self, action: RecordDecision) -> ActionResult:
        await self._after_raise()
        self._still_valid(self._validate_decision, action)
        reasons = self._policy.second_sign_off_reasons(
            outcome=action.outcome, consent=action.consent, decided_by=HubRole(action.actor.role)
        )
        self._decision = action
        self._sign_off_reasons = tuple(reason.value for reason in reasons)
        self._stage = Stage.AWAITING_SIGN_OFF if reasons else Stage.DISCLOSING
        await self._record(
            DecisionRecorded(
                outcome=action.outcome.value,
                lawful_basis=action.lawful_basis.value,
                condition=action.condition.value if action.condition else None,
                reasons=action.reasons,
                shares=[share.model_dump(mode="json") for share in action.shares],
                consent=action.consent.value,
                consent_note=action.consent_note,
                caveats=list(action.caveats),
                why_not_sharing_is_less_detrimental=action.why_not_sharing_is_less_detrimental,
                sign_off_needed_because=list(self._sign_off_reasons),
                policy_version=self._policy.version,
            ),
            actor=action.actor,
        )
        self._wake = True
        detail = "awaiting a hub manager's sign-off" if reasons else "final"
        return self._result(f"decision {action.outcome.value} recorded, {detail}")

    @decide.validator
    def _validate_decision(self, action: RecordDecision) -> None:
        _require_role(action.actor, HUB_STAFF, "record a decision")
        self._require_agreement_can_time("disclosures and the referrer's feedback")
        _require(
            self._stage is Stage.TRIAGED,
            "a decision needs a triaged request"
            if self._stage is Stage.RAISED
            else f"the request is {self._stage.value}; its decision is already recorded",
        )
        requested = {r.agency: set(r.categories) for r in self._request.recipients}
        if action.outcome is DecisionOutcome.DECLINE:
            _require(not action.shares, "a decision to decline shares nothing")
            _require(
                action.why_not_sharing_is_less_detrimental is not None,
                "a decision not to share must say why not sharing is less detrimental "
                "to the child than sharing (Children Act 2004 s16LA)",
            )
        else:
            _require(bool(action.shares), f"a {action.outcome.value} decision names its recipients")
            agencies = [share.agency for share in action.shares]
            _require(len(agencies) == len(set(agencies)), "each recipient appears once")
            for share in action.shares:
                asked = requested.get(share.agency)
                _require(asked is not None, f"{share.agency} was not asked for in this request")
                assert asked is not None
                beyond = set(share.categories) - asked
                _require(
                    not beyond,
                    f"{share.agency} was not asked to receive {', '.join(sorted(beyond))}",
                )
                violations = self._policy.check_recipients(
                    {share.agency: share.categories}, purpose=share.purpose
                )
                _require(not violations, "; ".join(str(v) for v in violations))
            shared_all = {s.agency: set(s.categories) for s in action.shares} == requested
            if action.outcome is DecisionOutcome.SHARE:
                _require(
                    shared_all,
                    "a full share sends everything asked for; record share_partial otherwise",
                )
            else:
                _require(
                    not shared_all,
                    "share_partial must leave out something asked for; record share otherwise",
                )
            categories = {c for share in action.shares for c in share.categories}
            violations = self._policy.check_lawful_basis(
                basis=action.lawful_basis,
                condition=action.condition,
                categories=categories,
                consent=action.consent,
            )
            _require(not violations, "; ".join(str(v) for v in violations))
        _require(
            action.consent.value == "given" or action.consent_note is not None,
            "say why consent was not sought, or what the refusal was (consent_note)",
        )

    @workflow.update
    async def sign_off(self, action: SignOff) -> ActionResult:
        await self._after_raise()
        self._still_valid(self._validate_sign_off, action)
        self._stage = Stage.DISCLOSING
        await self._record(DecisionSignedOff(comment=action.comment), actor=action.actor)
        self._wake = True
        return self._result("decision signed off")

    @sign_off.validator
    def _validate_sign_off(self, action: SignOff) -> None:
        _require(
            self._stage is Stage.AWAITING_SIGN_OFF,
            f"nothing awaits a sign-off: the request is {self._stage.value}",
        )
        _require_role(action.actor, HUB_STAFF, "sign off a decision")
        assert self._decision is not None
        decider, signer = self._decision.actor, action.actor
        # Person, not key: a manager holding two keys is still the decider.
        decided_by = decider.person or decider.id
        violations = self._policy.check_sign_off(
            decided_by_id=decided_by,
            signed_off_by_id=decided_by
            if signer.is_same_person_as(decider)
            else signer.person or signer.id,
            signer_role=HubRole(signer.role),
        )
        _require(not violations, "; ".join(str(v) for v in violations))

    # ------------------------------------------------------------------ recipients

    @workflow.update
    async def acknowledge_disclosure(self, action: AcknowledgeDisclosure) -> ActionResult:
        await self._after_raise()
        self._still_valid(self._validate_acknowledgement, action)
        disclosure = self._disclosures[action.disclosure_id]
        self._disclosures[action.disclosure_id] = disclosure.model_copy(
            update={"acknowledged": True}
        )
        await self._record(
            DisclosureAcknowledged(disclosure_id=action.disclosure_id, agency=disclosure.agency),
            actor=action.actor,
        )
        self._wake = True
        return self._result(f"disclosure to {disclosure.agency} acknowledged")

    @acknowledge_disclosure.validator
    def _validate_acknowledgement(self, action: AcknowledgeDisclosure) -> None:
        _require_role(action.actor, frozenset({Role.AGENCY}), "acknowledge a disclosure")
        disclosure = self._disclosures.get(action.disclosure_id)
        _require(
            disclosure is not None and disclosure.agency == action.actor.agency,
            f"no disclosure {action.disclosure_id} was sent to {action.actor.agency}",
        )
        assert disclosure is not None
        _require(not disclosure.acknowledged, "this disclosure is already acknowledged")

    # ------------------------------------------------------------------ family

    @workflow.update
    async def record_family_step(self, action: RecordFamilyStep) -> ActionResult:
        await self._after_raise()
        self._still_valid(self._validate_family_step, action)
        if action.kind is FamilyStepKind.DEFERRED:
            assert action.revisit_on is not None
            self._family_revisit = self._policy.working_calendar().opening_on(action.revisit_on)
        else:
            self._family_revisit = None
            self._family_done = True
            if self._stage is Stage.FAMILY_STEP:
                self._stage = Stage.READY_TO_CLOSE
        await self._record(
            FamilyStepRecorded(
                kind=action.kind.value, reason=action.reason, revisit_on=action.revisit_on
            ),
            actor=action.actor,
        )
        self._wake = True
        return self._result(f"family {action.kind.value}")

    @record_family_step.validator
    def _validate_family_step(self, action: RecordFamilyStep) -> None:
        _require_role(action.actor, HUB_STAFF, "record the family step")
        _require(
            self._stage in (Stage.DISCLOSING, Stage.FAMILY_STEP) and not self._family_done,
            "the family step follows the final decision, once"
            if not self._family_done
            else "the family step is already recorded",
        )
        if action.kind is not FamilyStepKind.NOTIFIED:
            _require(
                action.reason is not None,
                f"say why the family is {action.kind.value} (e.g. it would increase the risk, "
                "or could prejudice an investigation)",
            )
        if action.kind is FamilyStepKind.DEFERRED:
            _require(action.revisit_on is not None, "a deferral names its revisit date")
            assert action.revisit_on is not None
            today = self._policy.working_calendar().local_date(workflow.now())  # the hub's date
            _require(action.revisit_on > today, "the revisit date is in the future")
        else:
            _require(action.revisit_on is None, "only a deferral has a revisit date")

    # ------------------------------------------------------------------ ending

    @workflow.update
    async def withdraw(self, action: Withdraw) -> ActionResult:
        await self._after_raise()
        self._still_valid(self._validate_withdrawal, action)
        self._stage = Stage.WITHDRAWN
        await self._record(ShareRequestWithdrawn(reason=action.reason), actor=action.actor)
        self._wake = True
        return self._result("withdrawn")

    @withdraw.validator
    def _validate_withdrawal(self, action: Withdraw) -> None:
        referrer_agency = self._request.referrer.agency
        _require(
            action.actor.role in HUB_STAFF
            or (action.actor.role is Role.AGENCY and action.actor.agency == referrer_agency),
            "only hub staff or the referring agency may withdraw a request",
        )
        _require(
            self._stage in _BEFORE_DECISION,
            f"a request can be withdrawn only before its decision; it is {self._stage.value}",
        )

    @workflow.update
    async def close(self, action: Close) -> ActionResult:
        await self._after_raise()
        self._still_valid(self._validate_close, action)
        self._stage = Stage.CLOSED
        outcome = self._decision.outcome.value if self._decision else None
        await self._record(ShareRequestClosed(outcome=outcome), actor=action.actor)
        self._wake = True
        return self._result("closed")

    @close.validator
    def _validate_close(self, action: Close) -> None:
        _require_role(action.actor, HUB_STAFF, "close a request")
        waiting = [d.agency for d in self._disclosures.values() if not d.acknowledged]
        _require(not waiting, f"still awaiting acknowledgement from {', '.join(waiting)}")
        _require(
            self._stage is Stage.READY_TO_CLOSE,
            "a request closes after its decision, disclosures and family step; "
            f"it is {self._stage.value}",
        )

    @workflow.query
    def stage(self) -> Stage:
        """For operators and tests; the product's reads come from projections."""
        return self._stage

    @workflow.query
    def disclosures(self) -> list[Disclosure]:
        return list(self._disclosures.values())

    @workflow.query
    def advice_requests(self) -> list[AdviceRequest]:
        return list(self._advice.values())

    # ------------------------------------------------------------------ recording

    async def _record(
        self,
        *events: DomainEvent,
        actor: Participant | None = None,
        occurred_at: datetime | None = None,
    ) -> None:
        async with self._recording:
            await self._record_locked(*events, actor=actor, occurred_at=occurred_at)

    async def _after_raise(self) -> None:
        """Hold back a human action that arrives before the raise itself is recorded."""
        await workflow.wait_condition(lambda: self._version > 0)

    def _require_agreement_can_time(self, what: str, *, rag: RagRating | None = None) -> None:
        """Refuse, rather than fail later, when the agreement's calendar ends too soon.

        Deadlines are counted in working hours from the agreement's bank holidays;
        past the years it knows, the hub must renew the agreement first.
        """
        now = workflow.now()
        try:
            if rag is not None:
                self._policy.sla_clock(rag, now)
            self._policy.acknowledgement_deadline(now)
            self._policy.referrer_feedback_deadline(now)
        except ValueError as e:
            raise ValueError(
                f"the data sharing agreement {self._policy.id} v{self._policy.version} "
                f"cannot time {what}: {e}"
            ) from e

    @staticmethod
    def _still_valid(validator: Callable[[Any], None], action: Any) -> None:
        """Validate again once the handler runs: two actions can pass their validators
        against the same state (two decisions at once); the second is refused here,
        as a business rejection rather than an error that would wedge the workflow."""
        try:
            validator(action)
        except ValueError as e:
            raise ApplicationError(str(e), type="ActionRejected", non_retryable=True) from e

    async def _record_locked(
        self,
        *events: DomainEvent,
        actor: Participant | None = None,
        occurred_at: datetime | None = None,
    ) -> None:
        """Append ``events`` atomically, as ``actor`` (sharehub itself when None).

        A clock's event occurred when the clock ran out (``occurred_at``), a moment
        the timer reaches a few milliseconds late.
        """
        system = Participant(id="sharehub", role=Role.ADMIN)
        new_events = [
            event.to_new_event(
                actor=(actor or system).as_actor(),
                subject_id=subject_id_for(self._request.request_id),
                event_id=workflow.uuid4(),
                occurred_at=occurred_at or workflow.now(),
                correlation_id=str(self._request.request_id),
            )
            for event in events
        ]
        self._version = await workflow.execute_activity(
            "record_events",
            RecordEvents(
                stream_id=self._stream_id, expected_version=self._version, events=new_events
            ),
            result_type=int,
            start_to_close_timeout=_RECORD_TIMEOUT,
            retry_policy=_RECORD_RETRY,
        )

    async def _notify(self, subject: str, notice: AgencyNotice) -> None:
        await workflow.execute_activity(
            "notify_agency",
            NotifyAgency(subject=subject, notice=notice),
            start_to_close_timeout=_RECORD_TIMEOUT,
            retry_policy=_RECORD_RETRY,
        )

    def _result(self, detail: str) -> ActionResult:
        return ActionResult(
            request_id=self._request.request_id,
            stage=self._stage,
            events_recorded=self._version,
            detail=detail,
        )
