"""``sharehub demo``: agencies, hub staff, advisors and recipients, played through N requests.

Each case (see :mod:`workers.demo.cases`) is raised by its referring agency,
rated by a hub officer, and taken along its path: shared, partly shared,
declined after advice, withdrawn, shared without consent after a second
sign-off, or shared with the family step deferred. Recipients learn of their
disclosures the way real agency systems do, from their own JetStream subject,
and acknowledge them; the referrer hears the outcome on its subject too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import httpx
import nats
from nats.js.api import ConsumerConfig
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from events.envelope import Actor
from events.share_requests import DisclosureSent, share_request_events, stream_id_for
from workers.bus.identities import service_connect_options
from workers.bus.server_config import apply_to_managed_server
from workers.bus.streams import AGENCIES_STREAM, AGENCIES_SUBJECTS
from workers.demo.cases import DemoCase, DemoPath, demo_cases
from workers.demo.channels import DEMO_STAFF, AgencyInbox, ApiChannel, Channel
from workers.hub.share_requests import HubAction, ShareRequestServiceError
from workers.resources import open_event_store
from workers.settings import Settings
from workflows.activities import AgencyNotice
from workflows.models import (
    AcknowledgeDisclosure,
    ActionResult,
    Close,
    FamilyStepKind,
    GiveAdvice,
    Participant,
    RecordDecision,
    RecordFamilyStep,
    Role,
    SeekAdvice,
    SignOff,
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
from workflows.policy_file import load_policy

OFFICER, MANAGER, ADVISOR = DEMO_STAFF
DEMO_ENROLMENT = Actor(id="sharehub-demo", role="admin", agency=None)
CASE_TIMEOUT = timedelta(minutes=2)
FAMILY_REVISIT_AFTER = timedelta(days=14)


@dataclass(frozen=True)
class DemoOutcome:
    case: DemoCase
    request_id: UUID  # the case's own, or the one the API gave it
    stage: str
    events_recorded: int
    disclosures: int = 0
    acknowledged: int = 0
    family_revisit_on: date | None = None
    failure: str | None = None

    @property
    def ended_as(self) -> str:
        if self.family_revisit_on is not None:
            return f"open: family step due {self.family_revisit_on}"
        return self.stage


class DemoPlayer:
    """Plays every person in a case through a channel (HTTP and bus, or in-process)."""

    def __init__(self, channel: Channel, inbox: AgencyInbox, policy: DataSharingAgreement) -> None:
        self._channel = channel
        self._inbox = inbox
        self._policy = policy

    async def play(self, case: DemoCase, *, turn: int = 0) -> DemoOutcome:
        try:
            async with asyncio.timeout(CASE_TIMEOUT.total_seconds()):
                return await self._play(case, turn)
        except TimeoutError:
            return DemoOutcome(
                case=case,
                request_id=case.request.request_id,
                stage="stuck",
                events_recorded=0,
                failure=f"no progress in {CASE_TIMEOUT}; are `sharehub worker`, `sharehub "
                "relay` and `sharehub api` running?",
            )
        except ShareRequestServiceError as e:
            return DemoOutcome(
                case=case,
                request_id=case.request.request_id,
                stage="refused",
                events_recorded=0,
                failure=str(e),
            )

    async def _play(self, case: DemoCase, turn: int) -> DemoOutcome:
        request_id = await self._channel.raise_request(case.request, turn=turn)

        async def act(action: HubAction) -> ActionResult | None:
            return await self._channel.act(request_id, action, turn=turn)

        rag = RagRating.RED if case.path is DemoPath.SECOND_SIGN_OFF else RagRating.AMBER
        await act(
            Triage(
                actor=OFFICER,
                rag=rag,
                rationale="Repeated missing episodes and contact with older peers: "
                "partner checks are needed before the strategy discussion.",
            )
        )
        if case.path is DemoPath.WITHDRAWN:
            withdrawn = await act(
                Withdraw(
                    actor=case.referrer,
                    reason="The family has moved out of the borough; the new authority has "
                    "the referral.",
                )
            )
            return self._outcome(case, request_id, withdrawn)
        if case.path is DemoPath.DECLINED_AFTER_ADVICE:
            await act(
                SeekAdvice(
                    actor=OFFICER,
                    question="Does the threshold for sharing without consent apply here?",
                )
            )
            await act(
                GiveAdvice(
                    actor=ADVISOR,
                    advice_id=await self._channel.advice_id(request_id),
                    advice="On the packet alone the threshold is not met; early help is "
                    "proportionate.",
                )
            )
        decision = self._decision(case)
        await act(decision)
        if case.path is DemoPath.SECOND_SIGN_OFF:
            await act(
                SignOff(actor=MANAGER, comment="Consent would put the child at greater risk.")
            )
        await self._inbox.wait_for(request_id, "outcome", 1)
        notices = await self._inbox.wait_for(request_id, "disclosure", len(decision.shares))
        for notice in notices:
            recipient = Participant(
                id=f"{notice.agency}-duty", role=Role.AGENCY, agency=notice.agency
            )
            await act(AcknowledgeDisclosure(actor=recipient, disclosure_id=notice.notice_id))
        family_step = self._family_step(case)
        last = await act(family_step)
        if family_step.kind is not FamilyStepKind.DEFERRED:
            last = await act(Close(actor=OFFICER))
        return self._outcome(
            case,
            request_id,
            last,
            family_revisit_on=family_step.revisit_on,
            disclosures=len(notices),
        )

    @staticmethod
    def _outcome(
        case: DemoCase,
        request_id: UUID,
        last: ActionResult | None,
        *,
        family_revisit_on: date | None = None,
        disclosures: int = 0,
    ) -> DemoOutcome:
        assert last is not None  # the last step of every path is a hub action over HTTP
        return DemoOutcome(
            case=case,
            request_id=request_id,
            stage=last.stage,
            events_recorded=last.events_recorded,
            disclosures=disclosures,
            acknowledged=disclosures,
            family_revisit_on=family_revisit_on,
        )

    def _decision(self, case: DemoCase) -> RecordDecision:
        common = {
            "lawful_basis": LawfulBasis.PUBLIC_TASK,
            "condition": ProcessingCondition.SAFEGUARDING_OF_CHILDREN,
            "caveats": ("For the strategy discussion only; do not pass on without asking.",),
        }
        match case.path:
            case DemoPath.SHARED | DemoPath.FAMILY_DEFERRED:
                return RecordDecision(
                    actor=MANAGER,
                    outcome=DecisionOutcome.SHARE,
                    reasons="Necessary and proportionate: each partner holds part of the picture.",
                    shares=case.shares(),
                    consent=ConsentStatus.GIVEN,
                    **common,
                )
            case DemoPath.PARTLY_SHARED:
                return RecordDecision(
                    actor=MANAGER,
                    outcome=DecisionOutcome.SHARE_PARTIAL,
                    reasons="Shared what the strategy discussion needs; one item is not "
                    "relevant to this recipient's purpose.",
                    shares=case.shares(partial=True),
                    consent=ConsentStatus.GIVEN,
                    **common,
                )
            case DemoPath.SECOND_SIGN_OFF:
                return RecordDecision(
                    actor=OFFICER,
                    outcome=DecisionOutcome.SHARE,
                    reasons="Risk of significant harm; partners need this today.",
                    shares=case.shares(),
                    consent=ConsentStatus.NOT_SOUGHT,
                    consent_note="Seeking consent would alert an adult suspected of exploiting "
                    "the child.",
                    **common,
                )
            case _:
                return RecordDecision(
                    actor=MANAGER,
                    outcome=DecisionOutcome.DECLINE,
                    reasons="The concern is being met by the school's early help plan; the "
                    "advisor found the threshold for sharing without consent not met.",
                    consent=ConsentStatus.NOT_SOUGHT,
                    consent_note="Not sought: nothing is to be shared.",
                    why_not_sharing_is_less_detrimental="Sharing would draw the family into "
                    "statutory processes it does not need; early help continues.",
                    lawful_basis=LawfulBasis.PUBLIC_TASK,
                )

    def _family_step(self, case: DemoCase) -> RecordFamilyStep:
        if case.path is DemoPath.FAMILY_DEFERRED:
            revisit = self._policy.working_calendar().local_date(_now() + FAMILY_REVISIT_AFTER)
            return RecordFamilyStep(
                actor=OFFICER,
                kind=FamilyStepKind.DEFERRED,
                reason="Telling the family now could prejudice a police investigation.",
                revisit_on=revisit,
            )
        return RecordFamilyStep(actor=OFFICER, kind=FamilyStepKind.NOTIFIED)


def _now() -> datetime:
    return datetime.now(UTC)


async def play_all(
    player: DemoPlayer,
    cases: list[DemoCase],
    *,
    concurrency: int,
    on_done: Callable[[DemoOutcome], None],
) -> list[DemoOutcome]:
    """Play ``cases``, ``concurrency`` at a time; ``on_done`` after each."""
    slots = asyncio.Semaphore(concurrency)

    async def one(turn: int, case: DemoCase) -> DemoOutcome:
        async with slots:
            outcome = await player.play(case, turn=turn)
        on_done(outcome)
        return outcome

    return list(await asyncio.gather(*(one(turn, case) for turn, case in enumerate(cases))))


def outcome_table(outcomes: list[DemoOutcome]) -> Table:
    """One row per path: how many requests, where they ended, what was disclosed."""
    table = Table(title="sharehub demo: outcomes")
    for column in ("path", "requests", "ended as", "disclosures", "acknowledged", "events"):
        table.add_column(column, justify="left" if column in ("path", "ended as") else "right")
    for path in DemoPath:
        mine = [o for o in outcomes if o.case.path is path]
        if not mine:
            continue
        stages = sorted({o.ended_as for o in mine})
        table.add_row(
            str(path),
            str(len(mine)),
            ", ".join(stages),
            str(sum(o.disclosures for o in mine)),
            str(sum(o.acknowledged for o in mine)),
            str(sum(o.events_recorded for o in mine)),
        )
    return table


@dataclass(frozen=True)
class DemoRun:
    outcomes: list[DemoOutcome]
    misdelivered: list[str]
    # Differences between each agency's subject and the disclosures recorded for it.
    subject_differences: list[str]

    @property
    def succeeded(self) -> bool:
        """Every case ran its path, and each agency's subject holds exactly its disclosures."""
        return (
            not self.misdelivered
            and not self.subject_differences
            and all(o.failure is None for o in self.outcomes)
        )


async def compare_subjects_with_store(
    settings: Settings, request_ids: set[UUID]
) -> tuple[int, list[str]]:
    """Each agency subject's disclosure notices for ``request_ids``, against the store's
    ``DisclosureSent`` events: how many matched, and every difference."""
    recorded: dict[str, set[UUID]] = defaultdict(set)
    async with await open_event_store(settings, max_connections=2) as store:
        for request_id in request_ids:
            for event in await store.read_stream(stream_id_for(request_id)):
                if event.type == "DisclosureSent":
                    sent = share_request_events.decode(event)
                    assert isinstance(sent, DisclosureSent)
                    recorded[sent.bus_subject].add(sent.disclosure_id)
    on_subjects: dict[str, set[UUID]] = defaultdict(set)
    # The hub's check, not an agency's: as sharehub's service identity.
    client = await nats.connect(
        settings.resolved_nats_url(),
        **service_connect_options(settings.nats_service_seed(), tls=settings.nats_tls_context()),
    )
    try:
        subscription = await client.jetstream().pull_subscribe(
            AGENCIES_SUBJECTS, stream=AGENCIES_STREAM, config=ConsumerConfig(inactive_threshold=60)
        )
        while True:
            try:
                batch = await subscription.fetch(1000, timeout=1)
            except (nats.errors.TimeoutError, TimeoutError):  # nats-py raises either
                break
            for message in batch:
                notice = AgencyNotice.model_validate_json(message.data)
                if notice.kind == "disclosure" and notice.request_id in request_ids:
                    on_subjects[message.subject].add(notice.notice_id)
    finally:
        await client.close()
    differences = []
    for subject in sorted(recorded.keys() | on_subjects.keys()):
        missing = recorded[subject] - on_subjects[subject]
        extra = on_subjects[subject] - recorded[subject]
        if missing:
            differences.append(f"{subject}: {len(missing)} recorded disclosures not on it")
        if extra:
            differences.append(f"{subject}: {len(extra)} disclosures on it that were not decided")
    return sum(len(ids) for ids in recorded.values()), differences


async def run_demo(
    settings: Settings,
    *,
    requests: int,
    concurrency: int,
    seed: int | None,
    console: Console,
    http: httpx.AsyncClient | None = None,
) -> DemoRun:
    """Play ``requests`` cases against the stack as its clients do, then show the outcomes.

    ``http`` reaches the API (by default at the stack's ``api_url``).
    """
    policy = load_policy(settings.policy_file)
    today = policy.working_calendar().local_date(_now())
    cases = demo_cases(policy, requests, seed=seed, today=today)
    people = [*DEMO_STAFF, MANAGER, *{case.referrer for case in cases}]
    people += [
        Participant(id=f"{agency.id}-duty", role=Role.AGENCY, agency=agency.id)
        for agency in policy.agencies
    ]
    async with contextlib.AsyncExitStack() as stack:
        store = await stack.enter_async_context(await open_event_store(settings, max_connections=2))
        keys, bus_seeds = await ApiChannel.enrol(
            store, policy, list({p.id: p for p in people}.values()), enrolled_by=DEMO_ENROLMENT
        )
        # The agencies' new bus credentials, in force on the stack's NATS (a NATS deployed
        # elsewhere needs `sharehub bus config` deployed: the agencies wait for it).
        await apply_to_managed_server(settings, store, policy)
        inbox = AgencyInbox(
            settings.resolved_nats_url(),
            {agency.id: agency.bus_subject for agency in policy.agencies},
            replies=True,
            bus_seeds=bus_seeds,
        )
        if http is None:
            http = await stack.enter_async_context(
                httpx.AsyncClient(base_url=settings.resolved_api_url(), timeout=60)
            )
        await stack.enter_async_context(inbox.listening())
        channel = await stack.enter_async_context(
            ApiChannel(http, inbox, settings.resolved_nats_url(), keys, bus_seeds).connected()
        )
        player = DemoPlayer(channel, inbox, policy)
        with Progress(
            TextColumn("playing share requests"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("demo", total=requests)
            outcomes = await play_all(
                player,
                cases,
                concurrency=concurrency,
                on_done=lambda _: progress.advance(task),
            )
    matched, differences = await compare_subjects_with_store(
        settings, {outcome.request_id for outcome in outcomes}
    )
    run = DemoRun(
        outcomes=outcomes, misdelivered=list(inbox.misdelivered), subject_differences=differences
    )
    console.print(outcome_table(outcomes))
    if not differences:
        console.print(
            f"each agency's subject holds exactly the disclosures decided for it "
            f"({matched} disclosures checked against the event store)"
        )
    for line in differences:
        console.print(f"[red]{line}")
    for outcome in outcomes:
        if outcome.failure is not None:
            console.print(f"[red]{outcome.case.path} {outcome.request_id}: {outcome.failure}")
    for line in run.misdelivered:
        console.print(f"[red]notice on the wrong subject: {line}")
    return run
