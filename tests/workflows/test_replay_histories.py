"""Recorded histories of ShareRequestWorkflow replay against the workflow as it is now.

A running share request lives for weeks; a worker deployed with changed workflow code
replays its history. A change that makes the code issue other commands than the
history holds is non-deterministic and wedges every such request: this test catches
it before a deployment does. See ``tests/histories/README.md``.

With ``SHAREHUB_RECORD_HISTORIES=1`` the paths of ``tests.workflows.share_paths`` are
run first and their histories written to ``tests/histories/`` (the recording tests run
before the replay tests: pytest keeps the order of the file).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from events.postgres import PostgresEventStore
from tests.events.conftest import MASTER_KEY
from tests.workflows.conftest import HubWorker, start_time_skipping
from tests.workflows.share_paths import HISTORY_PATHS, workflow_id_for
from workers.temporal.client import data_converter
from workflows.policy import DataSharingAgreement
from workflows.share_request import ShareRequestWorkflow

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
RECORDING = os.environ.get("SHAREHUB_RECORD_HISTORIES") == "1"


@pytest.fixture(scope="module")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """A server of this module's own, for recording: the paths move its clock by days."""
    env = await start_time_skipping()
    yield env
    await env.shutdown()


@pytest.mark.skipif(not RECORDING, reason="set SHAREHUB_RECORD_HISTORIES=1 to record histories")
@pytest.mark.parametrize("path_name", sorted(HISTORY_PATHS))
async def test_record_history(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement, path_name: str
) -> None:
    handle = await HISTORY_PATHS[path_name](hub, store, policy)
    assert handle.id == workflow_id_for(path_name)
    history = await handle.fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{path_name}.json").write_text(history.to_json() + "\n")


def recorded_path_names() -> list[str]:
    """Every path, and every history on disk (a stray one must replay too)."""
    return sorted(set(HISTORY_PATHS) | {path.stem for path in HISTORIES.glob("*.json")})


@pytest.mark.parametrize("path_name", recorded_path_names())
async def test_recorded_history_replays(path_name: str) -> None:
    path = HISTORIES / f"{path_name}.json"
    assert path.exists(), (
        f"no history for the path {path_name}: record it with "
        "SHAREHUB_RECORD_HISTORIES=1 (see tests/histories/README.md)"
    )
    history = WorkflowHistory.from_json(workflow_id_for(path_name), path.read_text())
    replayer = Replayer(workflows=[ShareRequestWorkflow], data_converter=data_converter(MASTER_KEY))
    # Raises on a non-determinism error (raise_on_replay_failure is the default).
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None
