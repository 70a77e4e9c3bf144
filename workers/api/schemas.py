"""The API's own request and response bodies, as the OpenAPI document shows them.

The bodies of hub actions are :mod:`workers.hub.actions` and the views of records
:mod:`workers.hub.views`: the operator CLI takes and prints the same ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from workers.hub.views import ActorOut, TimelineEntry
from workflows.models import Stage

T = TypeVar("T")
_OUT = ConfigDict(frozen=True)


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` for the next."""

    items: list[T]
    next_cursor: str | None


class RaiseAccepted(BaseModel):
    model_config = _OUT

    request_id: UUID
    stage: Stage
    detail: str


class EventOut(BaseModel):
    """An event exactly as the log holds it (personal fields decrypted unless shredded)."""

    global_position: int
    stream_id: str
    stream_version: int
    event_id: UUID
    type: str
    schema_version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: ActorOut
    correlation_id: str | None
    data: dict[str, Any]
    metadata: dict[str, Any]
    prev_hash: str
    hash: str
    redacted_fields: list[str]


class ChainBreak(BaseModel):
    global_position: int
    reason: str


class CheckpointOut(BaseModel):
    """A signed checkpoint; the signature covers the statement, rebuilt from the fields."""

    tree_size: int
    root_hash: str
    head_hash: str
    signed_at: datetime
    key_id: str
    signature: str
    statement: str


class CheckpointFailure(BaseModel):
    tree_size: int
    reason: str


class VerificationOut(BaseModel):
    intact: bool
    events_checked: int
    head_hash: str
    first_break: ChainBreak | None
    checkpoints_checked: int
    checkpoint_failure: CheckpointFailure | None
    latest_checkpoint: CheckpointOut | None
    bus_copy: str  # whether the checkpoints' copy on the bus was compared, and if not why


class InclusionProofOut(BaseModel):
    """RFC 9162 §2.1.3: leaf = SHA-256(0x00 || event_hash), at leaf_index, under the root."""

    event_id: UUID
    global_position: int
    leaf_index: int
    event_hash: str
    audit_path: list[str]
    checkpoint: CheckpointOut
    verifies: bool


class RequestStateOut(BaseModel):
    """A request rebuilt from its events up to a moment or position."""

    request: dict[str, Any] | None
    disclosures: list[dict[str, Any]]
    advice: list[dict[str, Any]]
    events_applied: int
    events_after: int
    timeline: list[TimelineEntry]


class Health(BaseModel):
    status: str
    components: dict[str, str] = {}
