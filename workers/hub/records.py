"""Reading requests, disclosures and advice for people: need-to-know and the access log.

What the API (and the operator CLI) shows comes from here. Lists read the read
models (:mod:`events.read_models.queries`); a single record's personal data (who the
child is) is read from the event store, decrypted with the request's key, and
only for those who may see it. Every read of one request or disclosure by a
person (an auditor's read of a request's raw events too) appends
``RecordViewed`` to the request's access log.

Scope rules, whatever the caller checked before:
- an agency sees the requests it raised (with their outcome) and the
  disclosures addressed to it, nothing else;
- an advisor sees advice requests and their pseudonymised packets, never the
  request they came from or who the child is;
- hub staff see every request in full;
- auditors read raw events and replay requests; they do not browse the queue.

    RecordsError
     └── RecordNotFound     no such record, or none the caller may see (the same answer)
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from events.access import RecordViewed, access_log_stream
from events.envelope import Actor, RecordedEvent
from events.postgres import PostgresEventStore
from events.read_models import queries
from events.read_models.replay import RequestReplay, RequestState, replay_request_at
from events.share_requests import ShareRequestRaised, request_id_of, stream_id_for
from events.store import EventStore
from workers.hub.clients import ApiClient

MAX_PAGE = 100
ACTIVE_STAGES = (
    "raised",
    "triaged",
    "awaiting_sign_off",
    "disclosing",
    "family_step",
    "ready_to_close",
)


class RecordsError(Exception):
    """Root of every error the records service raises."""


class RecordNotFound(RecordsError):
    def __init__(self, what: str, record_id: UUID) -> None:
        super().__init__(f"no {what} {record_id}")
        self.what = what
        self.record_id = record_id


class InvalidCursor(RecordsError):
    def __init__(self) -> None:
        super().__init__("the cursor is not one this list gave out")


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _encode_cursor(values: list[Any]) -> str:
    text = json.dumps([v.isoformat() if isinstance(v, datetime) else str(v) for v in values])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, kinds: tuple[type, ...]) -> tuple[Any, ...]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("wrong shape")
        decoded: list[Any] = []
        for kind, value in zip(kinds, values, strict=True):
            if kind is datetime:
                decoded.append(datetime.fromisoformat(value))
            elif kind is UUID:
                decoded.append(UUID(value))
            else:
                decoded.append(kind(value))
        return tuple(decoded)
    except (ValueError, TypeError) as e:
        raise InvalidCursor() from e


def _page(rows: list[dict[str, Any]], limit: int, key: tuple[str, ...]) -> Page:
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = _encode_cursor([rows[-1][k] for k in key]) if more and rows else None
    return Page(items=rows, next_cursor=cursor)


def _limit(limit: int) -> int:
    return max(1, min(limit, MAX_PAGE))


class Records:
    def __init__(self, store: PostgresEventStore) -> None:
        self._store = store

    # ------------------------------------------------------------------ hub staff

    async def queue(
        self,
        *,
        stages: tuple[str, ...] = ACTIVE_STAGES,
        rag: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page:
        """Requests by time left to act, the most urgent first (see the read model)."""
        limit = _limit(limit)
        after = _decode_cursor(cursor, (int, datetime, UUID)) if cursor else None
        rows = await queries.hub_queue(
            self._store, stages=stages, rag=rag, after=after, limit=limit + 1
        )
        now = datetime.now(UTC)
        return _page(
            [_with_clock(row, now) for row in rows],
            limit,
            ("queue_rank", "queue_due_at", "request_id"),
        )

    async def request_in_full(
        self, request_id: UUID, *, viewer: ApiClient, via: str
    ) -> dict[str, Any]:
        """Everything about a request, the child included, with its timeline (hub staff)."""
        row = await self.request_row(request_id)
        events = await self._store.read_stream(stream_id_for(request_id))
        raised = next(e for e in events if e.type == ShareRequestRaised.event_type)
        await self._viewed(viewer, request_id, "share_request", request_id, via)
        disclosures = await queries.disclosures_of_request(self._store, request_id=request_id)
        advice = await queries.advice_of_request(self._store, request_id=request_id)
        names = await self._client_names([row, *disclosures, *advice], events)
        return {
            **_with_clock(shown_by_name(row, names), datetime.now(UTC)),
            "child": raised.data["child"],
            "details": raised.data["details"],
            "redacted": raised.redacted,
            "disclosures": [shown_by_name(d, names) for d in disclosures],
            "advice": [shown_by_name(a, names) for a in advice],
            "timeline": [timeline_entry(e, names) for e in events],
        }

    async def _client_names(
        self, rows: Iterable[dict[str, Any]], events: Iterable[RecordedEvent] = ()
    ) -> dict[str, str]:
        """The name of each API client among these rows' "who" columns and these
        events' actors, from the read model (ids that are no client's are not in it)."""
        ids = {row[k] for row in rows for k in _WHO if isinstance(row.get(k), str)}
        ids |= {event.actor.id for event in events}
        return await queries.client_names(self._store, actor_ids=sorted(ids))

    # ------------------------------------------------------------------ agencies

    async def raised_by(self, agency: str, *, cursor: str | None, limit: int = 50) -> Page:
        limit = _limit(limit)
        before = _decode_cursor(cursor, (datetime, UUID)) if cursor else None
        rows = await queries.raised_by(self._store, agency=agency, before=before, limit=limit + 1)
        return _page([_for_referrer(r) for r in rows], limit, ("raised_at", "request_id"))

    async def raised_request(
        self, request_id: UUID, *, viewer: ApiClient, via: str
    ) -> dict[str, Any]:
        """A request as the agency that raised it sees it: what it asked, and the outcome."""
        row = await self.raised_request_row(request_id, agency=viewer.agency)
        await self._viewed(viewer, request_id, "share_request", request_id, via)
        return _for_referrer(row)

    async def raised_request_row(self, request_id: UUID, *, agency: str | None) -> dict[str, Any]:
        """The request's row, if ``agency`` raised it (no access-log entry: not a view)."""
        row = await self.request_row(request_id)
        if row["referrer_agency"] != agency:
            raise RecordNotFound("share request", request_id)
        return row

    async def disclosures_to(self, agency: str, *, cursor: str | None, limit: int = 50) -> Page:
        limit = _limit(limit)
        before = _decode_cursor(cursor, (datetime, UUID)) if cursor else None
        rows = await queries.disclosures_to(
            self._store, agency=agency, before=before, limit=limit + 1
        )
        names = await self._client_names(rows)
        return _page([shown_by_name(r, names) for r in rows], limit, ("sent_at", "disclosure_id"))

    async def disclosure(
        self, disclosure_id: UUID, *, viewer: ApiClient, via: str
    ) -> dict[str, Any]:
        """A disclosure as its recipient sees it: the decided items and whom they are about."""
        row = await self.disclosure_row(disclosure_id, agency=viewer.agency)
        events = await self._store.read_stream(stream_id_for(row["request_id"]))
        raised = next(e for e in events if e.type == ShareRequestRaised.event_type)
        await self._viewed(viewer, row["request_id"], "disclosure", disclosure_id, via)
        names = await self._client_names([row])
        return {
            **shown_by_name(row, names),
            "child": _child_as_recipients_see(raised),
            "redacted": raised.redacted,
        }

    async def disclosure_row(self, disclosure_id: UUID, *, agency: str | None) -> dict[str, Any]:
        """The disclosure's row, if it was sent to ``agency`` (no access-log entry)."""
        row = await queries.disclosure(self._store, disclosure_id=disclosure_id)
        if row is None or row["agency"] != agency:
            raise RecordNotFound("disclosure", disclosure_id)
        return row

    # ------------------------------------------------------------------ advisors

    async def advice_inbox(self, *, cursor: str | None, limit: int = 50) -> Page:
        """Unanswered advice requests first, soonest due first; packets only."""
        limit = _limit(limit)
        after = _decode_cursor(cursor, (int, datetime, UUID)) if cursor else None
        rows = await queries.advice_inbox(self._store, after=after, limit=limit + 1)
        page = _page(rows, limit, ("answered_rank", "due_by", "advice_id"))
        return Page(
            items=[await self._for_advisor(row) for row in page.items],
            next_cursor=page.next_cursor,
        )

    async def advice_request(self, advice_id: UUID) -> dict[str, Any]:
        return await self._for_advisor(await self.advice_row(advice_id))

    async def advice_row(self, advice_id: UUID) -> dict[str, Any]:
        row = await queries.advice_request(self._store, advice_id=advice_id)
        if row is None:
            raise RecordNotFound("advice request", advice_id)
        return row

    async def _for_advisor(self, row: dict[str, Any]) -> dict[str, Any]:
        events = await self._store.read_stream(stream_id_for(row["request_id"]))
        sought = next(
            e
            for e in events
            if e.type == "AdviceSought" and e.data["advice_id"] == str(row["advice_id"])
        )
        return {
            "advice_id": row["advice_id"],
            "question": row["question"],
            "packet": sought.data["packet"],
            "due_by": row["due_by"],
            "identity_escalation": sought.data["identity_escalation"],
            "answered_at": row["answered_at"],
            "advice": row["advice"],
        }

    # ------------------------------------------------------------------ auditors

    async def request_state(
        self,
        request_id: UUID,
        *,
        at: datetime | None,
        position: int | None,
        viewer: ApiClient,
        via: str,
    ) -> RequestState:
        """The request as its events up to ``at`` (recorded time) or ``position`` show it."""
        replay = await self.replay(request_id, at=at, position=position, viewer=viewer, via=via)
        return replay.state

    async def replay(
        self,
        request_id: UUID,
        *,
        at: datetime | None,
        position: int | None,
        viewer: ApiClient,
        via: str,
    ) -> RequestReplay:
        """The request at a moment, with the events that made it so (events.read_models.replay),
        and the names of the API clients who acted, from the log alone."""
        replay = await replay_request_at(self._store, request_id, at=at, position=position)
        if replay is None:
            raise RecordNotFound("share request", request_id)
        await self._viewed(viewer, request_id, "share_request_state", request_id, via)
        return replay

    async def raw_events_viewed(
        self, events: list[RecordedEvent], *, viewer: ApiClient, via: str
    ) -> None:
        """An auditor read these raw events: a view of each request whose own events they are."""
        request_ids = dict.fromkeys(
            found for e in events if (found := request_id_of(e.stream_id)) is not None
        )
        for request_id in request_ids:
            await self._viewed(viewer, request_id, "share_request", request_id, via)

    async def report_viewed(
        self, request_ids: Iterable[UUID], *, viewer: ApiClient, via: str
    ) -> None:
        """A decision report showed these requests (who each child is among them) to an
        auditor: a view of each, as a read of its raw events would be."""
        for request_id in dict.fromkeys(request_ids):
            await self._viewed(viewer, request_id, "decision_report", request_id, via)

    # ------------------------------------------------------------------ shared

    async def request_row(self, request_id: UUID) -> dict[str, Any]:
        row = await queries.share_request(self._store, request_id=request_id)
        if row is None:
            raise RecordNotFound("share request", request_id)
        return row

    async def _viewed(
        self, viewer: ApiClient, request_id: UUID, record: str, record_id: UUID, via: str
    ) -> None:
        await record_viewed(
            self._store, request_id, record=record, record_id=record_id, by=viewer.actor(), via=via
        )


async def record_viewed(
    store: EventStore,
    request_id: UUID,
    *,
    record: str,
    record_id: UUID | None = None,
    by: Actor,
    via: str,
) -> None:
    """Put a read of (part of) a request on its access log."""
    viewed = RecordViewed(
        request_id=request_id, record=record, record_id=record_id or request_id, via=via
    )
    await store.append(
        access_log_stream(request_id),
        [viewed.to_new_event(actor=by, correlation_id=str(request_id))],
        expected_version=None,
    )


# The columns of the views that say who did something: an actor id each.
_WHO = frozenset({"decided_by", "signed_off_by", "acknowledged_by", "sought_by", "answered_by"})


def shown_by_name(row: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """The row with each "who" column showing the API client's name instead of its id
    (a view for people: names are unique, one name one person). An actor recorded
    before clients' ids were already reads as a name, and stays as it is."""
    return {k: names.get(v, v) if k in _WHO and isinstance(v, str) else v for k, v in row.items()}


def with_actor_names(
    row: Mapping[str, Any] | None, names: Mapping[str, str]
) -> dict[str, Any] | None:
    """The row with, beside each "who" column, the name it shows (``decided_by_name``
    beside ``decided_by``): for auditors, who read the ids as recorded too."""
    if row is None:
        return None
    named = dict(row)
    for k, v in row.items():
        if k in _WHO:
            named[f"{k}_name"] = names.get(v, v) if isinstance(v, str) else None
    return named


def _with_clock(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The row with the time left on its running clock (the queue and the full view)."""
    running = row["queue_rank"] == 0
    left = int((row["queue_due_at"] - now).total_seconds()) if running else None
    return {**row, "time_left_seconds": left, "overdue": left is not None and left < 0}


def _for_referrer(row: dict[str, Any]) -> dict[str, Any]:
    """What the referring agency may know of its request (not who else was told what)."""
    keys = (
        "request_id",
        "raised_by",
        "purpose",
        "recipients",
        "stage",
        "outcome",
        "decided_at",
        "referrer_told_at",
        "raised_at",
        "updated_at",
    )
    return {key: row[key] for key in keys}


def _child_as_recipients_see(raised: RecordedEvent) -> dict[str, Any] | str:
    """Enough to find the child in the recipient's own records: the identifier, and the
    child's names, date of birth and address; not the other people or the account of
    the concern, which the decision did not share."""
    identifier, details = raised.data["child"], raised.data["details"]
    if not isinstance(identifier, dict) or not isinstance(details, dict):
        return str(identifier)  # shredded: it reads as redacted
    child: dict[str, Any] = next((p for p in details["people"] if p["role"] == "child"), {})
    return {
        **identifier,
        **{k: child.get(k) for k in ("given_names", "family_name", "date_of_birth", "address")},
    }


def timeline_entry(event: RecordedEvent, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One line of a request's history: what happened, when, by whom (no personal data).

    The actor's ``id`` is as recorded; its ``name`` is the API client's name from
    ``names``, or the id itself where it is no client's (an older event's name).
    """
    actor = event.actor
    return {
        "global_position": event.global_position,
        "type": event.type,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "actor": {
            "id": actor.id,
            "name": (names or {}).get(actor.id, actor.id),
            "role": actor.role,
            "agency": actor.agency,
        },
        "data": {k: v for k, v in event.data.items() if k not in ("child", "details")},
    }
