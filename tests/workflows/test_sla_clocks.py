"""SLA reminders, breach and escalation at exact working-hours boundaries.

The time-skipping server moves the clock to the moment each case starts (a Friday
16:30, a Saturday 02:00, the Friday before a bank-holiday Monday), then lets the
workflow's timers fire; each event's time must be the exact boundary.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from events.postgres import PostgresEventStore
from events.share_requests import stream_id_for
from tests.workflows.conftest import HubWorker, start_time_skipping
from tests.workflows.scenario import OFFICER, start
from workflows.models import ActionResult, StartShareRequest, Triage
from workflows.policy import DataSharingAgreement, RagRating
from workflows.share_request import ShareRequestWorkflow

LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """A server of this module's own: its clock jumps by days and months, and other
    tests' workflows must not be waiting on it."""
    env = await start_time_skipping()
    yield env
    await env.shutdown()


async def skip_to(hub: HubWorker, weekday: int, hour: int, minute: int) -> datetime:
    """Move the test server's clock to the next such local moment; return it (UTC)."""
    now = await hub.env.get_current_time()
    local = now.astimezone(LONDON)
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    while candidate <= local or candidate.weekday() != weekday:
        candidate = (candidate + timedelta(days=1)).replace(hour=hour, minute=minute)
    target = candidate.astimezone(UTC)
    await hub.env.sleep(target - now)
    return target


async def triaged(
    hub: HubWorker, policy: DataSharingAgreement, rag: RagRating, rationale: str
) -> tuple[StartShareRequest, WorkflowHandle[ShareRequestWorkflow, ActionResult]]:
    """A new request, rated by the hub officer now (where the test put the clock)."""
    start_input = start(policy)
    handle = await hub.begin(start_input)
    await handle.execute_update(
        ShareRequestWorkflow.triage, Triage(actor=OFFICER, rag=rag, rationale=rationale)
    )
    return start_input, handle


async def settled(store: PostgresEventStore, request_id: object, kind: str) -> None:
    """Wait (real time) until the workflow has recorded a ``kind`` event."""
    for _ in range(100):
        events = await store.read_stream(stream_id_for(request_id))  # type: ignore[arg-type]
        if any(event.type == kind for event in events):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {kind} was recorded")


async def test_amber_triaged_friday_1630_reminds_and_breaches_on_monday(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> None:
    friday = await skip_to(hub, weekday=4, hour=16, minute=30)
    start_input, _ = await triaged(hub, policy, RagRating.AMBER, "Amber risk")
    await hub.env.sleep(timedelta(days=4))
    await settled(store, start_input.request.request_id, "SlaBreached")
    events = await store.read_stream(stream_id_for(start_input.request.request_id))
    # The clock starts when the triage is recorded: Friday 16:30 and the few
    # milliseconds the update took.
    triaged_at = next(e for e in events if e.type == "TriageRecorded").occurred_at
    assert triaged_at - friday < timedelta(seconds=5)
    clock = policy.sla_clock(RagRating.AMBER, triaged_at)
    assert clock is not None
    reminders = [e.occurred_at for e in events if e.type == "SlaReminderDue"]
    assert reminders == [reminder.due_at for reminder in clock.reminders]
    [breach] = [e for e in events if e.type == "SlaBreached"]
    assert breach.occurred_at == clock.deadline
    assert breach.data["escalated_to"] == policy.escalation.hub_manager.email
    # 30 working minutes on Friday, 5 h 30 on the next working day (a Monday,
    # or the Tuesday after a bank-holiday Monday); reminders at 50 % and 80 %.
    local = [moment.astimezone(LONDON) for moment in (*reminders, breach.occurred_at)]
    assert [f"{m:%H:%M}" for m in local] == ["11:30", "13:18", "14:30"]
    assert local[-1].weekday() in (0, 1)


async def test_red_at_0200_runs_round_the_clock_and_goes_to_the_emergency_duty_team(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> None:
    saturday = await skip_to(hub, weekday=5, hour=2, minute=0)
    start_input, _ = await triaged(hub, policy, RagRating.RED, "Injury seen")
    await hub.env.sleep(timedelta(hours=3))
    await settled(store, start_input.request.request_id, "SlaBreached")
    events = await store.read_stream(stream_id_for(start_input.request.request_id))
    triage = next(e for e in events if e.type == "TriageRecorded")
    assert triage.data["handed_to_emergency_duty_team"] is True
    [breach] = [e for e in events if e.type == "SlaBreached"]
    triaged_at = triage.occurred_at
    assert triaged_at - saturday < timedelta(seconds=5)
    # Round the clock: 2 h from the triage, reminders at 1 h and 1 h 36 min.
    assert breach.occurred_at == triaged_at + timedelta(hours=2)
    reminders = [e.occurred_at for e in events if e.type == "SlaReminderDue"]
    assert reminders == [triaged_at + timedelta(hours=1), triaged_at + timedelta(minutes=96)]


async def test_a_decision_in_time_stops_the_clock(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> None:
    from tests.workflows.test_share_request import decision

    await skip_to(hub, weekday=1, hour=10, minute=0)
    start_input, handle = await triaged(hub, policy, RagRating.AMBER, "Amber")
    await hub.env.sleep(timedelta(hours=2))
    await handle.execute_update(ShareRequestWorkflow.decide, decision())
    await hub.env.sleep(timedelta(days=2))
    kinds = [e.type for e in await store.read_stream(stream_id_for(start_input.request.request_id))]
    assert "SlaBreached" not in kinds and "SlaReminderDue" not in kinds


async def test_amber_before_a_bank_holiday_monday_breaches_on_tuesday(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> None:
    # Friday 28 May 2027; Monday 31 May is the Spring Bank Holiday.
    friday = datetime(2027, 5, 28, 16, 30, tzinfo=LONDON).astimezone(UTC)
    now = await hub.env.get_current_time()
    assert now < friday, "the test server's clock is already past the case"
    await hub.env.sleep(friday - now)
    start_input, _ = await triaged(hub, policy, RagRating.AMBER, "Amber, before the holiday")
    await hub.env.sleep(timedelta(days=5))
    await settled(store, start_input.request.request_id, "SlaBreached")
    events = await store.read_stream(stream_id_for(start_input.request.request_id))
    [breach] = [e for e in events if e.type == "SlaBreached"]
    local = breach.occurred_at.astimezone(LONDON)
    assert (local.date().isoformat(), f"{local:%H:%M}") == ("2027-06-01", "14:30")
