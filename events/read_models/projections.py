"""Read models: the event log folded into the tables the API's lists and views read.

Each read model is a table with one row per key (a request, a disclosure, an
advice request, an API client) and a pure function that folds one event into
that row. The same folds replay a request in memory to any moment for auditors
(:func:`replay_request`), so the views and the replay cannot disagree.

The :class:`Projector` applies events in log order and saves its checkpoint
(``read-models``) in the same transaction as the rows it changed, so the tables
always reflect exactly the events up to the checkpoint. Several processes may
run a projector: each transaction takes one advisory lock and re-reads the
checkpoint, so an event is applied once. Events are read sealed: the read models
never hold personal data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from events.envelope import RecordedEvent
from events.errors import EventStoreError
from events.postgres import PostgresEventStore, SqlSession
from events.share_requests import request_id_of

CHECKPOINT = "read-models"
# pg_advisory_xact_lock key: "sharehub read models"; one projector transaction at a time.
_LOCK_KEY = 0x5348_5256
_BATCH = 500
_FIRST_PAUSE = 1.0
_LONGEST_PAUSE = 60.0
logger = logging.getLogger(__name__)
_CLIENT_STREAM_PREFIX = "api-client-"

Row = dict[str, Any]
_BEFORE_DECISION = ("raised", "triaged")
_FAMILY_DONE = ("notified", "withheld")


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _request_id(event: RecordedEvent) -> UUID | None:
    return request_id_of(event.stream_id)


# ----------------------------------------------------------------------- share requests


def fold_request(row: Row | None, event: RecordedEvent) -> Row | None:
    """The request's row after ``event``; ``None`` while it has not been raised."""
    data = event.data
    if event.type == "ShareRequestRaised":
        row = {
            "request_id": _request_id(event),
            "referrer_agency": data["referrer_agency"],
            "raised_by": event.actor.id,
            "purpose": data["purpose"],
            "recipients": data["recipients"],
            "lawful_basis": data["lawful_basis"],
            "consent": data["consent"],
            "stage": "raised",
            "rag": None,
            "sla_deadline": None,
            "handed_to_emergency_duty_team": False,
            "sla_breached_at": None,
            "outcome": None,
            "decided_at": None,
            "decided_by": None,
            "signed_off_by": None,
            "referrer_told_at": None,
            "disclosures_sent": 0,
            "disclosures_acknowledged": 0,
            "family_step": None,
            "family_revisit_on": None,
            "queue_rank": 0,
            "queue_due_at": event.occurred_at,
            "policy_version": data["policy_version"],
            "raised_at": event.occurred_at,
        }
    if row is None:
        return None
    row = dict(row)
    match event.type:
        case "TriageRecorded":
            row["rag"] = data["rag"]
            row["sla_deadline"] = _moment(data["sla_deadline"])
            row["handed_to_emergency_duty_team"] = data["handed_to_emergency_duty_team"]
            row["sla_breached_at"] = None  # a re-rating starts a new clock
        case "SlaBreached":
            row["sla_breached_at"] = event.occurred_at
        case "DecisionRecorded":
            row["outcome"] = data["outcome"]
            row["decided_at"] = event.occurred_at
            row["decided_by"] = event.actor.id
            if data["sign_off_needed_because"]:
                row["stage"] = "awaiting_sign_off"  # until DecisionSignedOff names a signer
        case "DecisionSignedOff":
            row["signed_off_by"] = event.actor.id
        case "ReferrerToldOutcome":
            row["referrer_told_at"] = event.occurred_at
        case "DisclosureSent":
            row["disclosures_sent"] += 1
        case "DisclosureAcknowledged":
            row["disclosures_acknowledged"] += 1
        case "FamilyStepRecorded":
            row["family_step"] = data["kind"]
            row["family_revisit_on"] = (
                date.fromisoformat(data["revisit_on"]) if data["revisit_on"] else None
            )
        case "FamilyStepDue":
            row["family_step"] = "due"
        case "ShareRequestWithdrawn":
            row["stage"] = "withdrawn"
        case "ShareRequestClosed":
            row["stage"] = "closed"
    row["stage"] = _stage(row)
    row["queue_rank"], row["queue_due_at"] = _queue_position(row)
    row["updated_at"] = event.occurred_at
    row["last_position"] = event.global_position
    return row


def _stage(row: Row) -> str:
    """The workflow's stage, as far as the events show it (workflows.models.Stage)."""
    if row["stage"] in ("withdrawn", "closed"):
        return str(row["stage"])
    if row["outcome"] is None:
        return "triaged" if row["rag"] is not None else "raised"
    if row["stage"] == "awaiting_sign_off" and row["signed_off_by"] is None:
        return "awaiting_sign_off"
    if row["referrer_told_at"] is None or row["disclosures_acknowledged"] < row["disclosures_sent"]:
        return "disclosing"
    return "ready_to_close" if row["family_step"] in _FAMILY_DONE else "family_step"


def _queue_position(row: Row) -> tuple[int, datetime]:
    if row["stage"] == "raised":
        return 0, row["raised_at"]  # to be rated: the oldest first
    if row["stage"] == "triaged" and row["sla_deadline"] is not None:
        return 0, row["sla_deadline"]
    return 1, row["raised_at"]


# ----------------------------------------------------------------------- disclosures


def fold_disclosure(row: Row | None, event: RecordedEvent) -> Row | None:
    data = event.data
    if event.type == "DisclosureSent":
        return {
            "disclosure_id": UUID(data["disclosure_id"]),
            "request_id": _request_id(event),
            "agency": data["agency"],
            "categories": data["categories"],
            "purpose": data["purpose"],
            "caveats": data["caveats"],
            "sent_at": event.occurred_at,
            "acknowledge_by": _moment(data["acknowledge_by"]),
            "acknowledged_at": None,
            "acknowledged_by": None,
            "overdue_at": None,
        }
    if row is None:
        return None
    if event.type == "DisclosureAcknowledged":
        return {**row, "acknowledged_at": event.occurred_at, "acknowledged_by": event.actor.id}
    if event.type == "AcknowledgementOverdue":
        return {**row, "overdue_at": event.occurred_at}
    return row


def _disclosure_key(event: RecordedEvent) -> UUID | None:
    if event.type in ("DisclosureSent", "DisclosureAcknowledged", "AcknowledgementOverdue"):
        return UUID(event.data["disclosure_id"])
    return None


# ----------------------------------------------------------------------- advice


def fold_advice(row: Row | None, event: RecordedEvent) -> Row | None:
    data = event.data
    if event.type == "AdviceSought":
        return {
            "advice_id": UUID(data["advice_id"]),
            "request_id": _request_id(event),
            "question": data["question"],
            "sought_at": event.occurred_at,
            "sought_by": event.actor.id,
            "due_by": _moment(data["due_by"]),
            "answered_at": None,
            "answered_by": None,
            "advice": None,
        }
    if row is not None and event.type == "AdviceGiven":
        return {
            **row,
            "answered_at": event.occurred_at,
            "answered_by": event.actor.id,
            "advice": data["advice"],
        }
    return row


def _advice_key(event: RecordedEvent) -> UUID | None:
    if event.type in ("AdviceSought", "AdviceGiven"):
        return UUID(event.data["advice_id"])
    return None


# ----------------------------------------------------------------------- API clients


def fold_api_client(row: Row | None, event: RecordedEvent) -> Row | None:
    data = event.data
    if event.type == "ApiClientCreated":
        return {
            "client_id": UUID(data["client_id"]),
            "name": data["name"],
            "role": data["role"],
            "agency": data["agency"],
            "created_at": event.occurred_at,
            "created_by": event.actor.id,
            "revoked_at": None,
            "revoked_by": None,
        }
    if row is not None and event.type == "ApiClientRevoked":
        return {**row, "revoked_at": event.occurred_at, "revoked_by": event.actor.id}
    return row


def _api_client_key(event: RecordedEvent) -> UUID | None:
    if event.stream_id.startswith(_CLIENT_STREAM_PREFIX):
        return UUID(event.stream_id.removeprefix(_CLIENT_STREAM_PREFIX))
    return None


# ----------------------------------------------------------------------- the tables


def _columns(names: str) -> tuple[str, ...]:
    return tuple(names.split())


@dataclass(frozen=True)
class ReadModel:
    table: str
    key: str
    columns: tuple[str, ...]
    key_of: Callable[[RecordedEvent], UUID | None]
    fold: Callable[[Row | None, RecordedEvent], Row | None]

    def upsert_sql(self) -> str:
        placeholders = ", ".join(f"${i}" for i in range(1, len(self.columns) + 1))
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in self.columns if c != self.key)
        return (
            f"INSERT INTO {self.table} ({', '.join(self.columns)}) VALUES ({placeholders}) "
            f"ON CONFLICT ({self.key}) DO UPDATE SET {updates}"
        )


SHARE_REQUESTS = ReadModel(
    table="share_request_view",
    key="request_id",
    columns=_columns(
        """
        request_id referrer_agency raised_by purpose recipients lawful_basis consent
        stage rag sla_deadline handed_to_emergency_duty_team sla_breached_at outcome
        decided_at decided_by signed_off_by referrer_told_at disclosures_sent
        disclosures_acknowledged family_step family_revisit_on queue_rank
        queue_due_at policy_version raised_at updated_at last_position
        """
    ),
    key_of=_request_id,
    fold=fold_request,
)
DISCLOSURES = ReadModel(
    table="disclosure_view",
    key="disclosure_id",
    columns=_columns(
        """
        disclosure_id request_id agency categories purpose caveats sent_at
        acknowledge_by acknowledged_at acknowledged_by overdue_at
        """
    ),
    key_of=_disclosure_key,
    fold=fold_disclosure,
)
ADVICE = ReadModel(
    table="advice_view",
    key="advice_id",
    columns=_columns(
        """
        advice_id request_id question sought_at sought_by due_by answered_at
        answered_by advice
        """
    ),
    key_of=_advice_key,
    fold=fold_advice,
)
API_CLIENTS = ReadModel(
    table="api_client_view",
    key="client_id",
    columns=_columns(
        """
        client_id name role agency created_at created_by revoked_at revoked_by
        """
    ),
    key_of=_api_client_key,
    fold=fold_api_client,
)
READ_MODELS = (SHARE_REQUESTS, DISCLOSURES, ADVICE, API_CLIENTS)


@dataclass(frozen=True)
class RequestState:
    """A request as the events up to some moment show it (for auditors' replay)."""

    request: Row | None
    disclosures: list[Row]
    advice: list[Row]
    events_applied: int


def replay_request(events: Iterable[RecordedEvent]) -> RequestState:
    """Fold a request's events in memory with the read models' own folds."""
    request: Row | None = None
    disclosures: dict[UUID, Row] = {}
    advice: dict[UUID, Row] = {}
    applied = 0
    for event in events:
        applied += 1
        request = fold_request(request, event)
        for rows, model in ((disclosures, DISCLOSURES), (advice, ADVICE)):
            key = model.key_of(event)
            if key is not None:
                row = model.fold(rows.get(key), event)
                if row is not None:
                    rows[key] = row
    return RequestState(request, list(disclosures.values()), list(advice.values()), applied)


# ----------------------------------------------------------------------- the projector


class Projector:
    """Keeps the read models up to date with the log; see the module docstring."""

    def __init__(self, store: PostgresEventStore, *, models: Sequence[ReadModel] = READ_MODELS):
        self._store = store
        self._models = models
        self._position = 0
        self._moved = asyncio.Condition()

    @property
    def position(self) -> int:
        """The last global position this projector has seen applied."""
        return self._position

    async def run(self) -> None:
        """Catch up, then follow the log live; until cancelled.

        A failure (the database gone, an event the tables cannot take) is logged
        and retried from the checkpoint with a growing pause: the views fall
        behind, visibly in the log, rather than stop for good.
        """
        pause = _FIRST_PAUSE
        while True:
            try:
                await self.catch_up()
                async for event in self._store.subscribe(
                    from_position=self._position + 1, sealed=True
                ):
                    await self._apply([event])
                    pause = _FIRST_PAUSE
            except EventStoreError as error:
                logger.error(
                    "read models stopped after position %d (%s); retrying in %.0f s",
                    self._position,
                    error,
                    pause,
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE)

    async def catch_up(self) -> int:
        """Apply every event recorded so far; return the checkpoint."""
        self._position = await self._store.checkpoint(CHECKPOINT)
        while True:
            events = await self._store.read_all(
                from_position=self._position + 1, limit=_BATCH, sealed=True
            )
            if not events:
                return self._position
            await self._apply(events)

    async def wait_for(self, position: int) -> None:
        """Until the read models reflect the log up to ``position``."""
        async with self._moved:
            await self._moved.wait_for(lambda: self._position >= position)

    async def rebuild(self) -> int:
        """Empty the read models and fold the whole log again, in one transaction.

        Readers see the old tables until the new ones are complete. Returns the
        number of events folded.
        """
        async with self._store.transaction() as session:
            await session.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            for model in self._models:
                await session.execute(f"DELETE FROM {model.table}")
            position = 0
            while True:
                events = await self._store.read_all(
                    from_position=position + 1, limit=_BATCH, sealed=True
                )
                if not events:
                    break
                for event in events:
                    await self._fold(session, event)
                position = events[-1].global_position
            await session.execute(
                "INSERT INTO checkpoints (name, position) VALUES ($1, $2) ON CONFLICT (name)"
                " DO UPDATE SET position = EXCLUDED.position, updated_at = now()",
                CHECKPOINT,
                position,
            )
        await self._moved_to(position)
        return position

    async def _apply(self, events: Sequence[RecordedEvent]) -> None:
        async with self._store.transaction() as session:
            await session.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            done = await session.fetchrow(
                "SELECT position FROM checkpoints WHERE name = $1", CHECKPOINT
            )
            applied_up_to = 0 if done is None else int(done["position"])
            for event in events:
                if event.global_position > applied_up_to:  # else another projector did it
                    await self._fold(session, event)
            last = max(applied_up_to, events[-1].global_position)
            await session.save_checkpoint(CHECKPOINT, last)
        await self._moved_to(last)

    async def _fold(self, session: SqlSession, event: RecordedEvent) -> None:
        for model in self._models:
            key = model.key_of(event)
            if key is None:
                continue
            current = await session.fetchrow(
                f"SELECT * FROM {model.table} WHERE {model.key} = $1 FOR UPDATE", key
            )
            row = model.fold(current, event)
            if row is not None and row != current:
                await session.execute(model.upsert_sql(), *(row[c] for c in model.columns))

    async def _moved_to(self, position: int) -> None:
        async with self._moved:
            self._position = max(self._position, position)
            self._moved.notify_all()


@contextlib.asynccontextmanager
async def running_projector(store: PostgresEventStore) -> AsyncIterator[Projector]:
    """A projector following the log in the background for the block."""
    projector = Projector(store)
    await projector.catch_up()
    task = asyncio.create_task(projector.run(), name="read-model projector")
    try:
        yield projector
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
