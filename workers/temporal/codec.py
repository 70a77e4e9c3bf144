"""Encryption of every Temporal payload, so Temporal's history holds no plaintext.

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

Exceptions::

    PayloadCodecError
     +-- UnknownPayloadKey      the payload was encrypted under a key we do not hold
     +-- PayloadTampered        the ciphertext or its nonce was altered, or truncated
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCRYPTED_ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
# A new info string gives a new, unrelated key: bump the version to rotate.
_HKDF_INFO = b"sharehub temporal payloads v1"
_NONCE_BYTES = 12


class PayloadCodecError(Exception):
    """A Temporal payload could not be decrypted."""


class UnknownPayloadKey(PayloadCodecError):
    def __init__(self, key_id: str, known: Sequence[str]) -> None:
        super().__init__(
            f"Temporal payload is encrypted with key id {key_id!r}, but this process holds "
            f"only {', '.join(repr(k) for k in known)}; was it written by another deployment "
            "(a different SHAREHUB_MASTER_KEY)?"
        )
        self.key_id = key_id


class PayloadTampered(PayloadCodecError):
    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"Temporal payload encrypted with key id {key_id!r} failed authentication: "
            "its ciphertext has been altered or truncated"
        )
        self.key_id = key_id


def derive_payload_key(master_key: bytes) -> bytes:
    """The 32-byte payload key of the deployment whose master key is ``master_key``."""
    if len(master_key) != 32:
        raise ValueError("the master key must be 32 bytes")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(master_key)


def key_id_of(key: bytes) -> str:
    """A public name for ``key``: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:16]


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over whole payloads, with the key id in clear in the metadata.

    Build it from the master key for the deployment's key::

        codec = EncryptionCodec.for_master_key(settings.master_key_bytes())

    Payloads that are not encrypted pass through ``decode`` unchanged, so a
    history written before encryption was turned on still reads.
    """

    def __init__(self, key: bytes) -> None:
        super().__init__()
        if len(key) != 32:
            raise ValueError("an AES-256-GCM key is 32 bytes")
        self.key_id = key_id_of(key)
        self._cipher = AESGCM(key)

    @classmethod
    def for_master_key(cls, master_key: bytes) -> EncryptionCodec:
        return cls(derive_payload_key(master_key))

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
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCRYPTED_ENCODING:
                decoded.append(payload)
                continue
            key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
            if key_id != self.key_id:
                raise UnknownPayloadKey(key_id, [self.key_id])
            decoded.append(Payload.FromString(self._decrypt(payload.data)))
        return decoded

    def _encrypt(self, plaintext: bytes) -> bytes:
        # No associated data, as in the Temporal samples, so that their codec
        # servers (Python, Go, TypeScript) can open these payloads too.
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._cipher.encrypt(nonce, plaintext, None)

    def _decrypt(self, sealed: bytes) -> bytes:
        try:
            return self._cipher.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], None)
        except (InvalidTag, ValueError) as e:
            raise PayloadTampered(self.key_id) from e
