"""Signed checkpoints: the deployment's signed word on what the log held at a moment.

A checkpoint commits to the first ``tree_size`` events of the log twice over:
the RFC 9162 Merkle root of their hashes (so anyone can later be given a short
proof that an event is in the log, or that a later log only grew from this one)
and the hash chain's head hash at that position. It is signed with Ed25519.

The private key lives in a file outside the database (``sharehub audit keygen``);
anyone holding only the public key can verify every checkpoint. So an insider
who can rewrite the database but not read the key file can neither forge a new
checkpoint nor alter an old one unnoticed, and a copy of every checkpoint on a
JetStream stream that refuses deletes keeps the old ones even if the table is
rewritten.

The signed statement is a small fixed text, one field a line, in the spirit of
the transparency-log "checkpoint" notes: easy to re-derive in any language.

Pure values and functions; the store keeps checkpoints and ``workers`` holds keys.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

STATEMENT_ORIGIN = "sharehub event log"
STATEMENT_VERSION = "checkpoint v1"


class CheckpointKeyError(ValueError):
    """A key file is not an Ed25519 key of the kind expected."""


def checkpoint_statement(
    *, tree_size: int, root_hash: bytes, head_hash: bytes, signed_at: datetime
) -> bytes:
    """The exact bytes a checkpoint's signature covers."""
    if signed_at.tzinfo is None:
        raise ValueError("a checkpoint time must carry its time zone")
    moment = signed_at.astimezone(UTC).isoformat(timespec="microseconds")
    return (
        f"{STATEMENT_ORIGIN}\n{STATEMENT_VERSION}\n{tree_size}\n"
        f"{root_hash.hex()}\n{head_hash.hex()}\n{moment}\n"
    ).encode()


def key_id(public_key: Ed25519PublicKey) -> bytes:
    """A key's name: SHA-256 of its 32 raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).digest()


@dataclass(frozen=True, kw_only=True)
class SignedCheckpoint:
    tree_size: int
    root_hash: bytes
    head_hash: bytes
    signed_at: datetime
    key_id: bytes
    signature: bytes

    def statement(self) -> bytes:
        return checkpoint_statement(
            tree_size=self.tree_size,
            root_hash=self.root_hash,
            head_hash=self.head_hash,
            signed_at=self.signed_at,
        )

    def signature_problem(self, public_key: Ed25519PublicKey) -> str | None:
        """Why this checkpoint is not the trusted key's word, or None when it is."""
        trusted = key_id(public_key)
        if self.key_id != trusted:
            return (
                f"it names signing key {self.key_id.hex()[:16]}…, "
                f"not the trusted key {trusted.hex()[:16]}…"
            )
        try:
            public_key.verify(self.signature, self.statement())
        except InvalidSignature:
            return "its signature does not verify with the trusted key (forged or altered)"
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "head_hash": self.head_hash.hex(),
            "signed_at": self.signed_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "key_id": self.key_id.hex(),
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> SignedCheckpoint:
        """Raises ValueError (or KeyError, TypeError) for anything not written by as_json."""
        return cls(
            tree_size=int(value["tree_size"]),
            root_hash=bytes.fromhex(value["root_hash"]),
            head_hash=bytes.fromhex(value["head_hash"]),
            signed_at=datetime.fromisoformat(value["signed_at"]),
            key_id=bytes.fromhex(value["key_id"]),
            signature=bytes.fromhex(value["signature"]),
        )


class CheckpointSigner:
    """Signs checkpoints with the deployment's private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    def sign(
        self, *, tree_size: int, root_hash: bytes, head_hash: bytes, signed_at: datetime
    ) -> SignedCheckpoint:
        if tree_size < 1:
            raise ValueError("a checkpoint covers at least one event")
        statement = checkpoint_statement(
            tree_size=tree_size, root_hash=root_hash, head_hash=head_hash, signed_at=signed_at
        )
        return SignedCheckpoint(
            tree_size=tree_size,
            root_hash=root_hash,
            head_hash=head_hash,
            signed_at=signed_at,
            key_id=self.key_id,
            signature=self._key.sign(statement),
        )


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """Raises CheckpointKeyError when ``pem`` is not an unencrypted Ed25519 private key."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as e:
        raise CheckpointKeyError(f"not a PEM private key without a password ({e})") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointKeyError("the checkpoint signing key must be an Ed25519 key")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """Raises CheckpointKeyError when ``pem`` is not an Ed25519 public key."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as e:
        raise CheckpointKeyError(f"not a PEM public key ({e})") from e
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointKeyError("the checkpoint public key must be an Ed25519 key")
    return key
