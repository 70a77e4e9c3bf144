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
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import rfc8785

GENESIS_HASH = bytes(32)
_MAX_SAFE_INTEGER = 2**53 - 1


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON-compatible value."""
    if type(value) is str or _is_plain_json(value):
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
            if not all(type(key) is str and key.isascii() for key in item):
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


class CanonicalTemplate:
    """The canonical bytes of an object, with a few members filled in later.

    The store renders most of an event's canonical form before it queues for the
    append lock, and fills in only what is known under the lock (global position,
    stream version, recorded time), so the serialised section stays short. The
    object is serialised once with a unique placeholder in each slot, and the
    bytes are cut where the placeholders landed.
    """

    # One marker per process: a NUL-framed random token no event can contain by accident.
    _MARKER = os.urandom(8).hex()

    def __init__(self, fixed: Mapping[str, Any], slots: tuple[str, ...]) -> None:
        if set(slots) & fixed.keys():
            raise ValueError("slots must be distinct from the fixed members")
        placeholders = {slot: f"\x00{self._MARKER}:{slot}\x00" for slot in slots}
        whole = canonical_json({**fixed, **placeholders})
        self._slots = slots
        self._order: list[str] = []
        self._literals: list[bytes] = []
        encoded = {slot: canonical_json(text) for slot, text in placeholders.items()}
        cuts = sorted((whole.index(encoded[slot]), slot) for slot in slots)
        start = 0
        for offset, slot in cuts:
            self._literals.append(whole[start:offset])
            self._order.append(slot)
            start = offset + len(encoded[slot])
        self._literals.append(whole[start:])

    def render(self, **values: Any) -> bytes:
        if values.keys() != set(self._slots):
            raise ValueError(f"expected values for {sorted(self._slots)}")
        parts = [self._literals[0]]
        for key, literal in zip(self._order, self._literals[1:], strict=True):
            parts.append(canonical_json(values[key]))
            parts.append(literal)
        return b"".join(parts)


def chain_hash(prev_hash: bytes, canonical: bytes) -> bytes:
    return hashlib.sha256(prev_hash + canonical).digest()


def format_timestamp(moment: datetime) -> str:
    """UTC, microsecond precision, ``Z`` suffix: one spelling for every instant."""
    if moment.tzinfo is None:
        raise ValueError("timestamps in events must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
