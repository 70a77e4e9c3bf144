"""``sharehub audit …`` and ``sharehub retention run``, run as an auditor runs them."""

from __future__ import annotations

import base64
import csv
import io
import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fhir.resources.bundle import Bundle

from events.postgres import PostgresEventStore
from events.share_requests import ShareRequestClosed
from events.signed_checkpoints import CheckpointSigner, load_private_key
from tests.events.conftest import MASTER_KEY
from tests.events.test_signed_checkpoints import sign_now
from tests.workers.audit.test_report import full_share
from tests.workers.cli.test_app import cli_env, sharehub
from tests.workflows.scenario import MANAGER

__all__ = ["cli_env"]  # the fixture, shared with test_cli


@pytest.fixture
async def audited(cli_env: dict[str, str], empty_database: str, tmp_path: Path) -> dict[str, str]:
    """A migrated database holding one decided and closed request, and a key pair."""
    env = {
        **cli_env,
        "SHAREHUB_DATABASE_URL": empty_database,
        "SHAREHUB_AUDIT_SIGNING_KEY_FILE": str(tmp_path / "keys" / "signing.pem"),
    }
    assert sharehub("db", "migrate", env=env).returncode == 0
    made = sharehub("audit", "keygen", env=env)
    assert made.returncode == 0, made.stderr
    return env


def signer_of(env: dict[str, str]) -> CheckpointSigner:
    return CheckpointSigner(
        load_private_key(Path(env["SHAREHUB_AUDIT_SIGNING_KEY_FILE"]).read_bytes())
    )


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_replaces_one(
    audited: dict[str, str],
) -> None:
    private = Path(audited["SHAREHUB_AUDIT_SIGNING_KEY_FILE"])
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.with_suffix(".pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    again = sharehub("audit", "keygen", env=audited)
    assert again.returncode == 2
    assert "already exists" in again.stderr


async def test_verify_prove_replay_report_and_retention(audited: dict[str, str]) -> None:
    history = full_share()
    closed_at = history.steps[-1][2] + timedelta(days=1)
    history.add(MANAGER, closed_at, ShareRequestClosed(outcome="share"))
    url = audited["SHAREHUB_DATABASE_URL"]
    async with await PostgresEventStore.open(url, master_key=MASTER_KEY) as store:
        await history.append_to(store)
        await sign_now(store, signer_of(audited))
        events = await store.read_stream(f"share-request-{history.request_id}")
    env = {**audited, "SHAREHUB_MASTER_KEY": base64.b64encode(MASTER_KEY).decode()}
    request_id = str(history.request_id)

    verified = sharehub("audit", "verify", env=env)
    assert verified.returncode == 0, verified.stderr
    assert "chain intact:" in verified.stdout
    assert "checkpoints verified: 1" in verified.stdout
    assert "bus copy: not compared" in verified.stdout  # no NATS in this environment

    decision = next(e for e in events if e.type == "DecisionRecorded")
    proved = sharehub("audit", "prove", str(decision.event_id), "--json", env=env)
    assert proved.returncode == 0, proved.stderr
    proof = json.loads(proved.stdout)
    assert proof["proof_verifies"] is True and proof["signature"] == "verifies"
    assert proof["global_position"] == decision.global_position

    before = sharehub(
        "audit", "replay", request_id, "--position", str(decision.global_position - 1), env=env
    )
    assert before.returncode == 0, before.stderr
    assert "not decided" in before.stdout
    as_json = sharehub("audit", "replay", request_id, "--json", env=env)
    state = json.loads(as_json.stdout)
    assert state["request"]["outcome"] == "share" and state["request"]["stage"] == "closed"
    assert "Amara" not in as_json.stdout

    table = sharehub("audit", "report", "--from", "2026-03-01", "--to", "2026-04-01", env=env)
    assert table.returncode == 0, table.stderr
    [row] = csv.DictReader(io.StringIO(table.stdout))
    assert (row["request_id"], row["outcome"]) == (request_id, "share")
    fhir = sharehub(
        "audit",
        "report",
        "--from",
        "2026-03-01",
        "--to",
        "2026-04-01",
        "--format",
        "fhir",
        env=env,
    )
    Bundle.model_validate_json(fhir.stdout)
    bad = sharehub("audit", "report", "--from", "2026-04-01", "--to", "2026-03-01", env=env)
    assert bad.returncode == 2 and "--to must be after --from" in bad.stderr

    # Retention by the store's own clock: closure was recorded now, so only a run
    # "as of" seven years on finds it due.
    early = sharehub("retention", "run", "--dry-run", env=env)
    assert "0 subjects due" in early.stdout
    later = sharehub("retention", "run", "--as-of", "2040-01-01T00:00:00Z", env=env)
    assert later.returncode == 0, later.stderr
    assert f"1 subjects shredded\n  share-request-{request_id}" in later.stdout
    after = sharehub("audit", "report", "--from", "2026-03-01", "--to", "2026-04-01", env=env)
    [row] = csv.DictReader(io.StringIO(after.stdout))
    assert row["child"] == "[redacted]"
    assert sharehub("audit", "verify", env=env).returncode == 0


async def test_verify_fails_at_a_checkpoint_signed_with_another_key(
    audited: dict[str, str],
) -> None:
    url = audited["SHAREHUB_DATABASE_URL"]
    async with await PostgresEventStore.open(url, master_key=MASTER_KEY) as store:
        await full_share().append_to(store)
        await sign_now(store, CheckpointSigner(Ed25519PrivateKey.generate()))
    broken = sharehub("audit", "verify", env=audited)
    assert broken.returncode == 1
    assert "checkpoint FAILED at tree size" in broken.stderr
    assert "not the trusted key" in broken.stderr
    unproven = sharehub("audit", "prove", "00000000-0000-0000-0000-000000000007", env=audited)
    assert unproven.returncode == 1 and "no event" in unproven.stderr


async def test_verify_fails_when_checkpoints_are_signed_but_no_public_key_loads(
    audited: dict[str, str],
) -> None:
    url = audited["SHAREHUB_DATABASE_URL"]
    async with await PostgresEventStore.open(url, master_key=MASTER_KEY) as store:
        await full_share().append_to(store)
        checkpoint = await sign_now(store, signer_of(audited))
        [first] = await store.read_all(limit=1)
    without_bus = sharehub("audit", "verify", "--no-bus", env=audited)
    assert without_bus.returncode == 0, without_bus.stderr
    assert f"latest at tree size {checkpoint.tree_size}" in without_bus.stdout
    assert "bus copy" not in without_bus.stdout  # not asked, so not mentioned

    Path(audited["SHAREHUB_AUDIT_SIGNING_KEY_FILE"]).with_suffix(".pub").unlink()
    unchecked = sharehub("audit", "verify", env=audited)
    assert unchecked.returncode == 2
    assert "cannot check the signed checkpoints: no checkpoint public key at" in unchecked.stderr
    assert unchecked.stdout == ""
    unproven = sharehub("audit", "prove", str(first.event_id), env=audited)
    assert unproven.returncode == 1
    assert "signature    not checked: no checkpoint public key at" in unproven.stdout
