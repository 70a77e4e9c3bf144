"""The checkpoint signing key pair on disk: made by ``sharehub audit keygen``, read here.

The private key signs checkpoints and is only ever a file readable by its
owner: never in the database, whose contents it vouches for. Auditors need only
the public key. A local stack (``sharehub up``) makes its pair once under the
home folder on first use, as it does its master key; a configured key file that
is missing is an error, not a reason to make a new key.

    AuditKeyError        a key file is missing, unreadable or not Ed25519
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from events.signed_checkpoints import (
    CheckpointKeyError,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
)
from workers.settings import Settings


class AuditKeyError(Exception):
    pass


def generate_key_pair(private_path: Path, public_path: Path) -> Ed25519PublicKey:
    """Write a new pair; refuses to replace an existing private key.

    Raises:
        AuditKeyError: ``private_path`` already exists.
    """
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise AuditKeyError(
            f"{private_path} already exists; a signing key is never replaced in place "
            "(checkpoints signed with it would no longer verify against a new public key)"
        ) from e
    with os.fdopen(fd, "wb") as out:
        out.write(private_key_pem(key))
    public_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.write_bytes(public_key_pem(key.public_key()))
    return key.public_key()


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The private key; for a local stack without a configured one, made on first use.

    Raises:
        AuditKeyError: the configured key file is missing or not an Ed25519 key.
    """
    path = settings.resolved_audit_signing_key_file()
    if not path.exists() and settings.audit_signing_key_file is None:
        # AuditKeyError here: another process of the stack made it first; use theirs.
        with contextlib.suppress(AuditKeyError):
            generate_key_pair(path, settings.resolved_audit_public_key_file())
    try:
        return load_private_key(path.read_bytes())
    except FileNotFoundError as e:
        raise AuditKeyError(
            f"no checkpoint signing key at {path} (make one with `sharehub audit keygen`)"
        ) from e
    except CheckpointKeyError as e:
        raise AuditKeyError(f"{path}: {e}") from e


def public_key(settings: Settings) -> Ed25519PublicKey:
    """The public key auditors verify checkpoints with.

    Raises:
        AuditKeyError: there is no public key file, or it is not an Ed25519 key.
    """
    path = settings.resolved_audit_public_key_file()
    try:
        return load_public_key(path.read_bytes())
    except FileNotFoundError as e:
        raise AuditKeyError(
            f"no checkpoint public key at {path} (set SHAREHUB_AUDIT_PUBLIC_KEY_FILE "
            "to the deployment's published key)"
        ) from e
    except CheckpointKeyError as e:
        raise AuditKeyError(f"{path}: {e}") from e
