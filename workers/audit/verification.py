"""Verifying the log now: its hash chain, its signed checkpoints, and their copy on the bus.

One behaviour for every door — ``sharehub audit verify``, ``GET /v1/audit/verification``
and the console's ``/audit`` page — each of which only presents the
:class:`Verification` that :func:`verify_now` returns:

- the chain is always walked (:func:`events.verify.verify_log`);
- the signed checkpoints are checked with the deployment's public key
  (:func:`trusted_key`). When checkpoints are signed but no public key loads, they
  cannot be checked, and that is a failure like a broken chain: signatures nobody
  checked vouch for nothing. Before any checkpoint is signed, a missing key is no
  failure;
- with a key, and unless the caller leaves the bus out, the checkpoints are also
  compared with their copy on JetStream (:mod:`workers.audit.checkpointer`). No
  NATS configured, or NATS unreachable, leaves the copy uncompared, and
  :class:`BusCopy` says so; a copy that does not read as checkpoints is a failure.

When the key or the bus copy fails, the signed checkpoints are left unchecked
(:attr:`Verification.unchecked`) and the walk checks the chain alone: a checkpoint
is only ever reported verified against everything it is checked against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import nats.errors
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from events.signed_checkpoints import SignedCheckpoint
from events.store import EventStore
from events.verify import CheckpointFailure, ProgressCallback, VerificationReport, verify_log
from workers.audit.checkpointer import CheckpointerError, checkpoint_copies
from workers.audit.keys import AuditKeyError, public_key
from workers.settings import Settings, StackNotFound


@dataclass(frozen=True, kw_only=True)
class TrustedKey:
    """The deployment's public key for checkpoints, or why it could not be loaded."""

    key: Ed25519PublicKey | None
    problem: str | None = None

    def signature_verdict(self, checkpoint: SignedCheckpoint) -> str:
        """``verifies``, or why the checkpoint's signature does not, or was not checked."""
        if self.key is None:
            return f"not checked: {self.problem}"
        return checkpoint.signature_problem(self.key) or "verifies"


def trusted_key(settings: Settings) -> TrustedKey:
    """The public key auditors check checkpoints with (:func:`workers.audit.keys.public_key`)."""
    try:
        return TrustedKey(key=public_key(settings))
    except AuditKeyError as e:
        return TrustedKey(key=None, problem=str(e))


BusCopyState = Literal["compared", "not asked", "no key", "no NATS", "unreachable", "unreadable"]


@dataclass(frozen=True, kw_only=True)
class BusCopy:
    """What became of comparing the checkpoints with their copy on the bus.

    ``state`` is ``compared`` (``compared`` checkpoints were on the copy), or why
    not: ``not asked`` (the caller left the bus out), ``no key`` (nothing to check
    checkpoints with), ``no NATS`` (none configured), ``unreachable`` (NATS did not
    answer; ``problem`` is the error's repr), ``unreadable`` (a message on the copy
    is not a checkpoint; ``problem`` says which — a failure).
    """

    state: BusCopyState
    stream: str
    compared: int = 0
    problem: str = ""


@dataclass(frozen=True, kw_only=True)
class Verification:
    """The log as verified now, with what the verification could check it against."""

    report: VerificationReport
    trusted: TrustedKey
    bus_copy: BusCopy
    unchecked: tuple[SignedCheckpoint, ...] = ()
    """The signed checkpoints left unchecked because the key or the bus copy failed."""

    @property
    def uncheckable(self) -> str | None:
        """Why the signed checkpoints could not be checked at all (a failure), if so."""
        if self.trusted.key is None and self.unchecked:
            return self.trusted.problem
        if self.bus_copy.state == "unreadable":
            return f"their copy on the bus does not read as checkpoints ({self.bus_copy.problem})"
        return None

    @property
    def intact(self) -> bool:
        """The chain and every signed checkpoint verified, against everything they are
        checked against."""
        return self.report.intact and self.uncheckable is None

    @property
    def checkpoint_failure(self) -> CheckpointFailure | None:
        """The first checkpoint that fails, counting one that could not be checked at all.

        Signed checkpoints that could not be checked fail from the first of them
        (tree size 0 when the database holds none, as when only their bus copy does).
        """
        if self.report.checkpoint_failure is not None:
            return self.report.checkpoint_failure
        why = self.uncheckable
        if why is None:
            return None
        return CheckpointFailure(
            tree_size=self.unchecked[0].tree_size if self.unchecked else 0,
            reason=f"the signed checkpoints cannot be checked: {why}",
        )


async def verify_now(
    store: EventStore,
    settings: Settings,
    *,
    bus: bool = True,
    on_progress: ProgressCallback | None = None,
) -> Verification:
    """Walk the chain and check the signed checkpoints (and their bus copy) as they are now.

    Args:
        store: the event store to verify.
        settings: where the public key and the bus are.
        bus: compare the checkpoints with their copy on the bus (when there is a key).
        on_progress: called with the number of events walked, as
            :func:`events.verify.verify_log` calls it.

    Raises:
        EventStoreError: the store failed.
    """
    trusted = trusted_key(settings)
    if trusted.key is None:
        copy, copies = BusCopy(state="no key", stream=settings.checkpoint_stream), None
    elif bus:
        copy, copies = await _bus_copy(settings)
    else:
        copy, copies = BusCopy(state="not asked", stream=settings.checkpoint_stream), None
    if trusted.key is None or copy.state == "unreadable":
        report = await verify_log(store, on_progress=on_progress)
        # Read after the walk, so a checkpoint signed during it is not missed.
        unchecked = tuple(await store.signed_checkpoints())
        return Verification(report=report, trusted=trusted, bus_copy=copy, unchecked=unchecked)
    report = await verify_log(
        store, public_key=trusted.key, bus_copies=copies, on_progress=on_progress
    )
    return Verification(report=report, trusted=trusted, bus_copy=copy)


async def _bus_copy(settings: Settings) -> tuple[BusCopy, list[SignedCheckpoint] | None]:
    """The checkpoints' copy on the bus, and what became of reading it."""
    stream = settings.checkpoint_stream
    try:
        async with checkpoint_copies(settings) as copies:
            found = await copies.all()
    except StackNotFound:
        return BusCopy(state="no NATS", stream=stream), None
    except CheckpointerError as e:
        return BusCopy(state="unreadable", stream=stream, problem=str(e)), None
    except (OSError, TimeoutError, nats.errors.Error) as e:
        return BusCopy(state="unreachable", stream=stream, problem=repr(e)), None
    return BusCopy(state="compared", stream=copies.stream, compared=len(found)), found
