"""Operator commands: raise a request from a file, the hub's queue, a request in full, and
every hub action, through the same services, role rules and access log as the HTTP API.

Who acts is the person or agency system whose API key the command is given
(``--key`` or ``SHAREHUB_API_KEY``; ``sharehub keys create`` makes one). ``raise``
needs an agency key; ``queue``, ``show`` and the actions a hub officer's or hub
manager's (:mod:`workers.hub.permissions`). Raising goes through
:class:`~workers.hub.share_requests.ShareRequestService` as ``POST /v1/share-requests``
does, idempotency keys included; each action answers with the workflow
validator's verdict; ``show`` reads through :class:`~workers.hub.records.Records`,
which records ``RecordViewed`` in the request's access log.

Exit status: 0 done; 1 refused (the key's role, the data sharing agreement or the
workflow's rules; nothing was recorded); 2 something to put right in the command
(no key or an invalid one, an unknown request, a body that is not valid, no stack).

Only ``show`` prints personal data: to hub staff, whose purpose it is to see it.
Errors name the field that is wrong, never what it holds. The tables and the JSON
are drawn by :mod:`workers.cli.operator_views`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from uuid import UUID

import typer

from workers.cli import operator_views

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

    from workers.hub.clients import ApiClient
    from workers.hub.context import HubContext
    from workers.hub.permissions import Work
    from workers.hub.share_requests import HubAction, ShareRequestSubmission

    Body = TypeVar("Body", bound=BaseModel)

# Commands are imported by `sharehub --help` and every other command: everything
# beyond typer is imported inside them, as in workers.cli.
operator_app = typer.Typer()
_PANEL = "Operators (need an API key)"
# How long `raise` waits for the worker to record the request before answering.
_RECORDING_WAIT_SECONDS = 10.0

ApiKey = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar="SHAREHUB_API_KEY",
        show_default=False,
        help="Your API key (shk_…), as `sharehub keys create` printed it.",
    ),
]
RequestId = Annotated[str, typer.Argument(help="The share request's id.", show_default=False)]


class OperatorError(Exception):
    """What to tell the operator, and the exit status that goes with it."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _bad_input(message: str) -> OperatorError:
    return OperatorError(message, 2)


# ----------------------------------------------------------------------- agencies


@operator_app.command("raise", rich_help_panel=_PANEL)
def raise_request(
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            "-f",
            help="The share request as JSON: the body of POST /v1/share-requests "
            "(`-` reads standard input).",
        ),
    ],
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            help="Repeat the raise safely: the same key and file give the first request "
            "id again; the same key with another file is refused."
        ),
    ] = None,
    key: ApiKey = None,
) -> None:
    """Raise a share request as the key's agency; print its id once it is recorded."""
    from workers.hub.permissions import Work
    from workers.hub.share_requests import ShareRequestSubmission

    async def main() -> None:
        submission = _body_from_file(file, ShareRequestSubmission, "share request")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
            raise _bad_input("--idempotency-key: 1 to 200 characters")
        async with _desk(key, Work.RAISE_REQUESTS) as (hub, agency):
            request_id, replayed = await _raise(hub, agency, submission, idempotency_key)
            recorded = replayed or await _recorded(hub, request_id)
        if replayed:
            operator_views.note(
                f"already raised with this idempotency key: share request {request_id}"
            )
        elif recorded:
            operator_views.note(f"raised share request {request_id} for {agency.agency}")
        else:
            operator_views.note(
                f"raised share request {request_id}; no worker has recorded it yet "
                "(is `sharehub worker` running?)"
            )
        typer.echo(str(request_id))

    _run(main)


async def _raise(
    hub: HubContext,
    agency: ApiClient,
    submission: ShareRequestSubmission,
    idempotency_key: str | None,
) -> tuple[UUID, bool]:
    """The API's raise; the request id, and whether it was raised before."""
    from workers.hub.submissions import raise_submission

    raised = await raise_submission(
        hub.service,
        hub.store,
        agency=agency,
        submission=submission,
        idempotency_key=idempotency_key,
        id_secret=hub.settings.request_id_secret_bytes(),
    )
    return raised.request_id, raised.replayed


async def _recorded(hub: HubContext, request_id: UUID) -> bool:
    """Whether the worker records the raise soon, so `queue` right after lists it."""
    from events.share_requests import stream_id_for

    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + _RECORDING_WAIT_SECONDS
    while not await hub.store.read_stream(stream_id_for(request_id)):
        if loop.time() > give_up_at:
            return False
        await asyncio.sleep(0.1)
    return True


# ----------------------------------------------------------------------- hub staff: reading


@operator_app.command("queue", rich_help_panel=_PANEL)
def queue(
    stage: Annotated[
        list[str] | None,
        typer.Option(
            "--stage",
            "-s",
            help="Only this stage; repeat for several. Default: every open stage.",
            show_default=False,
        ),
    ] = None,
    rag: Annotated[
        str | None, typer.Option(help="Only this rating: red, amber, green or blue.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 50,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array, the API's queue items.")
    ] = False,
    key: ApiKey = None,
) -> None:
    """The hub's queue: open requests, the least time left first."""
    from workers.hub.permissions import Work
    from workers.hub.records import ACTIVE_STAGES, MAX_PAGE
    from workers.hub.views import QueueItem
    from workflows.models import Stage
    from workflows.policy import RagRating

    async def main() -> None:
        stages = tuple(_choice(Stage, s, "--stage") for s in stage) if stage else ACTIVE_STAGES
        rating = _choice(RagRating, rag, "--rag") if rag is not None else None
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        async with _desk(key, Work.READ_HUB_QUEUE) as (hub, _):
            await hub.projector.catch_up()
            while len(items) < limit:
                page = await hub.records.queue(
                    stages=stages,
                    rag=rating,
                    cursor=cursor,
                    limit=min(MAX_PAGE, limit - len(items)),
                )
                items += page.items
                cursor = page.next_cursor
                if cursor is None:
                    break
        if as_json:
            operator_views.print_json([QueueItem(**item).model_dump(mode="json") for item in items])
            return
        console = operator_views.console()
        console.print(
            operator_views.queue_table(items, more=cursor is not None, width=console.width)
        )

    _run(main)


@operator_app.command("show", rich_help_panel=_PANEL)
def show(
    request_id: RequestId,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object, as the API's view of it.")
    ] = False,
    key: ApiKey = None,
) -> None:
    """A request in full: the child, what was asked, disclosures, advice and the timeline.

    Shows personal data, so the view is recorded in the request's access log.
    """
    from workers.hub.permissions import Work
    from workers.hub.views import HubRequestView

    async def main() -> None:
        parsed = _request_id(request_id)
        async with _desk(key, Work.SEE_REQUEST_IN_FULL) as (hub, staff):
            await hub.projector.catch_up()
            view = await hub.records.request_in_full(parsed, viewer=staff, via="cli show")
        if as_json:
            operator_views.print_json(HubRequestView(**view).model_dump(mode="json"))
            return
        operator_views.print_request(operator_views.console(), view)

    _run(main)


# ----------------------------------------------------------------------- hub staff: actions


@operator_app.command("triage", rich_help_panel=_PANEL)
def triage(
    request_id: RequestId,
    rag: Annotated[str, typer.Option(help="red, amber, green, or blue (no further action).")],
    rationale: Annotated[str, typer.Option(help="Why this rating (a re-rating needs its own).")],
    key: ApiKey = None,
) -> None:
    """Rate a request red, amber, green or blue with the rationale, or re-rate it."""
    from workers.hub.actions import TriageBody
    from workflows.models import Triage

    _act(request_id, key, Triage, TriageBody, {"rag": rag, "rationale": rationale})


@operator_app.command("seek-advice", rich_help_panel=_PANEL)
def seek_advice(
    request_id: RequestId,
    question: Annotated[str, typer.Option(help="What the advisor is asked.")],
    key: ApiKey = None,
) -> None:
    """Ask an information-governance advisor, who sees a pseudonymised packet only."""
    from workers.hub.actions import SeekAdviceBody
    from workflows.models import SeekAdvice

    _act(request_id, key, SeekAdvice, SeekAdviceBody, {"question": question})


@operator_app.command("decide", rich_help_panel=_PANEL)
def decide(
    request_id: RequestId,
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            "-f",
            help="The decision as JSON: the body of POST …/decision, without `actor` "
            "(`-` reads standard input).",
        ),
    ],
    key: ApiKey = None,
) -> None:
    """Record the decision: outcome, lawful basis, reasons, who receives what and why."""
    from workers.hub.actions import DecisionBody
    from workflows.models import RecordDecision

    _act(request_id, key, RecordDecision, DecisionBody, file)


@operator_app.command("sign-off", rich_help_panel=_PANEL)
def sign_off(
    request_id: RequestId,
    comment: Annotated[str | None, typer.Option(help="A comment on the decision.")] = None,
    key: ApiKey = None,
) -> None:
    """A hub manager's second sign-off of a decision that needs one."""
    from workers.hub.actions import SignOffBody
    from workflows.models import SignOff

    _act(request_id, key, SignOff, SignOffBody, _given(comment=comment))


@operator_app.command("family-step", rich_help_panel=_PANEL)
def family_step(
    request_id: RequestId,
    kind: Annotated[str, typer.Option(help="notified, withheld or deferred.")],
    reason: Annotated[
        str | None, typer.Option(help="Why the family is not told (withheld, deferred).")
    ] = None,
    revisit_on: Annotated[
        str | None, typer.Option(help="For a deferral: when to revisit, YYYY-MM-DD.")
    ] = None,
    key: ApiKey = None,
) -> None:
    """Record the family notified, withheld with a reason, or deferred to a revisit date."""
    from workers.hub.actions import FamilyStepBody
    from workflows.models import RecordFamilyStep

    fields = _given(kind=kind, reason=reason, revisit_on=revisit_on)
    _act(request_id, key, RecordFamilyStep, FamilyStepBody, fields)


@operator_app.command("withdraw", rich_help_panel=_PANEL)
def withdraw(
    request_id: RequestId,
    reason: Annotated[str, typer.Option(help="Why the request is withdrawn.")],
    key: ApiKey = None,
) -> None:
    """Withdraw a request before its decision, with the reason."""
    from workers.hub.actions import WithdrawBody
    from workflows.models import Withdraw

    _act(request_id, key, Withdraw, WithdrawBody, {"reason": reason})


@operator_app.command("close", rich_help_panel=_PANEL)
def close(request_id: RequestId, key: ApiKey = None) -> None:
    """Close a request whose disclosures are acknowledged and family step recorded."""
    from workflows.models import Close

    _act(request_id, key, Close, None, {})


def _given(**options: str | None) -> dict[str, str]:
    """The options the operator gave: an absent one takes the model's default."""
    return {name: value for name, value in options.items() if value is not None}


def _act(
    request_id: str,
    key: str | None,
    action: type[HubAction],
    body: type[BaseModel] | None,
    given: dict[str, Any] | Path,
) -> None:
    """Validate the input, then pass the action to the request as the key's client.

    ``given`` is the options' values, or the file holding the body; bodies are
    the API's (:mod:`workers.hub.actions`): the action's fields but ``actor``.
    """
    from workers.hub.permissions import Work

    async def main() -> None:
        parsed = _request_id(request_id)
        if body is None:
            fields: dict[str, Any] = {}
        elif isinstance(given, Path):
            fields = dict(_body_from_file(given, body, "body"))
        else:
            fields = dict(_validated(body, given))
        async with _desk(key, Work.ACT_FOR_THE_HUB) as (hub, staff):
            result = await hub.service.act(parsed, action(actor=staff.participant(), **fields))
        operator_views.print_verdict(result)

    _run(main)


# ----------------------------------------------------------------------- the desk


@contextlib.asynccontextmanager
async def _desk(key: str | None, work: Work) -> AsyncIterator[tuple[HubContext, ApiClient]]:
    """The hub's opened resources, and the key's client if its role may do ``work``."""
    from workers.hub.context import opened_context
    from workers.hub.permissions import require
    from workers.settings import Settings, StackNotFound

    if not key:
        raise _bad_input(
            "no API key: pass --key or set SHAREHUB_API_KEY (`sharehub keys create` makes one)"
        )
    async with contextlib.AsyncExitStack() as opened:
        try:
            hub = await opened.enter_async_context(opened_context(Settings()))
        except StackNotFound:
            raise
        except RuntimeError as e:  # temporalio's client: "Failed client connect: …"
            raise _bad_input(f"cannot reach Temporal: {e}") from e
        except ValueError as e:  # e.g. a master key that is not 32 bytes of base64
            raise _bad_input(f"settings: {e}") from e
        client = await hub.clients.authenticate(key)
        if client is None:
            raise _bad_input("the API key is not valid: unknown, mistyped or revoked")
        require(client.role, work)
        yield hub, client


def _run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a command; whatever an operator can meet is a message and a status, not a trace."""
    from temporalio.service import RPCError

    from events.errors import EventStoreError
    from workers.hub.permissions import NotPermitted
    from workers.hub.records import RecordNotFound
    from workers.hub.share_requests import (
        ActionRejected,
        RequestAlreadyRaised,
        RequestRejected,
        ShareRequestFinished,
        UnknownShareRequest,
    )
    from workers.hub.submissions import IdempotencyKeyReused
    from workers.settings import StackNotFound
    from workflows.policy_file import PolicyError

    try:
        asyncio.run(main())
        return
    except OperatorError as e:
        message, status = str(e), e.status
    except RequestRejected as e:
        message = "refused, nothing recorded: the share request cannot be raised:" + "".join(
            f"\n  - {problem}" for problem in e.problems
        )
        status = 1
    except ActionRejected as e:
        message, status = f"refused, nothing recorded: {e}", 1
    except (NotPermitted, RequestAlreadyRaised, ShareRequestFinished) as e:
        message, status = f"refused: {e}", 1
    except IdempotencyKeyReused as e:
        message, status = f"refused: {e}", 1
    except (UnknownShareRequest, RecordNotFound) as e:
        message, status = str(e), 2
    except StackNotFound as e:
        message, status = str(e), 2
    except PolicyError as e:
        message, status = f"data sharing agreement: {e}", 2
    except EventStoreError as e:
        message, status = f"event store: {e}", 2
    except RPCError as e:
        message, status = f"Temporal: {e.status.name}: {e.message}", 2
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(status)


# ----------------------------------------------------------------------- input


def _request_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError as e:
        raise _bad_input(f"{text!r} is not a share request id") from e


def _choice(kind: Callable[[str], Any], value: str, option: str) -> str:
    """``value`` if it is one of the enum ``kind``'s values; names them otherwise."""
    try:
        return str(kind(value))
    except ValueError as e:
        values = ", ".join(str(member) for member in kind)  # type: ignore[attr-defined]
        raise _bad_input(f"{option}: {value!r} is not one of {values}") from e


def _body_from_file(path: Path, model: type[Body], what: str) -> Body:
    """The JSON in ``path`` as ``model``; a bad file names the field, never its value."""
    from pydantic import ValidationError

    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise _bad_input(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise _bad_input(f"{path} is not JSON: {e.msg} (line {e.lineno}, column {e.colno})") from e
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise _bad_input(f"{path} is not a valid {what}:" + _problems(e, options=False)) from e


def _validated(model: type[Body], options: dict[str, Any]) -> Body:
    from pydantic import ValidationError

    try:
        return model.model_validate(options)
    except ValidationError as e:
        raise _bad_input("invalid input:" + _problems(e, options=True)) from e


def _problems(error: ValidationError, *, options: bool) -> str:
    """One line per wrong field; ``include_input=False`` keeps the values out."""
    lines = []
    for problem in error.errors(include_url=False, include_input=False, include_context=False):
        path = [str(part) for part in problem["loc"]]
        if options and path:
            path[0] = "--" + path[0].replace("_", "-")
        lines.append(f"\n  - {'.'.join(path) or '(the whole body)'}: {problem['msg']}")
    return "".join(lines)
