"""How the demo's people reach sharehub: as real clients (HTTP API and bus) or in-process.

A channel carries the actions of the people the demo plays:

- :class:`ApiChannel` is what ``sharehub demo`` uses: each person has an API key,
  hub staff and advisors call the HTTP API, and agency systems raise and
  acknowledge either over HTTP or on their bus intake subjects, in turn;
- :class:`DirectChannel` calls the share-request service in-process, for the
  benchmarks, which measure the workflow rather than HTTP.

Both read what agencies are told from their JetStream subjects
(:class:`AgencyInbox`), as agency systems do: with each agency's own bus
credential, through the consumers sharehub keeps for it, when the demo has them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

import httpx
import nats
from nats.aio.client import Client as NATSClient
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError

from events.envelope import Actor
from events.postgres import PostgresEventStore
from workers.bus.identities import BusCredentials, agency_connect_options
from workers.bus.intake.messages import (
    IntakeAcknowledgement,
    IntakeOutcome,
    IntakeRaise,
    IntakeReply,
)
from workers.bus.jetstream import ensure_stream
from workers.bus.notices import DUPLICATE_WINDOW
from workers.bus.streams import (
    AGENCIES_STREAM,
    AGENCIES_SUBJECTS,
    REPLIES_STREAM,
    REPLIES_SUBJECTS,
    acknowledgements_subject,
    agency_notices_consumer,
    agency_replies_consumer,
    requests_subject,
)
from workers.hub.clients import ApiClients
from workers.hub.share_requests import (
    ActionRejected,
    HubAction,
    RequestRejected,
    ShareRequestService,
    ShareRequestSubmission,
)
from workflows.activities import AgencyNotice
from workflows.models import (
    AcknowledgeDisclosure,
    ActionResult,
    Close,
    GiveAdvice,
    Participant,
    RaiseShareRequest,
    RecordDecision,
    RecordFamilyStep,
    Role,
    SeekAdvice,
    SignOff,
    Triage,
    Withdraw,
)
from workflows.policy import DataSharingAgreement

_POLL_SECONDS = 0.05


@dataclass
class AgencyInbox:
    """Every notice on the agencies' subjects since the demo began, by request.

    With ``bus_seeds`` (an agency's bus credential by agency id), each agency
    reads as its system would: connected with its own credential, fetching from
    the durable consumers sharehub keeps for it (its notices; with ``replies``,
    the answers to its bus intake). Without, one push consumer over
    ``sharehub.agency.>`` stands in for them all (the benchmarks, on a NATS that
    lets anyone in; ``connect_options`` say who connects). Either way it checks
    that each notice arrived on the subject of the agency it names.
    """

    nats_url: str
    subject_of: dict[str, str]
    replies: bool = False
    bus_seeds: dict[str, str] | None = None
    connect_options: dict[str, Any] = field(default_factory=dict)
    received: dict[UUID, list[AgencyNotice]] = field(default_factory=lambda: defaultdict(list))
    # time.monotonic() when each notice arrived, by notice id (for the benchmarks)
    arrived_at: dict[UUID, float] = field(default_factory=dict)
    answers: dict[str, IntakeReply] = field(default_factory=dict)  # by Nats-Msg-Id
    misdelivered: list[str] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[AgencyInbox]:
        if self.bus_seeds is not None:
            async with self._listening_as_each_agency(self.bus_seeds):
                yield self
            return
        client = await nats.connect(self.nats_url, **self.connect_options)
        try:
            streams = client.jetstream()
            await ensure_stream(
                streams,
                name=AGENCIES_STREAM,
                subjects=AGENCIES_SUBJECTS,
                description="sharehub: notices to each partner agency on its own subject",
                duplicate_window=DUPLICATE_WINDOW,
            )
            subscriptions = [
                await streams.subscribe(
                    AGENCIES_SUBJECTS,
                    stream=AGENCIES_STREAM,
                    cb=self._on_notice,
                    deliver_policy=DeliverPolicy.NEW,
                )
            ]
            if self.replies:
                subscriptions.append(
                    await streams.subscribe(
                        REPLIES_SUBJECTS,
                        stream=REPLIES_STREAM,
                        cb=self._on_reply,
                        deliver_policy=DeliverPolicy.NEW,
                    )
                )
            yield self
            for subscription in subscriptions:
                await subscription.unsubscribe()
        finally:
            await client.close()

    @contextlib.asynccontextmanager
    async def _listening_as_each_agency(self, seeds: dict[str, str]) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            readers = []
            for agency, seed in seeds.items():
                client = await connect_as_agency(self.nats_url, agency, seed)
                stack.push_async_callback(client.close)
                notices = agency_notices_consumer(agency)
                readers.append(self._read(client, AGENCIES_STREAM, notices, self._on_notice))
                if self.replies:
                    replies = agency_replies_consumer(agency)
                    readers.append(self._read(client, REPLIES_STREAM, replies, self._on_reply))
            tasks = [asyncio.create_task(reader) for reader in readers]
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    async def _read(
        client: NATSClient,
        stream: str,
        consumer: str,
        on_message: Callable[[Msg], Awaitable[None]],
    ) -> None:
        """Fetch from the agency's durable consumer for ever (sharehub's intake creates it
        when it starts: until then, wait)."""
        streams = client.jetstream()
        while True:
            try:
                await streams.consumer_info(stream, consumer)
                break
            except (NotFoundError, nats.errors.TimeoutError, TimeoutError):
                await asyncio.sleep(0.2)
        subscription = await streams.pull_subscribe_bind(consumer, stream=stream)
        while True:
            try:
                batch = await subscription.fetch(100, timeout=1)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            for message in batch:
                await on_message(message)

    async def _on_notice(self, message: Msg) -> None:
        notice = AgencyNotice.model_validate_json(message.data)
        if self.subject_of.get(notice.agency) != message.subject:
            self.misdelivered.append(f"{notice.kind} for {notice.agency} on {message.subject}")
        await message.ack()
        async with self._arrived:
            self.arrived_at.setdefault(notice.notice_id, time.monotonic())
            self.received[notice.request_id].append(notice)
            self._arrived.notify_all()

    async def _on_reply(self, message: Msg) -> None:
        reply = IntakeReply.model_validate_json(message.data)
        await message.ack()
        async with self._arrived:
            if reply.message_id is not None:
                self.answers[reply.message_id] = reply
            self._arrived.notify_all()

    async def wait_for(self, request_id: UUID, kind: str, count: int) -> list[AgencyNotice]:
        def arrived() -> list[AgencyNotice]:
            return [n for n in self.received[request_id] if n.kind == kind]

        async with self._arrived:
            await self._arrived.wait_for(lambda: len(arrived()) >= count)
        return arrived()

    async def answer_to(self, message_id: str) -> IntakeReply:
        async with self._arrived:
            await self._arrived.wait_for(lambda: message_id in self.answers)
        return self.answers[message_id]


class Channel(Protocol):
    """What the demo's people do, however it reaches sharehub."""

    async def raise_request(self, request: RaiseShareRequest, *, turn: int) -> UUID: ...

    async def act(self, request_id: UUID, action: HubAction, *, turn: int) -> ActionResult | None:
        """The workflow's answer; ``None`` when it came over the bus (accepted, no stage)."""
        ...

    async def advice_id(self, request_id: UUID) -> UUID: ...


class DirectChannel:
    """The share-request service, in-process (no HTTP, no bus intake)."""

    def __init__(self, service: ShareRequestService) -> None:
        self._service = service

    async def raise_request(self, request: RaiseShareRequest, *, turn: int) -> UUID:
        await self._service.raise_request(request)
        return request.request_id

    async def act(self, request_id: UUID, action: HubAction, *, turn: int) -> ActionResult | None:
        return await self._service.act(request_id, action)

    async def advice_id(self, request_id: UUID) -> UUID:
        (advice,) = await self._service.advice_requests(request_id)
        return advice.advice_id


class ApiChannel:
    """The HTTP API and the bus, each person with a key of their own.

    Odd turns use the bus for what agency systems do (raise, acknowledge); even
    turns use HTTP. A reader of the read models waits for them to catch up, as a
    person would refresh a page: the API's lists follow the log a moment behind.
    """

    _HUB_ROUTES = {
        Triage: "triage",
        SeekAdvice: "advice-requests",
        RecordDecision: "decision",
        SignOff: "sign-off",
        RecordFamilyStep: "family-step",
        Withdraw: "withdrawal",
        Close: "closure",
    }

    def __init__(
        self,
        http: httpx.AsyncClient,
        inbox: AgencyInbox,
        nats_url: str,
        keys: dict[str, str],
        bus_seeds: dict[str, str],
    ) -> None:
        self._http = http
        self._inbox = inbox
        self._nats_url = nats_url
        self._keys = keys  # person id -> API key
        self._bus_seeds = bus_seeds  # agency id -> its bus credential
        self._bus: dict[str, NATSClient] = {}

    @classmethod
    async def enrol(
        cls,
        store: PostgresEventStore,
        policy: DataSharingAgreement,
        people: list[Participant],
        *,
        enrolled_by: Actor,
    ) -> tuple[dict[str, str], dict[str, str]]:
        """An API key for each person the demo plays (recorded like any other), and a bus
        credential for each agency's system (with its first agency client): keys by
        person id, bus seeds by agency id."""
        clients = ApiClients(store)
        credentials = BusCredentials(store)
        keys: dict[str, str] = {}
        seeds: dict[str, str] = {}
        for person in people:
            client, key = await clients.create(
                name=person.id,
                role=person.role,
                agency=person.agency,
                policy=policy,
                created_by=enrolled_by,
                # Names are unique: a second demo run gives each person another key.
                another_key=True,
            )
            keys[person.id] = key
            if person.agency is not None and person.agency not in seeds:
                seeds[person.agency] = await credentials.issue(
                    client.client_id, issued_by=enrolled_by
                )
        return keys, seeds

    @contextlib.asynccontextmanager
    async def connected(self) -> AsyncIterator[ApiChannel]:
        try:
            for agency, seed in self._bus_seeds.items():
                self._bus[agency] = await connect_as_agency(self._nats_url, agency, seed)
            yield self
        finally:
            for client in self._bus.values():
                await client.close()

    async def raise_request(self, request: RaiseShareRequest, *, turn: int) -> UUID:
        referrer = request.referrer
        assert referrer.agency is not None
        submission = ShareRequestSubmission(
            raised_by=referrer.id,
            **request.model_dump(include=set(ShareRequestSubmission.model_fields) - {"raised_by"}),
        )
        if turn % 2:
            body = IntakeRaise(request_id=request.request_id, submission=submission)
            await self._on_bus(
                referrer.agency, requests_subject(referrer.agency), body, str(request.request_id)
            )
            return request.request_id
        answer = await self._call(
            "POST",
            "/v1/share-requests",
            referrer,
            json=submission.model_dump(mode="json"),
            headers={"Idempotency-Key": f"demo-{request.request_id}"},
        )
        return UUID(answer["request_id"])

    async def act(self, request_id: UUID, action: HubAction, *, turn: int) -> ActionResult | None:
        actor = action.actor
        body = action.model_dump(mode="json", exclude={"actor"})
        if isinstance(action, AcknowledgeDisclosure):
            return await self._acknowledge(request_id, action, turn=turn)
        if isinstance(action, GiveAdvice):
            path = f"/v1/advice-requests/{action.advice_id}/advice"
            await self._call("POST", path, actor, json={"advice": action.advice})
            return None  # an advisor is not told the request's stage
        if actor.role is Role.AGENCY:  # the referrer withdrawing its request
            path = f"/v1/share-requests/{request_id}/withdrawal"
        else:
            if isinstance(action, Triage):  # the officer opens the request to rate it
                await self._until_listed(f"/v1/hub/share-requests/{request_id}", actor)
            path = f"/v1/hub/share-requests/{request_id}/{self._HUB_ROUTES[type(action)]}"
        answer = await self._call("POST", path, actor, json=body or None)
        return ActionResult.model_validate(answer)

    async def advice_id(self, request_id: UUID) -> UUID:
        """The officer's view of the request lists the advice request it sought."""
        officer = next(p for p in self._people() if p.role is Role.HUB_OFFICER)
        while True:
            view = await self._call("GET", f"/v1/hub/share-requests/{request_id}", officer)
            if view["advice"]:
                return UUID(view["advice"][-1]["advice_id"])
            await asyncio.sleep(_POLL_SECONDS)

    async def _acknowledge(
        self, request_id: UUID, action: AcknowledgeDisclosure, *, turn: int
    ) -> ActionResult | None:
        agency = action.actor.agency
        assert agency is not None
        if turn % 2:
            body = IntakeAcknowledgement(
                request_id=request_id,
                disclosure_id=action.disclosure_id,
                acknowledged_by=action.actor.id,
            )
            await self._on_bus(
                agency, acknowledgements_subject(agency), body, f"ack-{action.disclosure_id}"
            )
            return None
        path = f"/v1/disclosures/{action.disclosure_id}"
        await self._until_listed(path, action.actor)  # read it, then acknowledge
        answer = await self._call("POST", f"{path}/acknowledgement", action.actor)
        return ActionResult.model_validate(answer)

    async def _on_bus(
        self,
        agency: str,
        subject: str,
        body: IntakeRaise | IntakeAcknowledgement,
        message_id: str,
    ) -> None:
        """Publish as ``agency``'s system, with its own credential."""
        await (
            self._bus[agency]
            .jetstream()
            .publish(subject, body.model_dump_json().encode(), headers={"Nats-Msg-Id": message_id})
        )
        answer = await self._inbox.answer_to(message_id)
        if answer.outcome is not IntakeOutcome.ACCEPTED:
            refused = "; ".join(answer.reasons) or answer.detail
            if isinstance(body, IntakeRaise):
                raise RequestRejected([refused])
            raise ActionRejected(refused)

    async def _until_listed(self, path: str, person: Participant) -> None:
        """Wait until ``path`` answers (the read models have caught up)."""
        # Polls, as a person refreshing the page would: the API pushes nothing.
        while (await self._http.get(path, headers=self._auth(person))).status_code == 404:  # noqa: ASYNC110
            await asyncio.sleep(_POLL_SECONDS)

    async def _call(
        self,
        method: str,
        path: str,
        person: Participant,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = await self._http.request(
            method, path, json=json, headers={**self._auth(person), **(headers or {})}
        )
        if response.status_code >= 400:
            problem = response.json()
            raise ActionRejected(
                f"{method} {path} as {person.id}: {response.status_code} "
                f"{problem.get('type', '')}: {problem.get('detail', response.text)}"
            )
        answer: dict[str, Any] = response.json()
        return answer

    def _auth(self, person: Participant) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._keys[person.id]}"}

    def _people(self) -> list[Participant]:
        return [p for p in DEMO_STAFF if p.id in self._keys]


async def connect_as_agency(
    url: str, agency: str, seed: str, *, within: float = 15.0
) -> NATSClient:
    """A connection with ``agency``'s credential, once the server lets it in: a credential
    just issued is in force once the server has reloaded, a moment later."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within

    async def quietly(error: Exception) -> None:
        """Refusals are retried here; what still fails is raised below."""

    while True:
        try:
            return await nats.connect(
                url,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                error_cb=quietly,
                **agency_connect_options(agency, seed),
            )
        except Exception:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.2)


DEMO_STAFF = [
    Participant(id="demo-officer-reid", role=Role.HUB_OFFICER),
    Participant(id="demo-manager-aziz", role=Role.HUB_MANAGER),
    Participant(id="demo-ig-lead-park", role=Role.IG_ADVISOR),
]
