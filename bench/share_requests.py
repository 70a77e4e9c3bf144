"""Benchmarks of whole share requests (``make bench``): P3 and P3b.

P3   full lifecycles/s on the "shared" path with 3 recipients, scripted humans
     driving them through :class:`~workers.hub.share_requests.ShareRequestService`
     (raise, triage, decide, each recipient acknowledges the disclosure it heard
     of on the bus, family notified, close), vs :class:`BareLifecycle`: a
     workflow of the same shape on the same server and worker, whose activities
     return at once. The median of three rounds each, the sides alternating.
P3b  latencies seen in P3's sharehub rounds, p95 over every request of them:
     ``raise`` from calling ``raise_request`` to ``ShareRequestRaised`` reaching
     a live store subscriber (LISTEN/NOTIFY, no polling), and ``decision`` from
     calling ``decide`` to the last of the request's 3 disclosure notices
     arriving on the bus. A comment line adds the medians of a few requests
     played one at a time, which tells the work from the wait for the CPU.

Before measuring, the histories of one lifecycle of each side are compared, so
the baseline cannot drift from the real workflow's shape unnoticed.

Prints one machine-readable line per figure and returns the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from temporalio import activity, workflow

# BareLifecycle is a workflow, so the sandbox re-imports this module for every
# run; passing the imports through keeps that re-import as light as that of
# workflows/share_request.py, whose imports are passed through too.
with workflow.unsafe.imports_passed_through():
    from faststream.nats import NatsBroker
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client, WorkflowHandle
    from temporalio.worker import Worker

    from bench.event_store import Figure
    from events.envelope import RecordedEvent
    from events.postgres import PostgresEventStore
    from workers.bus.notices import NatsAgencyPublisher
    from workers.demo.cases import RECIPIENTS_PER_REQUEST, DemoCase, DemoPath, demo_cases
    from workers.demo.channels import AgencyInbox, DirectChannel
    from workers.demo.run import DemoPlayer, play_all
    from workers.hub.share_requests import HubAction, ShareRequestService
    from workers.temporal.client import data_converter
    from workflows.activities import ShareRequestActivities
    from workflows.models import ActionResult, RaiseShareRequest, RecordDecision, Stage
    from workflows.policy import DataSharingAgreement
    from workflows.policy_file import load_policy
    from workflows.share_request import ShareRequestWorkflow

LIFECYCLES = 40
CONCURRENCY = 8
ROUNDS = 3
SOLO_LIFECYCLES = 10
# Relative to the repository: resolving __file__ is not allowed in the sandbox.
DEMO_POLICY = Path("policy/demo-dsa.toml")

# The "shared" path's human steps, each one Update of the real workflow.
STEPS = ("triage", "decide", *("acknowledge",) * RECIPIENTS_PER_REQUEST, "family", "close")
# What the real workflow does on its own once the decision is final: one append
# (referrer told + one disclosure each), then the referrer's outcome notice and
# one disclosure notice per recipient.
NOTICES = 1 + RECIPIENTS_PER_REQUEST
# The real workflow's clocks: SLA reminders and breach from triage to the
# decision, then each disclosure's acknowledgement deadline until acknowledged.
# They never fire in a benchmark, but each wait on them is a timer in history.
CLOCK = timedelta(days=1)


@dataclass(frozen=True, kw_only=True)
class LifecycleFigure(Figure):
    """A few lifecycles/s: printed with a decimal, which ``Figure.line`` rounds away."""

    def line(self) -> str:
        return (
            f"{self.name} value={self.value:.1f} unit={self.unit}"
            f" baseline={self.baseline:.1f} ratio={self.ratio:.2f}"
        )


# ---------------------------------------------------------------------- baseline


@activity.defn(name="bare_record_events")
async def bare_record_events(step: str) -> int:
    return 0


@activity.defn(name="bare_notify_agency")
async def bare_notify_agency(step: str) -> None:
    return None


@workflow.defn
class BareLifecycle:
    """A share request's shape with nothing inside: the same Updates, activities and
    timers as ShareRequestWorkflow on the "shared" path, every activity a no-op."""

    def __init__(self) -> None:
        self._raised = False
        self._stage = "raised"
        self._acknowledged = 0
        self._wake = False
        self._recording = asyncio.Lock()

    @workflow.run
    async def run(self, request_id: str) -> int:
        await self._record("raise")
        self._raised = True
        while self._stage != "closed":
            if self._stage == "decided":
                await self._record("disclose")
                for _ in range(NOTICES):
                    await workflow.execute_activity(
                        bare_notify_agency, "notice", start_to_close_timeout=timedelta(seconds=10)
                    )
                self._stage = "disclosing"
            clock_running = self._stage == "triaged" or (
                self._stage == "disclosing" and self._acknowledged < RECIPIENTS_PER_REQUEST
            )
            with contextlib.suppress(asyncio.TimeoutError):
                await workflow.wait_condition(
                    lambda: self._wake, timeout=CLOCK if clock_running else None
                )
            self._wake = False
        await workflow.wait_condition(workflow.all_handlers_finished)
        return 0

    @workflow.update
    async def step(self, step: str) -> int:
        await workflow.wait_condition(lambda: self._raised)
        if step == "acknowledge":
            # A recipient acknowledges only what it was sent.
            await workflow.wait_condition(lambda: self._stage == "disclosing")
        await self._record(step)
        if step == "acknowledge":
            self._acknowledged += 1
        elif step == "triage":
            self._stage = "triaged"
        elif step == "decide":
            self._stage = "decided"
        elif step == "close":
            self._stage = "closed"
        self._wake = True
        return 0

    async def _record(self, step: str) -> None:
        async with self._recording:
            await workflow.execute_activity(
                bare_record_events, step, start_to_close_timeout=timedelta(seconds=10)
            )


async def bare_round(client: Client, task_queue: str, *, count: int) -> float:
    """Lifecycles/s of ``count`` BareLifecycles, ``CONCURRENCY`` at a time."""
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with slots:
            handle = await client.start_workflow(
                BareLifecycle.run, "bare", id=f"bare-{uuid.uuid4()}", task_queue=task_queue
            )
            for step in STEPS:
                await handle.execute_update(BareLifecycle.step, step)

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - started)


# ---------------------------------------------------------------------- sharehub


class TimedService(ShareRequestService):
    """The real service, noting when each request was raised and decided (for P3b)."""

    def __init__(self, client: Client, policy: DataSharingAgreement, *, task_queue: str) -> None:
        super().__init__(client, policy, task_queue=task_queue)
        self.raised_at: dict[UUID, float] = {}
        self.decided_at: dict[UUID, float] = {}

    async def raise_request(self, request: RaiseShareRequest) -> ActionResult:
        self.raised_at[request.request_id] = time.monotonic()
        return await super().raise_request(request)

    async def act(self, request_id: UUID, action: HubAction) -> ActionResult:
        if isinstance(action, RecordDecision):
            self.decided_at[request_id] = time.monotonic()
        return await super().act(request_id, action)


class RaiseWatcher:
    """Notes when each ``ShareRequestRaised`` reaches a live subscriber of the store."""

    def __init__(self, store: PostgresEventStore) -> None:
        self._store = store
        self.seen_at: dict[UUID, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from_position = await self._store.head_position() + 1
        self._task = asyncio.create_task(self._watch(from_position), name="raise-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _watch(self, from_position: int) -> None:
        # Sealed: no subject key is looked up, so the watcher adds no decryption.
        event: RecordedEvent
        async for event in self._store.subscribe(from_position=from_position, sealed=True):
            if event.type == "ShareRequestRaised" and event.correlation_id is not None:
                self.seen_at.setdefault(UUID(event.correlation_id), time.monotonic())


def shared_cases(policy: DataSharingAgreement, count: int) -> list[DemoCase]:
    """``count`` fresh cases on the "shared" path (3 recipients, consent given)."""
    today = policy.working_calendar().local_date(datetime.now(UTC))
    cases = demo_cases(policy, count * len(DemoPath), today=today)
    return [case for case in cases if case.path is DemoPath.SHARED][:count]


async def sharehub_round(
    player: DemoPlayer, cases: list[DemoCase], *, concurrency: int = CONCURRENCY
) -> float:
    """Lifecycles/s of ``cases``, ``concurrency`` at a time, first raise to last close."""
    started = time.perf_counter()
    outcomes = await play_all(player, cases, concurrency=concurrency, on_done=lambda _: None)
    elapsed = time.perf_counter() - started
    for outcome in outcomes:
        if outcome.failure is not None or outcome.stage is not Stage.CLOSED:
            raise RuntimeError(f"a benchmark lifecycle did not close: {outcome}")
    return len(cases) / elapsed


def latencies_ms(
    cases: list[DemoCase], service: TimedService, watcher: RaiseWatcher, inbox: AgencyInbox
) -> tuple[list[float], list[float]]:
    """Per request: raise → raised event in the store; decide → last disclosure on the bus."""
    raises, decisions = [], []
    for case in cases:
        request_id = case.request.request_id
        raises.append(watcher.seen_at[request_id] - service.raised_at[request_id])
        arrivals = [
            inbox.arrived_at[notice.notice_id]
            for notice in inbox.received[request_id]
            if notice.kind == "disclosure"
        ]
        decisions.append(max(arrivals) - service.decided_at[request_id])
    return [1000 * s for s in raises], [1000 * s for s in decisions]


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1]


# ---------------------------------------------------------------------- shape check


async def lifecycle_shape(handle: WorkflowHandle[Any, Any]) -> dict[str, int]:
    """How many activities, Updates and timers one finished lifecycle's history holds."""
    kinds = {
        EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activities",
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "updates",
        EventType.EVENT_TYPE_TIMER_STARTED: "timers",
    }
    history = await handle.fetch_history()
    counts = Counter(kinds[e.event_type] for e in history.events if e.event_type in kinds)
    return {kind: counts[kind] for kind in kinds.values()}


async def compare_shapes(client: Client, task_queue: str, real_request_id: UUID) -> dict[str, int]:
    """The real and bare lifecycles' shapes, which must be equal for P3 to be fair."""
    real = client.get_workflow_handle(str(real_request_id))
    await real.result()
    bare = await client.start_workflow(
        BareLifecycle.run, "shape", id=f"bare-shape-{uuid.uuid4()}", task_queue=task_queue
    )
    for step in STEPS:
        await bare.execute_update(BareLifecycle.step, step)
    await bare.result()
    real_shape, bare_shape = await lifecycle_shape(real), await lifecycle_shape(bare)
    if real_shape != bare_shape:
        raise RuntimeError(
            f"BareLifecycle no longer matches ShareRequestWorkflow: {bare_shape} vs {real_shape}"
        )
    return real_shape


# ---------------------------------------------------------------------- run


async def run_share_request_benchmarks(
    database_url: str,
    *,
    temporal_address: str,
    nats_url: str,
    master_key: bytes,
    scale: float = 1.0,
) -> list[Figure]:
    count = max(CONCURRENCY, int(LIFECYCLES * scale))
    policy = load_policy(Path(__file__).parents[1] / DEMO_POLICY)
    task_queue = f"bench-{uuid.uuid4()}"
    client = await Client.connect(temporal_address, data_converter=data_converter(master_key))
    store = await PostgresEventStore.open(database_url, master_key=master_key)
    broker = NatsBroker(nats_url)
    publisher = NatsAgencyPublisher(broker)
    await publisher.start()
    activities = ShareRequestActivities(store, publisher)
    service = TimedService(client, policy, task_queue=task_queue)
    inbox = AgencyInbox(nats_url, {agency.id: agency.bus_subject for agency in policy.agencies})
    watcher = RaiseWatcher(store)
    player = DemoPlayer(DirectChannel(service), inbox, policy)
    # One worker, wired as `sharehub worker` wires it, runs both sides.
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[ShareRequestWorkflow, BareLifecycle],
        activities=[
            activities.record_events,
            activities.notify_agency,
            bare_record_events,
            bare_notify_agency,
        ],
    )
    try:
        async with worker, inbox.listening():
            await watcher.start()
            try:
                warm_up = shared_cases(policy, CONCURRENCY)
                await sharehub_round(player, warm_up)
                await bare_round(client, task_queue, count=CONCURRENCY)
                shape = await compare_shapes(client, task_queue, warm_up[0].request.request_id)
                print(
                    f"# P3 each lifecycle, both sides: {shape['updates']} updates, "
                    f"{shape['activities']} activities, {shape['timers']} timers; "
                    f"{count} lifecycles, {CONCURRENCY} at a time",
                    flush=True,
                )
                ours, theirs = [], []
                raises: list[float] = []
                decisions: list[float] = []
                for _ in range(ROUNDS):
                    cases = shared_cases(policy, count)
                    ours.append(await sharehub_round(player, cases))
                    theirs.append(await bare_round(client, task_queue, count=count))
                    round_raises, round_decisions = latencies_ms(cases, service, watcher, inbox)
                    raises += round_raises
                    decisions += round_decisions
                # Not a figure: how much of P3b is the work itself rather than
                # waiting behind the other lifecycles for the two cores.
                solo = shared_cases(policy, SOLO_LIFECYCLES)
                await sharehub_round(player, solo, concurrency=1)
                solo_raises, solo_decisions = latencies_ms(solo, service, watcher, inbox)
            finally:
                await watcher.stop()
    finally:
        await broker.stop()
        await store.close()
    figures = [
        LifecycleFigure(
            name="P3",
            value=statistics.median(ours),
            unit="lifecycles/s",
            baseline=statistics.median(theirs),
        ),
        Figure(name="P3b-raise", value=p95(raises), unit="ms"),
        Figure(name="P3b-decision", value=p95(decisions), unit="ms"),
    ]
    print(
        f"# P3b medians: raise {statistics.median(raises):.0f} ms, "
        f"decision {statistics.median(decisions):.0f} ms ({len(raises)} requests, "
        f"{CONCURRENCY} at a time); one at a time: raise {statistics.median(solo_raises):.0f} "
        f"ms, decision {statistics.median(solo_decisions):.0f} ms "
        f"({len(solo_raises)} requests)",
        flush=True,
    )
    for figure in figures:
        print(figure.line(), flush=True)
    return figures
