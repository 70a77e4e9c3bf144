"""The event store's exceptions: one root, driver errors translated at the boundary.

    EventStoreError
     ├── StoreUnavailable            the database could not be reached or failed
     ├── AppendRejected              an append that the store refuses
     │    ├── WrongExpectedVersion   optimistic concurrency: the stream moved on
     │    ├── EventIdReused          same event id, different content
     │    └── AppendOnlyViolation    an attempt to change or remove recorded events
     ├── UnknownEventType            no model registered for a stored type
     ├── SubjectKeyDestroyed         the subject's key is destroyed: data unreadable
     ├── ProofUnavailable            no inclusion proof can be given (yet) for an event
     └── MigrationError              a schema migration failed or was altered

Callers catch ``EventStoreError`` to handle every store failure in one place.
"""

from __future__ import annotations

from uuid import UUID


class EventStoreError(Exception):
    """Root of every error the event store raises."""


class StoreUnavailable(EventStoreError):
    """The database could not be reached, or failed in a way the store cannot interpret."""


class AppendRejected(EventStoreError):
    """The store refused an append; nothing was written."""


class WrongExpectedVersion(AppendRejected):
    def __init__(self, *, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, the append expected {expected}"
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class EventIdReused(AppendRejected):
    def __init__(self, event_id: UUID) -> None:
        super().__init__(
            f"event {event_id} is already recorded with different content; "
            "an event id may only be re-sent with identical content"
        )
        self.event_id = event_id


class AppendOnlyViolation(AppendRejected):
    """The database refused to update, delete or truncate recorded events."""


class UnknownEventType(EventStoreError):
    def __init__(self, event_type: str, schema_version: int) -> None:
        super().__init__(f"no event model is registered for {event_type} v{schema_version}")
        self.event_type = event_type
        self.schema_version = schema_version


class SubjectKeyDestroyed(EventStoreError):
    def __init__(self, subject_id: str) -> None:
        super().__init__(f"the data key of subject {subject_id} has been destroyed")
        self.subject_id = subject_id


class MigrationError(EventStoreError):
    """A migration failed, or one already applied has been edited since."""


class ProofUnavailable(EventStoreError):
    """No inclusion proof for the event: it is not recorded, or no checkpoint covers it yet."""
