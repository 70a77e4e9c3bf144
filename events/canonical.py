"""Canonical form and hash chain of recorded events.

The hash of an event is ``SHA-256(prev_hash ‖ canonical)``, where ``canonical`` is the
RFC 8785 (JSON Canonicalization Scheme) serialisation of the event envelope: sorted
keys, no whitespace, UTF-8. Every event links to the one before it in global order,
so one chain covers the whole log; the first event links to ``GENESIS_HASH``.

The reference implementation (the ``rfc8785`` package) is pure Python and slow
enough to dominate an append. For the JSON events are made of — strings, safe
integers, booleans, null, ASCII keys — ``orjson`` with sorted keys writes exactly
the same bytes: compact, UTF-8, the same escapes (``\\b \\f \\n \\r \\t``, other
control characters as lowercase ``\\u00xx``) and the same key order. Anything else
(floats, whose spelling differs, big integers, non-ASCII keys, whose RFC 8785
order is by UTF-16 code units) goes to the reference implementation. A
property-based test holds the two to the same output.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple
from uuid import UUID

import orjson
import rfc8785

GENESIS_HASH = bytes(32)
_MAX_SAFE_INTEGER = 2**53 - 1


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON-compatible value."""
    kind = type(value)
    if kind is str:
        try:
            return orjson.dumps(value)
        except orjson.JSONEncodeError:  # a lone surrogate: let the reference reject it
            return rfc8785.dumps(value)
    if value is None:
        return b"null"
    if kind is int and -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER:
        return str(value).encode()
    if _is_plain_json(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # a lone surrogate: let the reference reject it
            pass
    return rfc8785.dumps(value)


def _is_plain_json(value: Any) -> bool:
    """Whether the standard encoder's compact output is already RFC 8785."""
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is dict:
            for key in item:  # a plain loop: all() over a generator costs more here
                if type(key) is not str or not key.isascii():
                    return False
            members = item.values()
        elif kind is list or kind is tuple:
            members = item
        else:
            members = (item,)
        # Leaves are checked here rather than queued: most members are strings.
        for member in members:
            member_kind = type(member)
            if member_kind is str or member_kind is bool or member is None:
                continue
            if member_kind is int:
                if -_MAX_SAFE_INTEGER <= member <= _MAX_SAFE_INTEGER:
                    continue
                return False
            if member_kind is dict or member_kind is list or member_kind is tuple:
                pending.append(member)
                continue
            return False
    return True


def timestamp_json(moment: datetime) -> bytes:
    """The canonical JSON of ``format_timestamp(moment)``."""
    if type(moment) is datetime and moment.tzinfo is UTC and moment.microsecond:
        # orjson spells a UTC instant just so, except that it drops a zero fraction.
        return orjson.dumps(moment, option=orjson.OPT_UTC_Z)
    return canonical_json(format_timestamp(moment))


def uuid_json(value: UUID) -> bytes:
    """The canonical JSON of ``str(value)``."""
    if type(value) is UUID:
        return orjson.dumps(value)  # the same lowercase, hyphenated spelling as str()
    return canonical_json(str(value))


class EnvelopeParts(NamedTuple):
    """An event envelope's members, each already in canonical form.

    RFC 8785 serialises an object as its members in key order, each value in its
    own canonical form, so the envelope's canonical bytes are these parts joined
    in a fixed order. The store renders the parts before it queues for the append
    lock and joins them once it knows the global position, stream version and
    recorded time. The same parts are what the JSON columns store, which lets the
    database rebuild the canonical bytes from the columns by concatenation alone
    (``events_canonical_from_columns`` in the schema) — no JSON parsing — when an
    auditor checks that no column was edited. A named tuple, not a dataclass: one
    is made for every event appended, and a tuple is made several times faster.
    """

    actor: bytes
    correlation_id: bytes
    data: bytes
    event_id: bytes
    metadata: bytes
    occurred_at: bytes
    schema_version: bytes
    stream_id: bytes
    subject_id: bytes
    type: bytes

    @classmethod
    def of(cls, envelope: Mapping[str, Any]) -> EnvelopeParts:
        return cls(**{name: canonical_json(envelope[name]) for name in cls._fields})

    def render(self, *, global_position: int, stream_version: int, recorded_at: str) -> bytes:
        return self.render_json(global_position, stream_version, canonical_json(recorded_at))

    def render_json(self, global_position: int, stream_version: int, recorded_at: bytes) -> bytes:
        """As ``render``, with ``recorded_at`` already in canonical form; one C call."""
        return _ENVELOPE % (
            self.actor,
            self.correlation_id,
            self.data,
            self.event_id,
            global_position,
            self.metadata,
            self.occurred_at,
            recorded_at,
            self.schema_version,
            self.stream_id,
            stream_version,
            self.subject_id,
            self.type,
        )


# The envelope's members in RFC 8785 order (all keys ASCII, so plain string order).
_ENVELOPE = (
    b'{"actor":%b,"correlation_id":%b,"data":%b,"event_id":%b,"global_position":%d,'
    b'"metadata":%b,"occurred_at":%b,"recorded_at":%b,"schema_version":%b,"stream_id":%b,'
    b'"stream_version":%d,"subject_id":%b,"type":%b}'
)


def chain_hash(prev_hash: bytes, canonical: bytes) -> bytes:
    return hashlib.sha256(prev_hash + canonical).digest()


def format_timestamp(moment: datetime) -> str:
    """UTC, microsecond precision, ``Z`` suffix: one spelling for every instant.

    The schema's ``events_canonical_from_columns`` spells it the same way.
    """
    if moment.tzinfo is None:
        raise ValueError("timestamps in events must be timezone-aware")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
