"""``sharehub relay`` as ``sharehub up`` runs it: a child process, stopped by SIGTERM.

The process runs the event relay, bus intake and the checkpointer; these tests
check that it serves the first two and stops cleanly. What each service
promises is tested beside it, in ``tests/workers/bus/``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NoStreamResponseError, NotFoundError

from events.postgres import PostgresEventStore
from tests.conftest import NATS_SERVICE_SEED
from tests.events.conftest import MASTER_KEY
from tests.workers.bus.intake.test_consumer import (  # noqa: F401 (agencies: a fixture)
    SCHOOL,
    WAIT,
    agencies,
    raise_message,
    recorded,
    replies,
    send,
)
from tests.workers.bus.test_relay import append_concerns, checkpoint_reaches, messages_on_bus
from workers.bus.streams import (
    DEAD_LETTERS_STREAM,
    EVENTS_STREAM,
    INTAKE_STREAM,
    REPLIES_STREAM,
    requests_subject,
)
from workers.settings import Settings

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
async def bus(nats_url: str) -> str:
    """The session's NATS, without the streams a previous test left."""
    connection = await nats.connect(nats_url, nkeys_seed_str=NATS_SERVICE_SEED)
    try:
        for stream in (EVENTS_STREAM, INTAKE_STREAM, REPLIES_STREAM, DEAD_LETTERS_STREAM):
            with contextlib.suppress(NotFoundError):
                await connection.jetstream().delete_stream(stream)
    finally:
        await connection.close()
    return nats_url


@contextlib.asynccontextmanager
async def sharehub_relay(settings: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m workers.cli relay`` with these ``SHAREHUB_`` settings and no others."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHAREHUB_")} | settings
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "workers.cli",
        "relay",
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def stopped(process: asyncio.subprocess.Process, *, within: float) -> str:
    """SIGTERM, as ``sharehub up`` sends it; the process's log once it has exited."""
    process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(within):
        output, _ = await process.communicate()
    return output.decode()


async def test_sharehub_relay_stops_cleanly_on_sigterm(
    settings: Settings, store: PostgresEventStore, bus: str, tmp_path: Path
) -> None:
    await append_concerns(store, "request-1", 3)
    environment = {
        "SHAREHUB_HOME": str(tmp_path / "home"),
        "SHAREHUB_DATABASE_URL": settings.resolved_database_url(),
        "SHAREHUB_NATS_URL": bus,
        "SHAREHUB_NATS_SEED": NATS_SERVICE_SEED,
    }
    async with sharehub_relay(environment) as process:
        await checkpoint_reaches(store, 3)
        log = await stopped(process, within=10)

    assert process.returncode == 0, log
    assert "relay stopped: 3 published" in log
    assert len(await messages_on_bus(bus)) == 3


async def test_sharehub_relay_runs_the_intake_and_stops_cleanly_on_sigterm(
    settings: Settings,
    bus: str,
    agencies: JetStreamContext,  # noqa: F811 (the fixture imported above)
    store: PostgresEventStore,
    worker: None,
    tmp_path: Path,
) -> None:
    environment = {
        "SHAREHUB_HOME": str(tmp_path / "relay-home"),
        "SHAREHUB_DATABASE_URL": settings.resolved_database_url(),
        "SHAREHUB_NATS_URL": bus,
        "SHAREHUB_NATS_SEED": NATS_SERVICE_SEED,
        "SHAREHUB_TEMPORAL_ADDRESS": settings.resolved_temporal_address(),
        "SHAREHUB_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "SHAREHUB_MASTER_KEY": base64.b64encode(MASTER_KEY).decode(),
        "SHAREHUB_POLICY_FILE": str(settings.policy_file),
    }
    message = raise_message()
    async with sharehub_relay(environment) as process:
        # Published before the intake may be up: the stream keeps it until it is.
        async with asyncio.timeout(WAIT):
            while True:
                try:
                    await send(agencies, requests_subject(SCHOOL), message, message_id="school-1")
                    break
                except NoStreamResponseError:
                    await asyncio.sleep(0.1)
        [reply] = await replies(agencies, SCHOOL, 1)
        assert await recorded(store, message.request_id, until="ShareRequestRaised")
        log = await stopped(process, within=15)

    assert process.returncode == 0, log
    assert (reply.outcome, reply.detail) == ("accepted", "raised")
    assert "bus intake listening" in log
    assert "relay stopped" in log
    for secret in ("Amara", "Okafor", "943 476 5919", "9434765919"):
        assert secret not in log
