"""Domain events as frozen pydantic models, and the registry that reads them back.

A domain event is a past-tense fact (``ShareRequestRaised``) with a type name and
a ``schema_version``. When a model changes shape, its version goes up and an
upcaster turns the stored data of the old version into the next one, so the log
is never rewritten and old events still read as current models::

    registry = EventRegistry()

    @registry.event
    class ChildDetailsRecorded(DomainEvent):
        event_type = "ChildDetailsRecorded"
        schema_version = 2
        personal_fields = frozenset({"name"})
        name: str
        age_band: str

    @registry.upcaster("ChildDetailsRecorded", from_version=1)
    def _add_age_band(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "age_band": "unknown"}
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from events.envelope import Actor, NewEvent, RecordedEvent
from events.errors import SubjectKeyDestroyed, UnknownEventType

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
E = TypeVar("E", bound="type[DomainEvent]")


class DomainEvent(BaseModel):
    """Base of every domain event: immutable, named in the past tense."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    # Top-level fields holding personal data, encrypted with the subject's key.
    personal_fields: ClassVar[frozenset[str]] = frozenset()

    def to_new_event(
        self,
        *,
        actor: Actor,
        subject_id: str | None = None,
        event_id: UUID | None = None,
        occurred_at: datetime | None = None,
        correlation_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> NewEvent:
        if self.personal_fields and subject_id is None:
            raise ValueError(f"{self.event_type} carries personal data and needs a subject_id")
        optional: dict[str, Any] = {}
        if event_id is not None:
            optional["event_id"] = event_id
        if occurred_at is not None:
            optional["occurred_at"] = occurred_at
        return NewEvent(
            type=self.event_type,
            schema_version=self.schema_version,
            actor=actor,
            subject_id=subject_id,
            correlation_id=correlation_id,
            data=self.model_dump(mode="json"),
            metadata=metadata or {},
            personal_fields=self.personal_fields,
            **optional,
        )


class EventRegistry:
    """Maps stored type names to models, upcasting old schema versions on the way."""

    def __init__(self) -> None:
        self._models: dict[str, type[DomainEvent]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def event(self, model: E) -> E:
        """Class decorator: register ``model`` under its ``event_type``."""
        name = model.event_type
        if name in self._models and self._models[name] is not model:
            raise ValueError(f"event type {name} is registered twice")
        self._models[name] = model
        return model

    def upcaster(self, event_type: str, *, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator: turn data of ``from_version`` into ``from_version + 1``."""

        def register(function: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = function
            return function

        return register

    def model_for(self, event_type: str) -> type[DomainEvent]:
        try:
            return self._models[event_type]
        except KeyError:
            raise UnknownEventType(event_type, 0) from None

    def upcast(self, event_type: str, schema_version: int, data: dict[str, Any]) -> dict[str, Any]:
        """Stored data brought up to the current model's schema version."""
        current = self.model_for(event_type).schema_version
        version = schema_version
        while version < current:
            step = self._upcasters.get((event_type, version))
            if step is None:
                raise UnknownEventType(event_type, version)
            data = step(data)
            version += 1
        if version > current:
            raise UnknownEventType(event_type, schema_version)
        return data

    def decode(self, recorded: RecordedEvent) -> DomainEvent:
        """The domain event a recorded one holds, as its current model."""
        if recorded.redacted:
            raise SubjectKeyDestroyed(recorded.subject_id or "?")
        data = self.upcast(recorded.type, recorded.schema_version, dict(recorded.data))
        return self.model_for(recorded.type).model_validate(data)
