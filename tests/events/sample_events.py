"""Domain events used by the store tests (the product's own events come later)."""

from __future__ import annotations

from typing import Any

from events.envelope import Actor
from events.registry import DomainEvent, EventRegistry

registry = EventRegistry()

OFFICER = Actor(id="officer-1", role="hub_officer", agency="lbm-csc")


@registry.event
class ConcernNoted(DomainEvent):
    event_type = "ConcernNoted"
    schema_version = 2
    summary: str
    rag: str


@registry.upcaster("ConcernNoted", from_version=1)
def _concern_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # Version 1 had no rating; such concerns were screened as amber.
    return {**data, "rag": "amber"}


@registry.event
class ChildIdentified(DomainEvent):
    event_type = "ChildIdentified"
    personal_fields = frozenset({"name", "date_of_birth", "nhs_number"})
    name: str
    date_of_birth: str
    nhs_number: str
    area: str


def concern(summary: str = "bruising seen at school", rag: str = "red") -> ConcernNoted:
    return ConcernNoted(summary=summary, rag=rag)
