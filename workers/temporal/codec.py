"""Encryption of every Temporal payload, and refusal of any payload sharehub did not send.

Workflow inputs, results, activity arguments, signals, updates, memos and failure
details all pass through a payload codec on their way to the Temporal server.
:class:`EncryptionCodec` replaces each payload by one whose data is the whole
original payload (metadata included: it names the encoding and the pydantic
type) encrypted with AES-256-GCM, and whose metadata says only
``encoding: binary/encrypted`` and the ``encryption-key-id``. The format is the
one of temporalio/samples-python ``encryption/codec.py``, so a codec server
built like that sample can show the history to someone holding the key.

The key comes from the deployment's master key through HKDF-SHA256, so every
process of one deployment (worker, API, CLI) agrees on it with no new setting,
and the key id is a fingerprint of the derived key, never the key itself.

AES-GCM authenticates as well as hides: only a holder of the key can make a
payload that opens. So whatever does not open (plaintext, as the ``temporal`` CLI
sends; another key; altered ciphertext) was not sent by sharehub, and is refused.
The refusal happens in two steps, because of where a codec runs:

1. ``decode`` never raises. It replaces the payload by a *refused* marker
   (``encoding: binary/sharehub-refused`` and a reason, nothing of the original).
   Raising there would fail the whole workflow activation: the Python SDK retries
   a workflow task that fails to decode for ever, wedging a running request, and
   one payload in an activation would take down the legitimate jobs beside it.
2. :class:`RefusingPayloadConverter` turns a marker into :class:`PayloadRefused`,
   a non-retryable ``ApplicationError``, when something asks for its value. In a
   workflow the SDK handles that as a business rejection: an Update is rejected
   before its validator runs (a rejection is recorded nowhere), a start fails the
   new workflow before it runs any code, and a Signal is dropped.

The SDK's own plaintext payloads (patch markers, and search attributes such as
``TemporalChangeVersion``) never reach the codec: core writes and reads markers
itself, and the SDK skips search attributes when it decodes an activation.

Exceptions::

    ApplicationError (temporalio)
     +-- PayloadRefused    a payload that did not open under any key we accept
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import EncodingPayloadConverter, PayloadCodec
from temporalio.exceptions import ApplicationError

ENCRYPTED_ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
REFUSED_ENCODING = b"binary/sharehub-refused"
REFUSAL_METADATA = "sharehub-refusal"
# A new info string gives a new, unrelated key: bump the version to rotate.
_HKDF_INFO = b"sharehub temporal payloads v1"
_NONCE_BYTES = 12
_KEY_ID = re.compile(rb"[0-9a-f]{16}")


class PayloadRefused(ApplicationError):
    """A Temporal payload that is not sharehub ciphertext under a key we accept.

    Non-retryable, so that a workflow refuses it as a business rejection; the
    message names only the reason, never anything the payload carried.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"refused a Temporal payload that sharehub did not send: {reason}",
            type="PayloadRefused",
            non_retryable=True,
        )
        self.reason = reason


def derive_payload_key(master_key: bytes) -> bytes:
    """The 32-byte payload key of the deployment whose master key is ``master_key``."""
    if len(master_key) != 32:
        raise ValueError("the master key must be 32 bytes")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(master_key)


def key_id_of(key: bytes) -> str:
    """A public name for ``key``: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:16]


def refused(reason: str) -> Payload:
    """The marker ``decode`` leaves in place of a payload it refuses."""
    return Payload(metadata={"encoding": REFUSED_ENCODING, REFUSAL_METADATA: reason.encode()})


def is_refused(payload: Payload) -> bool:
    return payload.metadata.get("encoding") == REFUSED_ENCODING


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over whole payloads, with the key id in clear in the metadata.

    Build it from the master key for the deployment's key::

        codec = EncryptionCodec.for_master_key(settings.master_key_bytes())

    It encrypts under ``key``; it opens payloads under ``key`` or any of
    ``old_keys`` (the keys of a rotation still under way), and replaces every
    other payload by a :func:`refused` marker.
    """

    def __init__(self, key: bytes, *, old_keys: Sequence[bytes] = ()) -> None:
        super().__init__()
        for candidate in (key, *old_keys):
            if len(candidate) != 32:
                raise ValueError("an AES-256-GCM key is 32 bytes")
        self.key_id = key_id_of(key)
        self._cipher = AESGCM(key)
        self._openers = {key_id_of(k): AESGCM(k) for k in (*old_keys, key)}

    @classmethod
    def for_master_key(
        cls, master_key: bytes, *, old_master_keys: Sequence[bytes] = ()
    ) -> EncryptionCodec:
        return cls(
            derive_payload_key(master_key),
            old_keys=[derive_payload_key(old) for old in old_master_keys],
        )

    @property
    def accepted_key_ids(self) -> frozenset[str]:
        return frozenset(self._openers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload(
                metadata={
                    "encoding": ENCRYPTED_ENCODING,
                    KEY_ID_METADATA: self.key_id.encode(),
                },
                data=self._encrypt(payload.SerializeToString()),
            )
            for payload in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._open(payload) for payload in payloads]

    def _encrypt(self, plaintext: bytes) -> bytes:
        # No associated data, as in the Temporal samples, so that their codec
        # servers (Python, Go, TypeScript) can open these payloads too.
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._cipher.encrypt(nonce, plaintext, None)

    def _open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCRYPTED_ENCODING:
            return refused("it is not encrypted")
        raw_key_id = payload.metadata.get(KEY_ID_METADATA, b"")
        # The key id is the sender's to choose: name it only if it looks like one.
        key_id = raw_key_id.decode() if _KEY_ID.fullmatch(raw_key_id) else "(unreadable)"
        opener = self._openers.get(key_id)
        if opener is None:
            return refused(f"it is encrypted under key id {key_id}, which is not this deployment's")
        sealed = payload.data
        try:
            plaintext = opener.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], None)
        except (InvalidTag, ValueError):  # ValueError: too short to hold a nonce
            return refused(f"it failed authentication under key id {key_id}: altered or truncated")
        return Payload.FromString(plaintext)  # authentic: written by a holder of the key


class _RefusedPayloads(EncodingPayloadConverter):
    """Reads a refused marker as :class:`PayloadRefused`; never writes anything."""

    @property
    def encoding(self) -> str:
        return REFUSED_ENCODING.decode()

    def to_payload(self, value: Any) -> Payload | None:
        return None

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        reason = payload.metadata.get(REFUSAL_METADATA, b"unknown").decode(errors="replace")
        raise PayloadRefused(reason)


class RefusingPayloadConverter(PydanticPayloadConverter):
    """pydantic's payload converter, which raises :class:`PayloadRefused` on a refused marker."""

    def __init__(self) -> None:  # nullary: the SDK rebuilds it with type(self)()
        super().__init__()
        self._set_converters(*self.converters.values(), _RefusedPayloads())
