"""Event models: frozen values, a type registry, upcasting of old schema versions."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import ValidationError

from events.envelope import RecordedEvent
from events.errors import UnknownEventType
from events.registry import DomainEvent, EventRegistry
from tests.events.sample_events import OFFICER, ConcernNoted, concern, registry


def recorded(event_type: str, schema_version: int, data: dict[str, object]) -> RecordedEvent:
    return RecordedEvent(
        global_position=1,
        stream_id="s",
        stream_version=1,
        event_id=uuid4(),
        type=event_type,
        schema_version=schema_version,
        occurred_at=datetime.now(UTC),
        recorded_at=datetime.now(UTC),
        actor=OFFICER,
        correlation_id=None,
        subject_id=None,
        data=data,
        metadata={},
        prev_hash=bytes(32),
        hash=bytes(32),
    )


def test_events_are_frozen() -> None:
    event = concern()
    with pytest.raises(ValidationError):
        event.summary = "changed"  # type: ignore[misc]


def test_new_event_carries_type_and_schema_version() -> None:
    new = concern().to_new_event(actor=OFFICER)
    assert (new.type, new.schema_version) == ("ConcernNoted", 2)
    assert new.data == {"summary": "bruising seen at school", "rag": "red"}


def test_old_versions_are_upcast_to_the_current_model() -> None:
    old = recorded("ConcernNoted", 1, {"summary": "late to school"})
    assert registry.decode(old) == ConcernNoted(summary="late to school", rag="amber")


def test_current_version_decodes_as_is() -> None:
    assert registry.decode(recorded("ConcernNoted", 2, {"summary": "x", "rag": "green"})) == (
        ConcernNoted(summary="x", rag="green")
    )


def test_unknown_types_and_versions_are_specific_errors() -> None:
    with pytest.raises(UnknownEventType):
        registry.decode(recorded("NoSuchEvent", 1, {}))
    with pytest.raises(UnknownEventType):
        registry.decode(recorded("ConcernNoted", 3, {"summary": "x", "rag": "red"}))


def test_a_type_name_cannot_be_registered_for_two_models() -> None:
    local = EventRegistry()

    @local.event
    class First(DomainEvent):
        event_type = "Same"

    with pytest.raises(ValueError, match="twice"):

        @local.event
        class Second(DomainEvent):
            event_type = "Same"
