"""The envelope around every event: what a writer appends and what the store returns.

``NewEvent`` is what a caller hands to the store; ``RecordedEvent`` is what the store
gives back, with its place in the log (global position, stream version), when it
was recorded, and its link in the hash chain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from events.canonical import format_timestamp

REDACTED = "[redacted: subject key shredded]"


class Actor(BaseModel):
    """Who caused an event: a person or a system, in a role, for an agency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    role: str = Field(min_length=1)
    agency: str | None = None


class _EventBody(BaseModel):
    """The fields a writer chooses; shared by the new and the recorded form."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str = Field(min_length=1)
    schema_version: int = Field(default=1, ge=1)
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    actor: Actor
    correlation_id: str | None = None
    subject_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)

    def content(self) -> dict[str, Any]:
        """What identifies an event's content, for comparing a re-sent event id."""
        return {
            "type": self.type,
            "schema_version": self.schema_version,
            "occurred_at": format_timestamp(self.occurred_at),
            "actor": self.actor.model_dump(mode="json"),
            "correlation_id": self.correlation_id,
            "subject_id": self.subject_id,
            "data": dict(self.data),
            "metadata": dict(self.metadata),
        }


class NewEvent(_EventBody):
    """An event as a writer appends it, before the store has placed it in the log.

    ``personal_fields`` name the top-level keys of ``data`` that hold personal data;
    the store encrypts them with the data key of ``subject_id`` before recording.
    """

    event_id: UUID = Field(default_factory=uuid4)
    personal_fields: frozenset[str] = frozenset()


class RecordedEvent(_EventBody):
    """An event as the log holds it.

    ``data`` is decrypted; where the subject's key has been shredded, each personal
    field reads ``REDACTED`` and its name is listed in ``redacted_fields``.
    """

    global_position: int
    stream_id: str
    stream_version: int
    event_id: UUID
    recorded_at: datetime
    prev_hash: bytes
    hash: bytes
    redacted_fields: frozenset[str] = frozenset()

    @property
    def redacted(self) -> bool:
        return bool(self.redacted_fields)
