"""Encryption of personal data inside events, with one data key per subject.

Each subject (a child, a family) gets its own random AES-256-GCM data key. The
key is stored wrapped (encrypted) under the deployment's master key, never in
the clear. Personal fields of an event are encrypted with the subject's key
before the event is hashed and recorded, so the hash covers ciphertext:
destroying the key ("crypto-shredding") makes the data unreadable at the end of
retention while every hash in the chain still verifies.

A field is bound to its event and name through the AEAD associated data, so a
ciphertext copied into another event or field fails to decrypt.

Pure functions and values only; the keys are persisted by the store.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events.canonical import canonical_json
from events.envelope import REDACTED

CIPHERTEXT_PREFIX = "sharehub:aes256gcm:v1:"
_NONCE_BYTES = 12


class KeyWrapper:
    """Wraps and unwraps per-subject data keys with the master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the master key must be 32 bytes")
        self._master = AESGCM(master_key)

    def new_wrapped_key(self, subject_id: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._master.encrypt(nonce, AESGCM.generate_key(256), subject_id.encode())

    def unwrap(self, subject_id: str, wrapped: bytes) -> bytes:
        nonce, sealed = wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:]
        return self._master.decrypt(nonce, sealed, subject_id.encode())


def _associated_data(event_id: UUID, field: str) -> bytes:
    return f"{event_id}/{field}".encode()


def is_encrypted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(CIPHERTEXT_PREFIX)


def encrypt_fields(
    data_key: bytes, event_id: UUID, data: Mapping[str, Any], personal_fields: Iterable[str]
) -> dict[str, Any]:
    """A copy of ``data`` whose personal fields are replaced by their ciphertext."""
    cipher = AESGCM(data_key)
    sealed = dict(data)
    for field in personal_fields:
        if field not in sealed:
            continue
        nonce = os.urandom(_NONCE_BYTES)
        plaintext = canonical_json(sealed[field])
        token = cipher.encrypt(nonce, plaintext, _associated_data(event_id, field))
        sealed[field] = CIPHERTEXT_PREFIX + base64.b64encode(nonce + token).decode("ascii")
    return sealed


def decrypt_fields(
    data_key: bytes | None, event_id: UUID, data: Mapping[str, Any]
) -> tuple[dict[str, Any], frozenset[str]]:
    """``data`` with personal fields decrypted, and the names of those left redacted.

    With no key (the subject was shredded) every encrypted field reads ``REDACTED``.
    """
    opened = dict(data)
    redacted: set[str] = set()
    cipher = AESGCM(data_key) if data_key is not None else None
    for field, value in data.items():
        if not is_encrypted(value):
            continue
        if cipher is None:
            opened[field] = REDACTED
            redacted.add(field)
            continue
        raw = base64.b64decode(value.removeprefix(CIPHERTEXT_PREFIX))
        try:
            plaintext = cipher.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _associated_data(event_id, field)
            )
        except InvalidTag:
            opened[field] = REDACTED
            redacted.add(field)
            continue
        opened[field] = json.loads(plaintext)
    return opened, frozenset(redacted)
