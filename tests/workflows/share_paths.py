"""Whole runs of ShareRequestWorkflow, for the clock tests and the recorded histories.

Each path in :data:`HISTORY_PATHS` drives one request from raise to its end on a
time-skipping server, moving the clock only with ``env.sleep`` and never past a few
weeks, so it stays inside the agreement's bank-holiday years. Its request id (and so
its workflow id) is derived from the path's name: a recorded history replays under
the id it ran with.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from events.envelope import RecordedEvent
from events.postgres import PostgresEventStore
from events.share_requests import stream_id_for
from tests.workflows.conftest import HubWorker
from tests.workflows.scenario import (
    ADVISOR,
    GP,
    MANAGER,
    OFFICER,
    POLICE,
    POLICE_ASKED,
    SCHOOL_DSL,
    SECOND_MANAGER,
    raise_request,
    share_all,
    start,
)
from workflows.models import (
    AcknowledgeDisclosure,
    ActionResult,
    Close,
    Disclosure,
    FamilyStepKind,
    GiveAdvice,
    Participant,
    RecordDecision,
    RecordFamilyStep,
    SeekAdvice,
    Share,
    SignOff,
    Stage,
    StartShareRequest,
    Triage,
    Withdraw,
)
from workflows.policy import (
    ConsentStatus,
    DataSharingAgreement,
    DecisionOutcome,
    LawfulBasis,
    ProcessingCondition,
    RagRating,
)
from workflows.share_request import ShareRequestWorkflow

LONDON = ZoneInfo("Europe/London")
MONDAY, TUESDAY, FRIDAY = 0, 1, 4

Handle = WorkflowHandle[ShareRequestWorkflow, ActionResult]

# ----------------------------------------------------------------------- the clock


async def skip_to_next(
    env: WorkflowEnvironment, policy: DataSharingAgreement, weekday: int, hour: int, minute: int
) -> datetime:
    """Move the test server's clock to the next such London moment at which the hub is
    open (not a bank holiday or closure day); return it (UTC)."""
    calendar = policy.working_calendar()
    now = await env.get_current_time()
    local = now.astimezone(LONDON)
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    while candidate <= local or candidate.weekday() != weekday or not calendar.is_open(candidate):
        candidate = datetime.combine(
            candidate.date() + timedelta(days=1), candidate.timetz().replace(tzinfo=None), LONDON
        )
    return await skip_to(env, candidate)


async def skip_to(env: WorkflowEnvironment, moment: datetime) -> datetime:
    """Move the test server's clock forward to ``moment``; return it (UTC)."""
    now = await env.get_current_time()
    target = moment.astimezone(UTC)
    assert target > now, f"the test server's clock ({now}) is already past {target}"
    # Bounded: the agreement knows bank holidays only for a few years.
    assert target - now < timedelta(days=400), f"{target} is too far from {now}"
    await env.sleep(target - now)
    return target


# ----------------------------------------------------------------------- reading


async def recorded(
    store: PostgresEventStore, start_input: StartShareRequest
) -> list[RecordedEvent]:
    return await store.read_stream(stream_id_for(start_input.request.request_id))


async def recorded_once_settled(
    store: PostgresEventStore, start_input: StartShareRequest
) -> list[RecordedEvent]:
    """The stream after a pause long enough for a timer that fired to be recorded.

    For checks that something was *not* recorded: a clock that fired during the last
    ``env.sleep`` appends through an activity, in real time, a moment later.
    """
    await asyncio.sleep(1.0)
    return await recorded(store, start_input)


async def wait_for_event(
    store: PostgresEventStore, start_input: StartShareRequest, kind: str
) -> list[RecordedEvent]:
    """Wait (real time) until a ``kind`` event is recorded; return the stream."""
    for _ in range(200):
        events = await recorded(store, start_input)
        if any(event.type == kind for event in events):
            return events
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {kind} was recorded")


async def wait_for_disclosures(handle: Handle, count: int) -> list[Disclosure]:
    """The disclosures, sorted by agency, once the workflow has sent ``count``."""
    for _ in range(200):
        disclosures = await handle.query(ShareRequestWorkflow.disclosures)
        if len(disclosures) >= count:
            return sorted(disclosures, key=lambda d: d.agency)
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} disclosures were sent")


async def wait_for_stage(handle: Handle, stage: Stage) -> None:
    for _ in range(200):
        if await handle.query(ShareRequestWorkflow.stage) is stage:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the request never reached {stage.value}")


# ----------------------------------------------------------------------- actions


def full_share(**changes: Any) -> RecordDecision:
    """A hub manager shares everything asked for, with consent: no second sign-off."""
    base = RecordDecision(
        actor=MANAGER,
        outcome=DecisionOutcome.SHARE,
        lawful_basis=LawfulBasis.PUBLIC_TASK,
        condition=ProcessingCondition.SAFEGUARDING_OF_CHILDREN,
        reasons="Repeated missing episodes; police need the school and GP picture.",
        shares=share_all(),
        consent=ConsentStatus.GIVEN,
        caveats=("Do not approach the parents before the strategy discussion",),
    )
    return base.model_copy(update=changes)


async def triage(handle: Handle, rag: RagRating = RagRating.AMBER) -> None:
    await handle.execute_update(
        ShareRequestWorkflow.triage,
        Triage(actor=OFFICER, rag=rag, rationale="Missing episodes, no current harm"),
    )


async def acknowledge(handle: Handle, disclosure: Disclosure, person: Participant) -> ActionResult:
    return await handle.execute_update(
        ShareRequestWorkflow.acknowledge_disclosure,
        AcknowledgeDisclosure(actor=person, disclosure_id=disclosure.disclosure_id),
    )


async def defer_family_step(handle: Handle, revisit_on: date) -> ActionResult:
    return await handle.execute_update(
        ShareRequestWorkflow.record_family_step,
        RecordFamilyStep(
            actor=OFFICER,
            kind=FamilyStepKind.DEFERRED,
            reason="Telling the family now could prejudice the police investigation",
            revisit_on=revisit_on,
        ),
    )


async def notify_family(handle: Handle) -> ActionResult:
    return await handle.execute_update(
        ShareRequestWorkflow.record_family_step,
        RecordFamilyStep(actor=OFFICER, kind=FamilyStepKind.NOTIFIED),
    )


async def close(handle: Handle) -> ActionResult:
    return await handle.execute_update(ShareRequestWorkflow.close, Close(actor=OFFICER))


# ----------------------------------------------------------------------- recorded paths


def workflow_id_for(path_name: str) -> str:
    """The request id, and so the workflow id, a recorded path runs under."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sharehub:tests/histories/{path_name}"))


async def _begin(
    hub: HubWorker, policy: DataSharingAgreement, path_name: str
) -> tuple[StartShareRequest, Handle]:
    request_id = uuid.UUID(workflow_id_for(path_name))
    start_input = start(policy, raise_request().model_copy(update={"request_id": request_id}))
    return start_input, await hub.begin(start_input)


async def full_share_closed(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> Handle:
    """Shared in full with consent, both recipients acknowledge, the family is told."""
    await skip_to_next(hub.env, policy, TUESDAY, 10, 0)
    _, handle = await _begin(hub, policy, "full_share_closed")
    await triage(handle)
    await handle.execute_update(ShareRequestWorkflow.decide, full_share())
    police, gp = await wait_for_disclosures(handle, 2)
    await acknowledge(handle, police, POLICE)
    await acknowledge(handle, gp, GP)
    await notify_family(handle)
    await close(handle)
    await handle.result()
    return handle


async def partial_share_signed_off(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> Handle:
    """Part shared without consent: a second manager signs off; the family is not told."""
    await skip_to_next(hub.env, policy, TUESDAY, 10, 0)
    _, handle = await _begin(hub, policy, "partial_share_signed_off")
    await triage(handle, RagRating.GREEN)
    partial = (
        Share(agency="met-police", categories=POLICE_ASKED[:1], purpose="safeguarding_strategy"),
    )
    await handle.execute_update(
        ShareRequestWorkflow.decide,
        full_share(
            outcome=DecisionOutcome.SHARE_PARTIAL,
            shares=partial,
            consent=ConsentStatus.NOT_SOUGHT,
            consent_note="Seeking consent could place her at risk",
        ),
    )
    await handle.execute_update(ShareRequestWorkflow.sign_off, SignOff(actor=SECOND_MANAGER))
    [police] = await wait_for_disclosures(handle, 1)
    await acknowledge(handle, police, POLICE)
    await handle.execute_update(
        ShareRequestWorkflow.record_family_step,
        RecordFamilyStep(
            actor=OFFICER,
            kind=FamilyStepKind.WITHHELD,
            reason="Telling the family would increase the risk to the child",
        ),
    )
    await close(handle)
    await handle.result()
    return handle


async def declined_after_advice(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> Handle:
    """Advice sought and given, then a decision not to share; nothing is disclosed."""
    await skip_to_next(hub.env, policy, TUESDAY, 10, 0)
    _, handle = await _begin(hub, policy, "declined_after_advice")
    await handle.execute_update(
        ShareRequestWorkflow.seek_advice,
        SeekAdvice(actor=OFFICER, question="Is sharing with police proportionate here?"),
    )
    [advice] = await handle.query(ShareRequestWorkflow.advice_requests)
    await handle.execute_update(
        ShareRequestWorkflow.give_advice,
        GiveAdvice(
            actor=ADVISOR, advice_id=advice.advice_id, advice="Not proportionate on these facts"
        ),
    )
    await triage(handle, RagRating.GREEN)
    await handle.execute_update(
        ShareRequestWorkflow.decide,
        full_share(
            outcome=DecisionOutcome.DECLINE,
            shares=(),
            why_not_sharing_is_less_detrimental=(
                "The school already supports her; a police referral would add no protection"
            ),
        ),
    )
    await wait_for_stage(handle, Stage.FAMILY_STEP)
    await notify_family(handle)
    await close(handle)
    await handle.result()
    return handle


async def withdrawn(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> Handle:
    """Rated, then withdrawn by the referrer before any decision."""
    await skip_to_next(hub.env, policy, TUESDAY, 10, 0)
    _, handle = await _begin(hub, policy, "withdrawn")
    await triage(handle)
    await handle.execute_update(
        ShareRequestWorkflow.withdraw, Withdraw(actor=SCHOOL_DSL, reason="Raised in error")
    )
    await handle.result()
    return handle


async def sla_breached(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> Handle:
    """Rated amber on a Friday afternoon, left undecided: two reminders and a breach."""
    await skip_to_next(hub.env, policy, FRIDAY, 16, 30)
    start_input, handle = await _begin(hub, policy, "sla_breached")
    await triage(handle)
    await hub.env.sleep(timedelta(days=5))
    await wait_for_event(store, start_input, "SlaBreached")
    await handle.execute_update(ShareRequestWorkflow.decide, full_share())
    police, gp = await wait_for_disclosures(handle, 2)
    await acknowledge(handle, police, POLICE)
    await acknowledge(handle, gp, GP)
    await notify_family(handle)
    await close(handle)
    await handle.result()
    return handle


async def acknowledgement_overdue(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> Handle:
    """One recipient acknowledges late: escalated at its deadline, then closed."""
    await skip_to_next(hub.env, policy, TUESDAY, 10, 0)
    start_input, handle = await _begin(hub, policy, "acknowledgement_overdue")
    await triage(handle)
    await handle.execute_update(ShareRequestWorkflow.decide, full_share())
    police, gp = await wait_for_disclosures(handle, 2)
    await acknowledge(handle, police, POLICE)
    await hub.env.sleep(timedelta(days=1))
    await wait_for_event(store, start_input, "AcknowledgementOverdue")
    await acknowledge(handle, gp, GP)
    await notify_family(handle)
    await close(handle)
    await handle.result()
    return handle


async def family_step_deferred(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> Handle:
    """Telling the family deferred a week; when it falls due, the family is told."""
    decided = await skip_to_next(hub.env, policy, TUESDAY, 10, 0)
    start_input, handle = await _begin(hub, policy, "family_step_deferred")
    await triage(handle)
    await handle.execute_update(ShareRequestWorkflow.decide, full_share())
    police, gp = await wait_for_disclosures(handle, 2)
    await acknowledge(handle, police, POLICE)
    await acknowledge(handle, gp, GP)
    await defer_family_step(handle, decided.astimezone(LONDON).date() + timedelta(days=7))
    await hub.env.sleep(timedelta(days=8))
    await wait_for_event(store, start_input, "FamilyStepDue")
    await notify_family(handle)
    await close(handle)
    await handle.result()
    return handle


HISTORY_PATHS: dict[
    str, Callable[[HubWorker, PostgresEventStore, DataSharingAgreement], Awaitable[Handle]]
] = {
    path.__name__: path
    for path in (
        full_share_closed,
        partial_share_signed_off,
        declined_after_advice,
        withdrawn,
        sla_breached,
        acknowledgement_overdue,
        family_step_deferred,
    )
}
