"""The clocks that run after the decision: acknowledgement deadlines and a deferred family step.

Each case moves the test server's clock to just before the moment a clock must fire,
checks that nothing was recorded yet, then past it, and reads the store for the
event and its time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from events.envelope import RecordedEvent
from events.postgres import PostgresEventStore
from events.share_requests import AcknowledgementOverdue, FamilyStepDue, share_request_events
from tests.workflows.conftest import HubWorker, start_time_skipping
from tests.workflows.scenario import GP, POLICE, start
from tests.workflows.share_paths import (
    FRIDAY,
    LONDON,
    TUESDAY,
    acknowledge,
    close,
    defer_family_step,
    full_share,
    notify_family,
    recorded,
    recorded_once_settled,
    skip_to,
    skip_to_next,
    triage,
    wait_for_disclosures,
    wait_for_event,
    wait_for_stage,
)
from workflows.models import Stage
from workflows.policy import DataSharingAgreement
from workflows.share_request import ShareRequestWorkflow

JUST = timedelta(minutes=1)


@pytest.fixture(scope="module")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """A server of this module's own: its clock jumps by days and months."""
    env = await start_time_skipping()
    yield env
    await env.shutdown()


def types(events: list[RecordedEvent]) -> list[str]:
    return [event.type for event in events]


async def test_a_silent_recipient_is_escalated_at_its_deadline_and_holds_the_request_open(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> None:
    friday = await skip_to_next(hub.env, policy, FRIDAY, 15, 0)
    start_input = start(policy)
    handle = await hub.begin(start_input)
    await triage(handle)
    await handle.execute_update(ShareRequestWorkflow.decide, full_share())
    police, gp = await wait_for_disclosures(handle, 2)
    [sent_at] = {
        e.occurred_at for e in await recorded(store, start_input) if e.type == "DisclosureSent"
    }
    deadline = gp.acknowledge_by
    assert police.acknowledge_by == deadline == policy.acknowledgement_deadline(sent_at)
    # Four working hours from Friday 15:00: two on Friday, two on the next working day
    # (a Monday, or later after a bank holiday): the silent weekend does not count.
    local = deadline.astimezone(LONDON)
    assert f"{local:%H:%M}" == "11:00"
    assert local.date() - friday.date() >= timedelta(days=3)
    await acknowledge(handle, police, POLICE)

    await skip_to(hub.env, deadline - JUST)
    assert "AcknowledgementOverdue" not in types(await recorded_once_settled(store, start_input))

    await hub.env.sleep(2 * JUST)
    events = await wait_for_event(store, start_input, "AcknowledgementOverdue")
    overdue = [e for e in events if e.type == "AcknowledgementOverdue"]
    assert len(overdue) == 1, "one escalation, and none for the agency that acknowledged"
    assert overdue[0].occurred_at == deadline
    assert share_request_events.decode(overdue[0]) == AcknowledgementOverdue(
        disclosure_id=gp.disclosure_id,
        agency="riverside-medical-practice",
        acknowledge_by=deadline,
        escalated_to=policy.escalation.hub_manager.email,
    )

    # Everything else done, the request still cannot close without the GP.
    await notify_family(handle)
    before = await recorded(store, start_input)
    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await close(handle)
    assert "still awaiting acknowledgement from riverside-medical-practice" in str(
        rejected.value.cause
    )
    assert await recorded(store, start_input) == before

    await acknowledge(handle, gp, GP)
    await wait_for_stage(handle, Stage.READY_TO_CLOSE)
    await close(handle)
    await handle.result()
    assert types(await recorded(store, start_input)) == [
        "ShareRequestRaised",
        "TriageRecorded",
        "DecisionRecorded",
        "ReferrerToldOutcome",
        "DisclosureSent",
        "DisclosureSent",
        "DisclosureAcknowledged",
        "AcknowledgementOverdue",
        "FamilyStepRecorded",
        "DisclosureAcknowledged",
        "ShareRequestClosed",
    ]


def first_working_day_after_the_clocks_change(
    policy: DataSharingAgreement, after: datetime
) -> date:
    """The hub's first open day on which its opening is at another UTC time than ``after``'s.

    09:00 in London is 09:00 UTC in winter and 08:00 UTC in summer: a revisit timed
    from the date in UTC, or by adding whole days, would be an hour out.
    """
    calendar = policy.working_calendar()
    offset = after.astimezone(LONDON).utcoffset()
    day = calendar.local_date(after) + timedelta(days=1)
    while True:
        opening = calendar.opening_on(day)
        if opening.astimezone(LONDON).utcoffset() != offset and calendar.is_open(opening):
            return day
        day += timedelta(days=1)


async def test_a_deferred_family_step_falls_due_at_opening_on_its_revisit_date(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> None:
    decided_at = await skip_to_next(hub.env, policy, TUESDAY, 10, 0)
    start_input = start(policy)
    handle = await hub.begin(start_input)
    await triage(handle)
    await handle.execute_update(ShareRequestWorkflow.decide, full_share())
    police, gp = await wait_for_disclosures(handle, 2)
    await acknowledge(handle, police, POLICE)
    await acknowledge(handle, gp, GP)
    await wait_for_stage(handle, Stage.FAMILY_STEP)

    revisit_on = first_working_day_after_the_clocks_change(policy, decided_at)
    await defer_family_step(handle, revisit_on)
    due = policy.working_calendar().opening_on(revisit_on)
    # The premise: 09:00 on the revisit date is another UTC time than on the decision's.
    calendar = policy.working_calendar()
    assert due.time() != calendar.opening_on(calendar.local_date(decided_at)).time()

    await skip_to(hub.env, due - JUST)
    waiting = await recorded_once_settled(store, start_input)
    assert types(waiting)[-1] == "FamilyStepRecorded"
    assert "FamilyStepDue" not in types(waiting)
    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await close(handle)  # deferred is not done
    assert "it is family_step" in str(rejected.value.cause)

    await hub.env.sleep(2 * JUST)
    events = await wait_for_event(store, start_input, "FamilyStepDue")
    [due_event] = [e for e in events if e.type == "FamilyStepDue"]
    assert due_event.occurred_at == due
    assert share_request_events.decode(due_event) == FamilyStepDue(revisit_on=revisit_on)
    assert await handle.query(ShareRequestWorkflow.stage) is Stage.FAMILY_STEP

    notified = await notify_family(handle)
    assert notified.stage is Stage.READY_TO_CLOSE
    await close(handle)
    await handle.result()
    assert types(await recorded(store, start_input))[-5:] == [
        "DisclosureAcknowledged",
        "FamilyStepRecorded",
        "FamilyStepDue",
        "FamilyStepRecorded",
        "ShareRequestClosed",
    ]


async def test_a_family_step_falling_due_does_not_let_a_silent_recipient_be_skipped(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> None:
    """Deferred at the decision, due the next working morning, while the GP is silent.

    The due step leaves the request disclosing while a disclosure is unacknowledged;
    the family step may be recorded, and the close rule keeps the request open until
    the GP answers.
    """
    decided_at = await skip_to_next(hub.env, policy, TUESDAY, 10, 0)
    start_input = start(policy)
    handle = await hub.begin(start_input)
    await triage(handle)
    await handle.execute_update(ShareRequestWorkflow.decide, full_share())
    police, gp = await wait_for_disclosures(handle, 2)
    await acknowledge(handle, police, POLICE)
    calendar = policy.working_calendar()
    revisit_on = calendar.local_date(calendar.add_working_days(decided_at, 1))
    await defer_family_step(handle, revisit_on)
    due = calendar.opening_on(revisit_on)

    await skip_to(hub.env, due - JUST)
    waiting = types(await recorded_once_settled(store, start_input))
    assert "AcknowledgementOverdue" in waiting and "FamilyStepDue" not in waiting
    assert await handle.query(ShareRequestWorkflow.stage) is Stage.DISCLOSING

    await hub.env.sleep(2 * JUST)
    await wait_for_event(store, start_input, "FamilyStepDue")
    assert await handle.query(ShareRequestWorkflow.stage) is Stage.DISCLOSING
    await notify_family(handle)
    assert await handle.query(ShareRequestWorkflow.stage) is Stage.DISCLOSING
    before = await recorded(store, start_input)
    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await close(handle)
    assert "still awaiting acknowledgement from riverside-medical-practice" in str(
        rejected.value.cause
    )
    assert await recorded(store, start_input) == before

    await acknowledge(handle, gp, GP)
    await close(handle)
    await handle.result()
    assert types(await recorded(store, start_input))[-3:] == [
        "FamilyStepRecorded",
        "DisclosureAcknowledged",
        "ShareRequestClosed",
    ]


async def skip_to_a_summer_tuesday(hub: HubWorker, policy: DataSharingAgreement) -> datetime:
    """The next open Tuesday 10:00 in British Summer Time (UTC+1)."""
    calendar = policy.working_calendar()
    day = (await hub.env.get_current_time()).astimezone(LONDON).date() + timedelta(days=1)
    while True:
        moment = datetime.combine(day, time(10), LONDON)
        if day.weekday() == TUESDAY and moment.utcoffset() and calendar.is_open(moment):
            return await skip_to(hub.env, moment)
        day += timedelta(days=1)


async def test_a_deferral_to_the_hubs_own_today_is_refused_just_after_midnight_in_summer(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> None:
    decided_at = await skip_to_a_summer_tuesday(hub, policy)
    start_input = start(policy)
    handle = await hub.begin(start_input)
    await triage(handle)
    await handle.execute_update(ShareRequestWorkflow.decide, full_share())
    police, gp = await wait_for_disclosures(handle, 2)
    await acknowledge(handle, police, POLICE)
    await acknowledge(handle, gp, GP)
    # Wednesday 00:30 in London, still Tuesday 23:30 in UTC.
    wednesday = decided_at.astimezone(LONDON).date() + timedelta(days=1)
    await skip_to(hub.env, datetime.combine(wednesday, time(0, 30), LONDON))
    before = await recorded(store, start_input)
    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await defer_family_step(handle, wednesday)
    assert "the revisit date is in the future" in str(rejected.value.cause)
    assert await recorded(store, start_input) == before
