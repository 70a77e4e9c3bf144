"""Bus intake's JetStream consumers: each message handled, answered, retried or dead-lettered.

:class:`BusIntake` subscribes to the intake subjects of every agency, checks the
sender against the agreement, calls the share-request service, and answers each
message on the agency's replies subject; a message that keeps failing for
reasons of ours is copied to the dead letters. The promises it keeps are the
package's (:mod:`workers.bus.intake`); the messages are
:mod:`workers.bus.intake.messages`'.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol, cast
from uuid import UUID

from faststream import Path
from faststream._internal.basic_types import AsyncFuncAny
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy, BaseMiddleware
from faststream.nats import JStream, NatsBroker, NatsMessage, NatsRouter, PullSub
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError
from pydantic import BaseModel, ValidationError
from temporalio.service import RPCError

from workers.bus.intake.messages import (
    DeadLetter,
    IntakeAcknowledgement,
    IntakeKind,
    IntakeOutcome,
    IntakeRaise,
    IntakeReply,
)
from workers.bus.jetstream import ensure_agency_consumers, ensure_stream
from workers.bus.streams import (
    ACKNOWLEDGEMENTS_SUBJECTS,
    AGENCIES_STREAM,
    AGENCIES_SUBJECTS,
    DEAD_LETTERS_STREAM,
    DEAD_LETTERS_SUBJECTS,
    INTAKE_STREAM,
    REPLIES_STREAM,
    REPLIES_SUBJECTS,
    REQUESTS_SUBJECTS,
    acknowledgements_subject,
    dead_letter_subject,
    replies_subject,
    requests_subject,
)
from workers.hub.share_requests import (
    RequestAlreadyRaised,
    RequestRejected,
    ShareRequestServiceError,
)
from workers.hub.submissions import RequestIdTaken
from workflows.models import (
    AcknowledgeDisclosure,
    ActionResult,
    Disclosure,
    Participant,
    RaiseShareRequest,
    Role,
)
from workflows.policy import DataSharingAgreement
from workflows.raising import raise_problems

logger = logging.getLogger(__name__)


# Like the other streams': an agency's retried publish is recognised for an hour.
DUPLICATE_WINDOW = timedelta(hours=1)
# Long enough for operators to look, short enough not to hoard children's details.
DEAD_LETTER_MAX_AGE = timedelta(days=14)
REQUESTS_CONSUMER = "sharehub-intake-requests"
ACKNOWLEDGEMENTS_CONSUMER = "sharehub-intake-acknowledgements"
# Headers of a dead letter. Its body is a DeadLetter: the message's ids and why it failed,
# never the message itself, which may hold a child's details.
DEAD_LETTER_REASON = "Sharehub-Dead-Letter-Reason"
DEAD_LETTER_SUBJECT = "Sharehub-Intake-Subject"
DEAD_LETTER_SEQUENCE = "Sharehub-Intake-Sequence"
DEAD_LETTER_DELIVERIES = "Sharehub-Deliveries"
# The subscribers' and publishers' subjects, with the agency as a FastStream path
# parameter: also the channel addresses of the AsyncAPI document.
_AGENCY_PATH = "{agency}"

_MODELS: dict[IntakeKind, type[BaseModel]] = {
    IntakeKind.REQUEST: IntakeRaise,
    IntakeKind.ACKNOWLEDGEMENT: IntakeAcknowledgement,
}
_KINDS = {"requests": IntakeKind.REQUEST, "acknowledgements": IntakeKind.ACKNOWLEDGEMENT}


# --- what the intake calls -------------------------------------------------------------


class IntakeService(Protocol):
    """What the intake needs of :class:`~workers.hub.share_requests.ShareRequestService`."""

    @property
    def policy(self) -> DataSharingAgreement: ...

    async def raise_request(self, request: RaiseShareRequest) -> ActionResult: ...

    async def act(self, request_id: UUID, action: AcknowledgeDisclosure) -> ActionResult: ...

    async def disclosures(self, request_id: UUID) -> list[Disclosure]: ...


class RaisedRequests(Protocol):
    """What a request id was first raised with, to tell a duplicate from a clash
    (:class:`~workers.bus.intake.serving.TemporalRaisedRequests` reads Temporal)."""

    async def first_raised(self, request_id: UUID) -> RaiseShareRequest:
        """What the request with this id was raised with."""
        ...


class RequestIds(Protocol):
    """Whose each request id is (:class:`~workers.hub.submissions.RequestIdOwners`)."""

    async def own(self, request_id: UUID, *, agency: str) -> None:
        """Make the id ``agency``'s; :class:`RequestIdTaken` if it is another agency's."""
        ...


# --- the intake ------------------------------------------------------------------------


class _Answered(Exception):
    """Raised inside a handler's work to answer ``rejected`` with these reasons."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class BusIntake:
    """The intake subscribers, on a broker of their own.

    Example::

        intake = BusIntake(
            service,
            TemporalRaisedRequests(client),
            request_ids=RequestIdOwners(store),
            broker=NatsBroker(url),
        )
        await intake.start()  # streams ensured, consumers running
        ...
        await intake.stop()

    Args:
        service: raises requests and passes acknowledgements to their workflows.
        raised_requests: what a request id was first raised with (for duplicates).
        request_ids: whose each request id is: an id another agency raised (or
            another door of sharehub derived for it) is refused, never raised.
        broker: a FastStream NATS broker the intake alone uses; ``start`` connects
            it and ``stop`` closes it.
        max_deliver: deliveries of a transiently failing message before it is
            dead-lettered.
        first_redelivery_delay: seconds before the first redelivery; doubled at
            each further one, up to ``max_redelivery_delay``.
        call_timeout: seconds a call to the service may take before it counts as
            a transient failure.
    """

    def __init__(
        self,
        service: IntakeService,
        raised_requests: RaisedRequests,
        *,
        request_ids: RequestIds,
        broker: NatsBroker,
        max_deliver: int = 10,
        first_redelivery_delay: float = 1.0,
        max_redelivery_delay: float = 60.0,
        call_timeout: float = 30.0,
        publish_timeout: float = 5.0,
    ) -> None:
        if max_deliver < 1:
            raise ValueError("max_deliver must be at least 1")
        self._service = service
        self._raised_requests = raised_requests
        self._request_ids = request_ids
        self._broker = broker
        self._max_deliver = max_deliver
        self._first_delay = first_redelivery_delay
        self._max_delay = max_redelivery_delay
        self._call_timeout = call_timeout
        self._publish_timeout = publish_timeout
        self._stream_epoch = ""
        router = NatsRouter(middlewares=(self._answer_unreadable_bodies,))
        stream = JStream(INTAKE_STREAM, declare=False)  # start() creates it, as we need it
        # A message may wait out a call_timeout and the reply's publish: JetStream
        # must not redeliver it meanwhile. Redelivery after a failure is ours to
        # count (see _handle), so the server's own limit stays unlimited.
        ack_wait = call_timeout + 2 * publish_timeout + 10
        router.subscriber(
            requests_subject(_AGENCY_PATH),
            stream=stream,
            pull_sub=PullSub(batch_size=10, timeout=1.0),
            durable=REQUESTS_CONSUMER,  # intakes in other processes share the work
            config=ConsumerConfig(ack_wait=ack_wait, max_deliver=-1),
            ack_policy=AckPolicy.MANUAL,
            no_reply=True,  # answers go to the agency's replies subject, nowhere else
            title="intake-requests",
        )(self.raise_request)
        router.subscriber(
            acknowledgements_subject(_AGENCY_PATH),
            stream=stream,
            pull_sub=PullSub(batch_size=10, timeout=1.0),
            durable=ACKNOWLEDGEMENTS_CONSUMER,
            config=ConsumerConfig(ack_wait=ack_wait, max_deliver=-1),
            ack_policy=AckPolicy.MANUAL,
            no_reply=True,
            title="intake-acknowledgements",
        )(self.acknowledge_disclosure)
        self._replies = router.publisher(
            replies_subject(_AGENCY_PATH),
            schema=IntakeReply,
            title="intake-replies",
            description="The answer to every intake message of the agency: accepted, or "
            "rejected with the reasons.",
        )
        self._dead_letters = router.publisher(
            dead_letter_subject(_AGENCY_PATH),
            schema=DeadLetter,
            title="intake-dead-letters",
            description="For the hub's operators: which intake message kept failing "
            "transiently and why (its ids and the reason, never its body), with the headers "
            f"{DEAD_LETTER_REASON}, {DEAD_LETTER_SUBJECT}, {DEAD_LETTER_SEQUENCE} and "
            f"{DEAD_LETTER_DELIVERIES}.",
        )
        broker.include_router(router)

    async def start(self) -> None:
        """Connect, create or widen the streams, start both consumers."""
        await self._broker.connect()
        streams = self._broker.connection.jetstream()
        # Where answers go first: once agencies can publish, their answers have a home.
        await _ensure_stream(
            streams,
            StreamConfig(
                name=REPLIES_STREAM,
                description="sharehub: the answer to each agency's intake messages",
                subjects=[REPLIES_SUBJECTS],
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW.total_seconds(),
            ),
        )
        await _ensure_stream(
            streams,
            StreamConfig(
                name=DEAD_LETTERS_STREAM,
                description="sharehub: intake messages that kept failing, for operators",
                subjects=[DEAD_LETTERS_SUBJECTS],
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW.total_seconds(),
                max_age=DEAD_LETTER_MAX_AGE.total_seconds(),
            ),
        )
        await _ensure_stream(
            streams,
            StreamConfig(
                name=INTAKE_STREAM,
                description="sharehub: share requests and acknowledgements from agencies",
                subjects=[REQUESTS_SUBJECTS, ACKNOWLEDGEMENTS_SUBJECTS],
                # A message leaves the stream once answered: the intake holds
                # children's details only while it has to.
                retention=RetentionPolicy.WORK_QUEUE,
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW.total_seconds(),
            ),
        )
        # What each agency reads with its own credential: its notices and its answers.
        await ensure_stream(
            streams,
            name=AGENCIES_STREAM,
            subjects=AGENCIES_SUBJECTS,
            description="sharehub: notices to each partner agency on its own subject",
            duplicate_window=DUPLICATE_WINDOW,
        )
        await ensure_agency_consumers(streams, self._service.policy)
        # Intake sequences restart if the stream is ever re-created; the creation
        # time keeps our replies' message ids (de-duplicated) from colliding.
        created = (await streams.stream_info(INTAKE_STREAM)).created
        self._stream_epoch = created.isoformat() if created else ""
        await self._broker.start()
        logger.info(
            "bus intake listening on %s and %s", REQUESTS_SUBJECTS, ACKNOWLEDGEMENTS_SUBJECTS
        )

    async def stop(self) -> None:
        """Stop consuming; an unanswered message is redelivered to the next intake."""
        await self._broker.stop()

    # --- the handlers (their signatures are the AsyncAPI document's schemas) ---------

    async def raise_request(
        self, body: IntakeRaise, message: NatsMessage, agency: str = Path()
    ) -> None:
        """Raise a share request for the subject's agency; answered on its replies subject."""

        async def work() -> IntakeReply:
            self._check_sender(agency)
            request = body.submission.as_request(request_id=body.request_id, agency=agency)
            problems = raise_problems(request, self._service.policy)
            if problems:  # before the id is taken: a refused raise may use it again
                raise _Answered(problems)
            try:
                await self._request_ids.own(body.request_id, agency=agency)
            except RequestIdTaken as e:
                raise _Answered([str(e)]) from e
            try:
                await self._service.raise_request(request)
            except RequestRejected as e:
                raise _Answered(e.problems) from e
            except RequestAlreadyRaised:
                if await self._raised_requests.first_raised(body.request_id) != request:
                    raise _Answered(
                        [
                            f"request id {body.request_id} was already used for a different "
                            "request; choose a new id"
                        ]
                    ) from None
                return self._accepted(message, IntakeKind.REQUEST, body, "already raised")
            return self._accepted(message, IntakeKind.REQUEST, body, "raised")

        await self._handle(message, agency, IntakeKind.REQUEST, body, work)

    async def acknowledge_disclosure(
        self, body: IntakeAcknowledgement, message: NatsMessage, agency: str = Path()
    ) -> None:
        """Acknowledge a disclosure sent to the subject's agency."""

        async def work() -> IntakeReply:
            self._check_sender(agency)
            actor = Participant(id=body.acknowledged_by, role=Role.AGENCY, agency=agency)
            action = AcknowledgeDisclosure(actor=actor, disclosure_id=body.disclosure_id)
            try:
                await self._service.act(body.request_id, action)
            except ShareRequestServiceError as e:
                if await self._already_acknowledged(body, agency):
                    return self._accepted(
                        message, IntakeKind.ACKNOWLEDGEMENT, body, "already acknowledged"
                    )
                raise _Answered([str(e)]) from e
            return self._accepted(message, IntakeKind.ACKNOWLEDGEMENT, body, "acknowledged")

        await self._handle(message, agency, IntakeKind.ACKNOWLEDGEMENT, body, work)

    # --- answering -------------------------------------------------------------------

    async def _handle(
        self,
        message: NatsMessage,
        agency: str,
        kind: IntakeKind,
        body: IntakeRaise | IntakeAcknowledgement,
        work: Callable[[], Awaitable[IntakeReply]],
    ) -> None:
        """Answer the message and ack it; or nak it for later; or dead-letter it."""
        deliveries = message.raw_message.metadata.num_delivered
        try:
            if deliveries > self._max_deliver:
                # Earlier deliveries ended without an answer (a crash, a hang):
                # do not let a message that kills its consumer loop for ever.
                await self._dead_letter(
                    message, agency, kind, body, f"delivered {deliveries} times without an answer"
                )
                return
            try:
                async with asyncio.timeout(self._call_timeout):
                    reply = await work()
            except _Answered as rejection:
                reply = self._rejected(message, kind, body, rejection.reasons)
            except Exception as error:  # the service or its servers failed: try again later
                reason = _transient_reason(error)
                if deliveries >= self._max_deliver:
                    await self._dead_letter(message, agency, kind, body, reason)
                    return
                delay = min(self._first_delay * 2 ** (deliveries - 1), self._max_delay)
                logger.warning(
                    "%s %s from %s failed (%s), delivery %d of %d; retrying in %.1f s",
                    kind,
                    body.request_id,
                    agency,
                    reason,
                    deliveries,
                    self._max_deliver,
                    delay,
                )
                await message.nack(delay=delay)
                return
            await self._reply(agency, reply)
            await message.ack()
        except Exception as error:
            await self._answer_on_redelivery(message, agency, kind, error)

    async def _answer_on_redelivery(
        self, message: NatsMessage, agency: str, kind: IntakeKind, error: Exception
    ) -> None:
        """Publishing the answer failed (NATS going away): it is redelivered and
        answered then; the work itself is idempotent."""
        logger.warning("cannot answer %s from %s (%r); it will be redelivered", kind, agency, error)
        with contextlib.suppress(Exception):
            await message.nack(delay=self._first_delay)

    def _check_sender(self, agency: str) -> None:
        policy = self._service.policy
        known = policy.agency(agency)
        agreement = f"data sharing agreement {policy.id} v{policy.version}"
        if known is None:
            raise _Answered([f"{agency} is not a party to the {agreement}"])
        if not known.signatory:
            raise _Answered([f"{agency} is not a signatory of the {agreement}"])

    async def _already_acknowledged(self, body: IntakeAcknowledgement, agency: str) -> bool:
        """Whether a refused acknowledgement is one that was already made (a duplicate)."""
        try:
            disclosures = await self._service.disclosures(body.request_id)
        except ShareRequestServiceError:
            return False
        return any(
            d.disclosure_id == body.disclosure_id and d.agency == agency and d.acknowledged
            for d in disclosures
        )

    def _accepted(
        self,
        message: NatsMessage,
        kind: IntakeKind,
        body: IntakeRaise | IntakeAcknowledgement,
        detail: str,
    ) -> IntakeReply:
        return self._answer(message, kind, body, IntakeOutcome.ACCEPTED, detail, [])

    def _rejected(
        self,
        message: NatsMessage,
        kind: IntakeKind,
        body: IntakeRaise | IntakeAcknowledgement | None,
        reasons: list[str],
    ) -> IntakeReply:
        return self._answer(message, kind, body, IntakeOutcome.REJECTED, "rejected", reasons)

    def _answer(
        self,
        message: NatsMessage,
        kind: IntakeKind,
        body: IntakeRaise | IntakeAcknowledgement | dict[str, Any] | None,
        outcome: IntakeOutcome,
        detail: str,
        reasons: list[str],
    ) -> IntakeReply:
        if isinstance(body, BaseModel):
            ids = body.model_dump(include={"request_id", "disclosure_id"})
        else:
            ids = body or {}
        return IntakeReply(
            answers=kind,
            outcome=outcome,
            request_id=ids.get("request_id"),
            disclosure_id=ids.get("disclosure_id"),
            detail=detail,
            reasons=reasons,
            intake_subject=message.raw_message.subject,
            intake_sequence=message.raw_message.metadata.sequence.stream,
            message_id=(message.headers or {}).get("Nats-Msg-Id"),
        )

    async def _reply(self, agency: str, reply: IntakeReply) -> None:
        if reply.outcome is IntakeOutcome.ACCEPTED:
            logger.info("%s %s from %s: %s", reply.answers, reply.request_id, agency, reply.detail)
        else:
            logger.info(
                "%s %s from %s rejected: %s",
                reply.answers,
                reply.request_id,
                agency,
                "; ".join(reply.reasons),
            )
        # The same id for the same intake message: an answer re-sent after a crash
        # between answering and acking is dropped by JetStream.
        await self._replies.publish(
            reply.model_dump_json().encode(),
            subject=replies_subject(agency),
            stream=REPLIES_STREAM,
            headers={
                "Nats-Msg-Id": f"reply:{self._stream_epoch}:{reply.intake_sequence}",
                "content-type": "application/json",
            },
            timeout=self._publish_timeout,
        )

    async def _dead_letter(
        self,
        message: NatsMessage,
        agency: str,
        kind: IntakeKind,
        body: IntakeRaise | IntakeAcknowledgement,
        reason: str,
    ) -> None:
        raw = message.raw_message
        deliveries = raw.metadata.num_delivered
        sequence = raw.metadata.sequence.stream
        logger.error(
            "%s %s from %s dead-lettered after %d deliveries: %s",
            kind,
            body.request_id,
            agency,
            deliveries,
            reason,
        )
        letter = DeadLetter(
            answers=kind,
            request_id=body.request_id,
            disclosure_id=getattr(body, "disclosure_id", None),
            reason=reason,
            intake_subject=raw.subject,
            intake_sequence=sequence,
            deliveries=deliveries,
            message_id=(message.headers or {}).get("Nats-Msg-Id"),
        )
        await self._dead_letters.publish(
            letter.model_dump_json().encode(),
            subject=dead_letter_subject(agency),
            stream=DEAD_LETTERS_STREAM,
            headers={
                "content-type": "application/json",
                "Nats-Msg-Id": f"dead-letter:{self._stream_epoch}:{sequence}",
                DEAD_LETTER_REASON: _header_value(reason),
                DEAD_LETTER_SUBJECT: raw.subject,
                DEAD_LETTER_SEQUENCE: str(sequence),
                DEAD_LETTER_DELIVERIES: str(deliveries),
            },
            timeout=self._publish_timeout,
        )
        await self._reply(
            agency,
            self._rejected(
                message,
                kind,
                body,
                [
                    f"not processed after {deliveries} deliveries ({reason}); the message is "
                    "kept for the hub's operators: send it again later or contact the hub"
                ],
            ),
        )
        await message.ack()

    async def _answer_unreadable(self, message: NatsMessage) -> bool:
        """Reject a message whose body FastStream could not give the handler.

        False if the body is fine after all: then the failure was something
        else, and is not ours to answer here.
        """
        subject = message.raw_message.subject
        _, _, agency, kind_name = subject.split(".")
        kind = _KINDS[kind_name]
        try:
            _MODELS[kind].model_validate_json(message.raw_message.data)
        except ValidationError as error:
            reasons = _field_errors(error)
        else:
            return False
        ids = _ids_in(message.raw_message.data)
        reply = self._answer(message, kind, ids, IntakeOutcome.REJECTED, "rejected", reasons)
        try:
            await self._reply(agency, reply)
            await message.ack()
        except Exception as error:
            await self._answer_on_redelivery(message, agency, kind, error)
        return True

    def _answer_unreadable_bodies(self, msg: Any, /, *, context: Any) -> BaseMiddleware[Any, Any]:
        """The router's middleware (a factory FastStream calls once per message)."""
        return _UnreadableBodiesAnswered(msg, context=context, intake=self)


class _UnreadableBodiesAnswered(BaseMiddleware[Any, Any]):
    """FastStream decodes and validates the body before the handler runs; a body
    that is not JSON or does not fit the model fails there, outside the handler."""

    def __init__(self, msg: Any, /, *, context: Any, intake: BusIntake) -> None:
        super().__init__(msg, context=context)
        self._intake = intake

    async def consume_scope(self, call_next: AsyncFuncAny, msg: StreamMessage[Any]) -> Any:
        try:
            return await call_next(msg)
        except ValueError:  # pydantic's ValidationError, or JSON that does not parse
            if await self._intake._answer_unreadable(cast(NatsMessage, msg)):
                return None
            raise


async def _ensure_stream(streams: JetStreamContext, config: StreamConfig) -> None:
    """Create the stream as configured, or widen an existing one (keeping its settings)."""
    assert config.name is not None and config.subjects
    try:
        await streams.stream_info(config.name)
    except NotFoundError:
        try:
            await streams.add_stream(config)
        except BadRequestError as error:
            # Fine if another intake created it meanwhile; otherwise, say why not.
            try:
                await streams.stream_info(config.name)
            except NotFoundError:
                raise error from None
    for subjects in config.subjects:
        await ensure_stream(
            streams,
            name=config.name,
            subjects=subjects,
            description=config.description or "",
            duplicate_window=timedelta(seconds=config.duplicate_window),
        )


def _ids_in(data: bytes) -> dict[str, UUID]:
    """The ids an unreadable message seems to carry, so the agency can tell which it was."""
    try:
        parsed = json.loads(data)
    except ValueError:
        return {}
    ids = {}
    for name in ("request_id", "disclosure_id"):
        with contextlib.suppress(ValueError, TypeError, KeyError):
            ids[name] = UUID(str(parsed[name]))
    return ids


def _field_errors(error: ValidationError) -> list[str]:
    """Where and what, never the value: a field may hold a child's details."""
    reasons = []
    for problem in error.errors(include_url=False, include_input=False, include_context=False):
        location = ".".join(str(part) for part in problem["loc"])
        if problem["type"] == "json_invalid":
            reasons.append(f"the message is not valid JSON ({problem['msg']})")
        else:
            reasons.append(f"{location}: {problem['msg']}" if location else problem["msg"])
    return reasons


def _transient_reason(error: Exception) -> str:
    if isinstance(error, TimeoutError):
        return "the share-request service did not answer in time"
    if isinstance(error, RPCError):
        return f"Temporal: {error.status.name} {error.message}"
    # Only the type: an unexpected error's text might quote a request's details.
    return f"unexpected {type(error).__name__}"


def _header_value(text: str) -> str:
    return " ".join(text.split())[:500]
