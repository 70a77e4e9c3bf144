"""The share-request workflow's side effects: recording events and notifying agencies.

``ShareRequestActivities`` receives the event store and the bus publisher; only
the worker entry point builds it. Each activity is idempotent: events carry ids
made by the workflow (``workflow.uuid4()``), so a retried append returns the
stored events, and a retried publish carries the same ``Nats-Msg-Id``, which
JetStream de-duplicates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from temporalio import activity
from temporalio.exceptions import ApplicationError

from events.envelope import NewEvent
from events.errors import AppendRejected, SubjectKeyDestroyed
from events.store import EventStore


class RecordEvents(BaseModel):
    model_config = ConfigDict(frozen=True)

    stream_id: str
    expected_version: int
    events: list[NewEvent]


class AgencyNotice(BaseModel):
    """What goes on an agency's subject: a reference, never the shared content itself.

    The recipient fetches what was decided for it over the authenticated API, so the
    bus carries no names and no identifiers.
    """

    model_config = ConfigDict(frozen=True)

    notice_id: UUID
    kind: str
    request_id: UUID
    agency: str
    categories: list[str] = []
    purpose: str | None = None
    caveats: list[str] = []
    outcome: str | None = None
    respond_by: datetime | None = None


class NotifyAgency(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str
    notice: AgencyNotice


class AgencyPublisher(Protocol):
    async def publish(self, *, subject: str, message_id: str, body: bytes) -> None: ...


class ShareRequestActivities:
    def __init__(self, store: EventStore, publisher: AgencyPublisher) -> None:
        self._store = store
        self._publisher = publisher

    @activity.defn
    async def record_events(self, request: RecordEvents) -> int:
        """Append the events; return the stream's version after them."""
        try:
            recorded = await self._store.append(
                request.stream_id, request.events, expected_version=request.expected_version
            )
        except (AppendRejected, SubjectKeyDestroyed) as e:
            # Not worth retrying: only this workflow writes its stream, so a
            # conflict is a defect to look at, not a race to wait out.
            raise ApplicationError(str(e), type=type(e).__name__, non_retryable=True) from e
        return recorded[-1].stream_version

    @activity.defn
    async def notify_agency(self, request: NotifyAgency) -> None:
        await self._publisher.publish(
            subject=request.subject,
            message_id=str(request.notice.notice_id),
            body=request.notice.model_dump_json().encode(),
        )
