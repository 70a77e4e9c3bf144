"""``sharehub up``, ``sharehub status`` and the embedded servers, against the real things.

The end-to-end tests run ``python -m workers.cli up`` as a separate process group with no
terminal, as ``make up`` runs in the fresh-clone check, and look for leftovers the same
way: any process whose command line or working directory names the stack's home folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import stat
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import nats
import psutil
import pytest
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    RegisterNamespaceRequest,
)
from temporalio.client import Client

from tests.conftest import NATS_SERVICE_SEED
from workers.settings import Settings
from workers.stack.child_process import ChildProcess
from workers.stack.devstack import mask_password
from workers.stack.embedded import EmbeddedNats, EmbeddedPostgres, ServiceDidNotStart, free_port
from workers.stack.probes import probe_nats, probe_postgres, probe_temporal

REPO_ROOT = Path(__file__).resolve().parents[3]
STUBBORN_CHILD = (
    "import signal, time\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ignoring stop signals', flush=True)\n"
    "time.sleep(600)\n"
)


# --- the launchers, through the session fixtures --------------------------------------


async def test_postgres_fixture_serves_the_sharehub_database(postgres_url: str) -> None:
    # the superuser, through the Unix socket: over TCP it is refused
    assert postgres_url.startswith("postgresql://postgres@/sharehub?host=%2F")
    assert (await probe_postgres(postgres_url)).startswith("PostgreSQL 18")


async def test_temporal_fixture_answers(temporal_address: str) -> None:
    assert "namespace default" in await probe_temporal(temporal_address)


async def test_nats_fixture_answers_with_jetstream(nats_url: str) -> None:
    assert "JetStream on" in await probe_nats(nats_url, seed=NATS_SERVICE_SEED)


async def test_a_server_that_cannot_start_is_reported_with_its_log(tmp_path: Path) -> None:
    with socket.socket() as taken:  # bound, not listening: a probe is refused at once
        taken.bind(("127.0.0.1", 0))
        server = EmbeddedNats(tmp_path / "nats", taken.getsockname()[1])
        with pytest.raises(ServiceDidNotStart, match="address already in use") as raised:
            await server.start()
    assert "nats exited" in str(raised.value)
    assert server.process.returncode is not None


async def test_stop_kills_a_child_that_ignores_its_stop_signal(tmp_path: Path) -> None:
    child = ChildProcess.start(
        "stubborn",
        [sys.executable, "-c", STUBBORN_CHILD],
        log_file=tmp_path / "stubborn.log",
        stop_timeout=0.5,
    )
    await wait_for_line(child.log_file, "ignoring stop signals")

    assert await child.stop() == -signal.SIGKILL


def test_passwords_are_masked_in_urls() -> None:
    assert mask_password("postgresql://app:s3cret@db:5432/sharehub?sslmode=require") == (
        "postgresql://app:***@db:5432/sharehub?sslmode=require"
    )
    assert mask_password("postgresql://db/sharehub?password=s3cret") == (
        "postgresql://db/sharehub?password=***"
    )
    assert mask_password("nats://t0ken@nats:4222") == "nats://***@nats:4222"
    assert mask_password("postgresql://postgres@127.0.0.1:5432/sharehub") == (
        "postgresql://postgres@127.0.0.1:5432/sharehub"
    )
    assert mask_password("127.0.0.1:7233") == "127.0.0.1:7233"


# --- sharehub status ------------------------------------------------------------------


async def test_status_reports_every_component_of_a_healthy_stack(
    tmp_path: Path, postgres_url: str, temporal_address: str, nats_url: str
) -> None:
    env = sharehub_env(
        tmp_path, database_url=postgres_url, temporal_address=temporal_address, nats_url=nats_url
    )
    env["SHAREHUB_NATS_SEED"] = NATS_SERVICE_SEED

    status, report = await sharehub_status(env)

    assert status == 0, report
    assert report["healthy"] is True
    assert report["database_url"] == postgres_url
    assert report["temporal_address"] == temporal_address
    assert report["nats_url"] == nats_url
    assert "temporal_ui_url" in report
    assert {name: c["healthy"] for name, c in report["components"].items()} == {
        "postgres": True,
        "temporal": True,
        "nats": True,
    }


async def test_status_fails_when_a_component_is_down(
    tmp_path: Path, postgres_url: str, temporal_address: str
) -> None:
    nobody = f"nats://127.0.0.1:{free_port()}"
    env = sharehub_env(
        tmp_path, database_url=postgres_url, temporal_address=temporal_address, nats_url=nobody
    )

    status, report = await sharehub_status(env)

    assert status == 1
    assert report["healthy"] is False
    assert report["components"]["nats"]["healthy"] is False
    assert report["components"]["postgres"]["healthy"] is True


async def test_status_without_a_stack_says_so(tmp_path: Path) -> None:
    status, report = await sharehub_status(sharehub_env(tmp_path))

    assert status == 2
    assert "no running stack" in report["error"]


# --- sharehub up, end to end ----------------------------------------------------------


@pytest.mark.slow
async def test_ctrl_c_stops_everything_and_the_next_up_finds_the_data(tmp_path: Path) -> None:
    home = tmp_path / "home"

    async with sharehub_up(home) as first:
        stack = await first.wait_until_up()
        status, report = await sharehub_status(sharehub_env(home))
        assert status == 0, report
        assert report["database_url"].startswith("postgresql://sharehub_app:***@127.0.0.1:")
        await assert_every_process_logs_in_as_the_application(first, stack)
        for password_file in ("postgres-owner.password", "postgres-app.password"):
            assert stat.S_IMODE((home / password_file).stat().st_mode) == 0o600
        await leave_data_behind(stack, Settings(home=home).nats_service_seed())
        await first.stop(signal.SIGINT)
    await first.assert_left_nothing_behind()

    async with sharehub_up(home) as second:
        stack = await second.wait_until_up()
        await find_data_left_behind(stack, Settings(home=home).nats_service_seed())
        await second.stop(signal.SIGINT)
    await second.assert_left_nothing_behind()


@pytest.mark.slow
async def test_sigterm_stops_everything(tmp_path: Path) -> None:
    async with sharehub_up(tmp_path / "home") as up:
        await up.wait_until_up()
        await up.stop(signal.SIGTERM)
    await up.assert_left_nothing_behind()


@pytest.mark.slow
async def test_a_killed_supervisor_takes_its_children_along(tmp_path: Path) -> None:
    async with sharehub_up(tmp_path / "home") as up:
        await up.wait_until_up()
        os.killpg(up.process.pid, signal.SIGKILL)
        await up.process.wait()
    # the kernel, not the supervisor, stopped PostgreSQL (another user), Temporal and NATS
    await up.assert_left_nothing_behind(within=10.0)


async def test_a_hung_child_is_killed_when_the_stack_stops(
    tmp_path: Path, postgres_url: str, temporal_address: str, nats_url: str
) -> None:
    home = tmp_path / "home"
    env = sharehub_env(
        home, database_url=postgres_url, temporal_address=temporal_address, nats_url=nats_url
    )

    async with sharehub_up(home, argv=supervising("stubborn", STUBBORN_CHILD), env=env) as up:
        await up.wait_until_up()
        await wait_for_line(home / "stubborn.log", "ignoring stop signals")
        [stubborn] = psutil.Process(up.process.pid).children()
        await up.stop(signal.SIGINT)

    assert not stubborn.is_running()


async def test_a_child_that_dies_takes_the_stack_down(
    tmp_path: Path, postgres_url: str, temporal_address: str, nats_url: str
) -> None:
    home = tmp_path / "home"
    env = sharehub_env(
        home, database_url=postgres_url, temporal_address=temporal_address, nats_url=nats_url
    )
    short_lived = "import time; time.sleep(1); print('giving up', flush=True); raise SystemExit(3)"

    async with sharehub_up(home, argv=supervising("short-lived", short_lived), env=env) as up:
        assert await asyncio.wait_for(up.process.wait(), 30) == 1

    output = up.log_file.read_text()
    assert "short-lived exited unexpectedly" in output
    assert "giving up" in output  # the end of its log
    assert not up.state_file.exists()


async def test_a_second_up_on_the_same_home_is_refused(
    tmp_path: Path, postgres_url: str, temporal_address: str, nats_url: str
) -> None:
    home = tmp_path / "home"
    env = sharehub_env(
        home, database_url=postgres_url, temporal_address=temporal_address, nats_url=nats_url
    )
    env["SHAREHUB_NATS_SEED"] = NATS_SERVICE_SEED  # its children connect to our NATS

    async with sharehub_up(home, env=env) as first:
        await first.wait_until_up()
        async with sharehub_up(home, env=env, log_name="second-up.log") as second:
            assert await asyncio.wait_for(second.process.wait(), 30) == 1
            assert "already running" in second.log_file.read_text()
        assert first.process.returncode is None
        await first.stop(signal.SIGINT)


# --- helpers --------------------------------------------------------------------------


def supervising(name: str, program: str) -> list[str]:
    """Python arguments running ``run_stack`` with one sharehub process running ``program``."""
    return [
        "-c",
        "import sys\n"
        "from workers.stack.devstack import SharehubProcess, run_stack\n"
        "from workers.settings import Settings\n"
        f"argv = (sys.executable, '-c', {program!r})\n"
        f"process = SharehubProcess(name={name!r}, argv=argv, stop_timeout=1.0)\n"
        "sys.exit(run_stack(Settings(), processes=[process]))\n",
    ]


def sharehub_env(home: Path, **addresses: str) -> dict[str, str]:
    """Our environment without any SHAREHUB_* setting, plus ``home`` and ``addresses``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHAREHUB_")}
    env["SHAREHUB_HOME"] = str(home)
    env.update({f"SHAREHUB_{key.upper()}": value for key, value in addresses.items()})
    return env


async def sharehub_status(env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "workers.cli", "status", "--json"),
        env=env,
        cwd=REPO_ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, json.loads(stdout)


@dataclass
class RunningUp:
    home: Path
    process: asyncio.subprocess.Process
    log_file: Path

    @property
    def state_file(self) -> Path:
        return self.home / "stack.json"

    async def wait_until_up(self) -> dict[str, Any]:
        """The published state, once the stack is ready."""
        await eventually(self._published, seconds=60)
        return dict(json.loads(self.state_file.read_text()))

    def _published(self) -> bool:
        assert self.process.returncode is None, self.log_file.read_text()
        return self.state_file.exists()

    async def stop(self, signum: signal.Signals) -> None:
        """Signal the process group, as Ctrl-C in a terminal does, and expect a clean exit."""
        os.killpg(self.process.pid, signum)
        status = await asyncio.wait_for(self.process.wait(), 30)
        assert status == 0, self.log_file.read_text()
        assert not self.state_file.exists()

    async def assert_left_nothing_behind(self, within: float = 2.0) -> None:
        with contextlib.suppress(TimeoutError):
            await eventually(lambda: not processes_using(self.home), seconds=within)
        assert processes_using(self.home) == []


@contextlib.asynccontextmanager
async def sharehub_up(
    home: Path,
    *,
    argv: list[str] | None = None,
    env: dict[str, str] | None = None,
    log_name: str = "up.log",
) -> AsyncIterator[RunningUp]:
    """``sharehub up`` in a process group of its own, with no terminal; killed on exit."""
    log_file = home.parent / log_name
    with log_file.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *(argv or ["-m", "workers.cli", "up"]),
            env=env or sharehub_env(home),
            cwd=REPO_ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield RunningUp(home=home, process=process, log_file=log_file)
    finally:
        if process.returncode is None:  # a failed test: the kernel takes the children along
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


def processes_using(folder: Path) -> list[str]:
    """Processes whose command line or working directory names ``folder``."""
    found = []
    for process in psutil.process_iter(["cmdline", "cwd"]):
        command = " ".join(process.info["cmdline"] or ())
        cwd = process.info["cwd"] or ""
        if str(folder) in command or cwd.startswith(str(folder)):
            found.append(f"{process.pid}: {command}")
    return found


async def eventually(condition: Callable[[], bool], *, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - files and the process table signal nothing
            await asyncio.sleep(0.05)


async def wait_for_line(log_file: Path, line: str) -> None:
    await eventually(lambda: log_file.exists() and line in log_file.read_text())


async def assert_every_process_logs_in_as_the_application(
    up: RunningUp, stack: dict[str, Any]
) -> None:
    """Each of relay, worker and api: its connections to PostgreSQL, found by their client
    ports in ``pg_stat_activity``, are all sessions of ``sharehub_app``; and so is every
    other session in database ``sharehub``."""
    port = urlsplit(stack["database_url"]).port
    assert port is not None
    names = ("relay", "worker", "api")
    superuser = await asyncpg.connect(EmbeddedPostgres(up.home / "postgres", port).url)
    try:

        async def logins() -> dict[str, set[str]]:
            found: dict[str, set[str]] = {}
            for child in psutil.Process(up.process.pid).children():
                command = child.cmdline()
                if command[-3:-1] != ["-m", "workers.cli"] or command[-1] not in names:
                    continue
                ports = [
                    c.laddr.port
                    for c in child.net_connections("tcp")
                    if c.raddr and c.raddr.port == port
                ]
                rows = await superuser.fetch(
                    "SELECT usename FROM pg_stat_activity WHERE client_port = ANY($1::int[])",
                    ports,
                )
                found[command[-1]] = {row[0] for row in rows}
            return found

        async with asyncio.timeout(30):
            found = await logins()
            while not all(found.get(name) for name in names):
                await asyncio.sleep(0.2)  # the process table and pg_stat_activity signal nothing
                found = await logins()
        assert found == {name: {"sharehub_app"} for name in names}
        everyone = await superuser.fetch(
            "SELECT DISTINCT usename FROM pg_stat_activity"
            " WHERE datname = 'sharehub' AND pid <> pg_backend_pid()"
        )
        assert [row[0] for row in everyone] == ["sharehub_app"]
    finally:
        await superuser.close()


async def leave_data_behind(stack: dict[str, Any], nats_seed: str) -> None:
    """A table, a stream and a namespace, one in each of the stack's stores."""
    connection = await asyncpg.connect(stack["owner_database_url"])
    try:
        await connection.execute("CREATE TABLE left_behind (note text)")
        await connection.execute("INSERT INTO left_behind VALUES ('from the first run')")
    finally:
        await connection.close()

    broker = await nats.connect(stack["nats_url"], nkeys_seed_str=nats_seed)
    try:
        await broker.jetstream().add_stream(name="left_behind", subjects=["left.behind"])
    finally:
        await broker.close()

    client = await Client.connect(stack["temporal_address"])
    retention = RegisterNamespaceRequest(namespace="left-behind")
    retention.workflow_execution_retention_period.FromSeconds(86_400)
    await client.workflow_service.register_namespace(retention)


async def find_data_left_behind(stack: dict[str, Any], nats_seed: str) -> None:
    connection = await asyncpg.connect(stack["owner_database_url"])
    try:
        assert await connection.fetchval("SELECT note FROM left_behind") == "from the first run"
        assert await connection.fetchval("SELECT count(*) FROM schema_migrations") >= 1
    finally:
        await connection.close()

    broker = await nats.connect(stack["nats_url"], nkeys_seed_str=nats_seed)
    try:
        stream = await broker.jetstream().stream_info("left_behind")
        assert stream.config.subjects == ["left.behind"]
    finally:
        await broker.close()

    client = await Client.connect(stack["temporal_address"])
    await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace="left-behind")
    )
