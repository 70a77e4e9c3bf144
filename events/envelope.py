"""The envelope around every event: what a writer appends and what the store returns.

``NewEvent`` is what a caller hands to the store (validated); ``RecordedEvent`` is
what the store gives back, with its place in the log (global position, stream
version), when it was recorded, and its link in the hash chain.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from events.canonical import format_timestamp

REDACTED = "[redacted: subject key shredded]"

# Text that lands in a text column: PostgreSQL text cannot hold NUL characters.
ColumnText = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]


class Actor(BaseModel):
    """Who caused an event: a person or a system, in a role, for an agency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    role: str = Field(min_length=1)
    agency: str | None = None


def _content(event: NewEvent | RecordedEvent) -> dict[str, Any]:
    """What identifies an event's content, for comparing a re-sent event id."""
    return {
        "type": event.type,
        "schema_version": event.schema_version,
        "occurred_at": format_timestamp(event.occurred_at),
        "actor": event.actor.model_dump(mode="json"),
        "correlation_id": event.correlation_id,
        "subject_id": event.subject_id,
        "data": dict(event.data),
        "metadata": dict(event.metadata),
    }


class NewEvent(BaseModel):
    """An event as a writer appends it, before the store has placed it in the log.

    ``personal_fields`` name the top-level keys of ``data`` that hold personal data;
    the store encrypts them with the data key of ``subject_id`` before recording.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID = Field(default_factory=uuid4)
    type: ColumnText = Field(min_length=1)
    schema_version: int = Field(default=1, ge=1)
    occurred_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    actor: Actor
    correlation_id: ColumnText | None = None
    subject_id: ColumnText | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    personal_fields: frozenset[str] = frozenset()

    def content(self) -> dict[str, Any]:
        return _content(self)


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordedEvent:
    """An event as the log holds it, with its place in the log and its chain link.

    A plain frozen dataclass, not a validating model: the store builds these from
    what it has just validated or read back, on the hot path of every append.
    ``data`` is decrypted, unless the event was read sealed (the relay's reads),
    when personal fields stay the store's ciphertext. Where the subject's key has
    been shredded, each personal field reads ``REDACTED`` and its name is listed
    in ``redacted_fields``.
    """

    global_position: int
    stream_id: str
    stream_version: int
    event_id: UUID
    type: str
    schema_version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: Actor
    correlation_id: str | None
    subject_id: str | None
    data: dict[str, Any]
    metadata: dict[str, Any]
    prev_hash: bytes
    hash: bytes
    redacted_fields: frozenset[str] = frozenset()

    @property
    def redacted(self) -> bool:
        return bool(self.redacted_fields)

    def content(self) -> dict[str, Any]:
        return _content(self)


# A frozen dataclass's __init__ binds sixteen keywords and assigns every field
# through object.__setattr__; that was the largest part of answering an append.
# The store makes one RecordedEvent per event it records, so it fills the slots
# directly instead (about a third faster); the result is the same frozen value.
_RECORDED_SLOTS = tuple(
    getattr(RecordedEvent, field.name).__set__ for field in fields(RecordedEvent)
)


def recorded_event(
    global_position: int,
    stream_id: str,
    stream_version: int,
    event_id: UUID,
    type: str,
    schema_version: int,
    occurred_at: datetime,
    recorded_at: datetime,
    actor: Actor,
    correlation_id: str | None,
    subject_id: str | None,
    data: dict[str, Any],
    metadata: dict[str, Any],
    prev_hash: bytes,
    hash: bytes,
    redacted_fields: frozenset[str] = frozenset(),
) -> RecordedEvent:
    """``RecordedEvent(...)``, the fields in order: for the store's hot path."""
    recorded = object.__new__(RecordedEvent)
    values = (
        global_position,
        stream_id,
        stream_version,
        event_id,
        type,
        schema_version,
        occurred_at,
        recorded_at,
        actor,
        correlation_id,
        subject_id,
        data,
        metadata,
        prev_hash,
        hash,
        redacted_fields,
    )
    for set_slot, value in zip(_RECORDED_SLOTS, values, strict=True):
        set_slot(recorded, value)
    return recorded
