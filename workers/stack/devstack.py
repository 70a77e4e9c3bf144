"""The whole stack on one machine with no set-up: ``sharehub up`` and ``sharehub status``.

``sharehub up`` supervises, in this order: PostgreSQL, Temporal (with its web UI) and
NATS JetStream, each embedded unless ``SHAREHUB_DATABASE_URL``, ``SHAREHUB_TEMPORAL_ADDRESS``
or ``SHAREHUB_NATS_URL`` names a real one; then it migrates the event store's schema as the
schema's owner and starts sharehub's own processes (:data:`SHAREHUB_PROCESSES`), which log in
to PostgreSQL as the application login only. Data lives under the home
folder (``.sharehub/`` by default), so the next ``up`` finds it again.

Once everything answers, it publishes the addresses in the state file
(``.sharehub/stack.json``), where every other sharehub command looks for them. On Ctrl-C
or SIGTERM it removes the file and stops the children in reverse order, each with SIGKILL
if it does not stop in time (see :mod:`workers.stack.child_process` for why none survives even
a SIGKILL of the supervisor).

Exceptions::

    StackError
     +-- StackAlreadyRunning      another `sharehub up` holds this home folder
     +-- MigrationFailed          the event store's schema cannot be brought up to date
    ServiceDidNotStart (workers.stack.embedded)
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from rich.console import Console
from rich.table import Table
from rich.text import Text

from workers.settings import Settings, StackNotFound
from workers.stack.child_process import ChildProcess
from workers.stack.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    EmbeddedServer,
    EmbeddedTemporal,
    ServiceDidNotStart,
    free_port,
    port_if_free,
)
from workers.stack.probes import probe_api, probe_nats, probe_postgres, probe_temporal
from workers.temporal.client import tls_config

POSTGRES_PORT = 5432
TEMPORAL_PORT = 7233
TEMPORAL_UI_PORT = 8233
NATS_PORT = 4222
LOCK_FILE_NAME = "stack.lock"

Server = TypeVar("Server", bound=EmbeddedServer)


class StackError(RuntimeError):
    """``sharehub up`` cannot start the stack."""


class StackAlreadyRunning(StackError):
    """Another ``sharehub up`` runs from the same home folder."""


class MigrationFailed(StackError):
    """The event store's schema could not be brought up to date."""


@dataclass(frozen=True, kw_only=True)
class SharehubProcess:
    """One of sharehub's own processes, which ``sharehub up`` runs beside the services.

    It inherits our environment plus the stack's ``SHAREHUB_*`` addresses, and writes to
    ``<home>/<name>.log``.
    """

    name: str
    argv: tuple[str, ...]
    stop_signal: signal.Signals = signal.SIGTERM
    stop_timeout: float = 5.0


def sharehub_command(*arguments: str) -> tuple[str, ...]:
    """``sharehub <arguments>``, run with our interpreter, whatever the PATH says."""
    return (sys.executable, "-m", "workers.cli", *arguments)


# sharehub's own processes, started in this order once the services answer and the schema
# is migrated, stopped in the reverse order. One line each.
SHAREHUB_PROCESSES: tuple[SharehubProcess, ...] = (
    # Store -> NATS JetStream; on SIGTERM it saves its checkpoint and closes NATS. Stopped
    # after the worker, so that it still carries the worker's last events.
    SharehubProcess(name="relay", argv=sharehub_command("relay")),
    SharehubProcess(name="worker", argv=sharehub_command("worker")),
    # The HTTP API and its read-model projector; on its port (SHAREHUB_API_PORT).
    SharehubProcess(name="api", argv=sharehub_command("api")),
)


@dataclass(kw_only=True)
class _Stack:
    """What is running: the addresses to publish, and our children in start order."""

    database_url: str = ""  # the application login
    owner_database_url: str = ""  # the schema's owner: migrations only
    temporal_address: str = ""
    temporal_ui_url: str | None = None
    nats_url: str = ""
    nats_server_config: str | None = None  # the embedded NATS's: keys create/revoke reload it
    api_url: str | None = None
    children: list[ChildProcess] = field(default_factory=list)

    def published(self) -> dict[str, Any]:
        return {
            "database_url": self.database_url,
            "owner_database_url": self.owner_database_url,
            "temporal_address": self.temporal_address,
            "temporal_ui_url": self.temporal_ui_url,
            "nats_url": self.nats_url,
            "nats_server_config": self.nats_server_config,
            "api_url": self.api_url,
            "pid": os.getpid(),
        }


def run_stack(
    settings: Settings, *, processes: Sequence[SharehubProcess] = SHAREHUB_PROCESSES
) -> int:
    """Run the stack until Ctrl-C or SIGTERM; 0 after a clean stop, 1 if it failed."""
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    try:
        with _exclusive_use_of(home):
            return asyncio.run(_supervise(settings, home, processes))
    except StackAlreadyRunning as error:
        _say(f"sharehub up: {error}", file=sys.stderr)
        return 1


@contextlib.contextmanager
def _exclusive_use_of(home: Path) -> Iterator[None]:
    """Hold ``<home>/stack.lock`` while the stack runs.

    A lock rather than the state file's pid: it is taken before anything starts, and the
    kernel drops it when we die, so a stale state file never blocks the next ``up``.
    """
    with (home / LOCK_FILE_NAME).open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            raise StackAlreadyRunning(
                f"a stack is already running from {home} (pid {holder}); use it, "
                f"stop it with Ctrl-C or `kill -INT {holder}`, or set SHAREHUB_HOME"
            ) from None
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield


async def _supervise(settings: Settings, home: Path, processes: Sequence[SharehubProcess]) -> int:
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()

    def request_stop(signum: int) -> None:
        # Repeats are common and harmless: `uv run` passes on the Ctrl-C its child got too.
        if not stop_requested.is_set():
            _say(f"\nsharehub up: {signal.Signals(signum).name} received, stopping...")
            stop_requested.set()

    # Installed before anything starts and kept until everything has stopped, so that
    # a signal at any moment leads to an orderly stop. A closed terminal (SIGHUP) too,
    # unless we run under nohup.
    stop_signals = [signal.SIGINT, signal.SIGTERM]
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        stop_signals.append(signal.SIGHUP)
    for signum in stop_signals:
        loop.add_signal_handler(signum, request_stop, signum)
    stack = _Stack()
    state_file = home / settings.state_file.name
    try:
        starting = asyncio.create_task(_start(settings, home, processes, stack))
        stopping = asyncio.create_task(stop_requested.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not starting.done():  # stopped while starting
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            return 0
        try:
            starting.result()
        except (StackError, ServiceDidNotStart) as error:
            _say(f"sharehub up: {error}", file=sys.stderr)
            return 1
        _publish(state_file, stack.published())
        _announce(stack, home)
        return await _watch(stack.children, stop_requested)
    finally:
        with contextlib.suppress(FileNotFoundError):
            state_file.unlink()
        for child in reversed(stack.children):
            status = await child.stop()
            _say(f"  stopped {child.name} (status {status})")
        for signum in stop_signals:
            loop.remove_signal_handler(signum)


async def _start(
    settings: Settings, home: Path, processes: Sequence[SharehubProcess], stack: _Stack
) -> None:
    """Start what is not configured, filling in ``stack`` as each part answers."""
    if settings.database_url:
        stack.database_url = settings.database_url
        stack.owner_database_url = settings.resolved_owner_database_url()
    else:
        postgres = await _start_embedded(
            stack, lambda ports: EmbeddedPostgres(home / "postgres", ports(POSTGRES_PORT))
        )
        stack.database_url, stack.owner_database_url = postgres.app_url, postgres.owner_url

    if settings.temporal_address:
        stack.temporal_address = settings.temporal_address
        stack.temporal_ui_url = settings.temporal_ui_url
    else:
        temporal = await _start_embedded(
            stack,
            lambda ports: EmbeddedTemporal(
                home / "temporal.db", ports(TEMPORAL_PORT), ports(TEMPORAL_UI_PORT), headless=False
            ),
        )
        stack.temporal_address, stack.temporal_ui_url = temporal.address, temporal.ui_url

    await _migrate(stack.owner_database_url)

    if settings.nats_url:
        stack.nats_url = settings.nats_url
    else:
        # Who may connect comes from the agreement and the credentials in the log.
        authorization = await _bus_authorization(settings, stack.database_url)
        nats_server = await _start_embedded(
            stack,
            lambda ports: EmbeddedNats(
                home / "nats",
                ports(NATS_PORT),
                authorization=authorization,
                service_seed=settings.nats_service_seed(),
            ),
        )
        stack.nats_url = nats_server.url
        stack.nats_server_config = str(nats_server.files.config)

    environment = {
        # The owner's login is for migrations, which the children do not run.
        **{k: v for k, v in os.environ.items() if k != "SHAREHUB_OWNER_DATABASE_URL"},
        "SHAREHUB_HOME": str(home),
        "SHAREHUB_DATABASE_URL": stack.database_url,
        "SHAREHUB_TEMPORAL_ADDRESS": stack.temporal_address,
        "SHAREHUB_NATS_URL": stack.nats_url,
    }
    if stack.temporal_ui_url:
        environment["SHAREHUB_TEMPORAL_UI_URL"] = stack.temporal_ui_url
    if any(process.name == "api" for process in processes):
        api_port = port_if_free(settings.api_port)
        stack.api_url = f"http://127.0.0.1:{api_port}"
        environment |= {"SHAREHUB_API_PORT": str(api_port), "SHAREHUB_API_URL": stack.api_url}
    for process in processes:
        stack.children.append(
            ChildProcess.start(
                process.name,
                process.argv,
                log_file=home / f"{process.name}.log",
                env=environment,
                stop_signal=process.stop_signal,
                stop_timeout=process.stop_timeout,
            )
        )
        _say(f"  started {process.name} (pid {stack.children[-1].pid})")
    if stack.api_url:
        api = next(child for child in stack.children if child.name == "api")
        await _until_api_answers(stack.api_url, api)


async def _until_api_answers(url: str, api: ChildProcess, *, within: float = 60.0) -> None:
    """Publish the stack only once the API answers: scripts rely on `status` at once."""
    try:
        async with asyncio.timeout(within):
            while not api.has_exited():
                try:
                    await probe_api(url)
                    return
                except (OSError, httpx.HTTPError):
                    await asyncio.sleep(0.2)
    except TimeoutError:
        raise StackError(
            f"the API did not answer within {within:g} s; see {api.log_file}"
        ) from None
    raise StackError(f"the API exited; the end of {api.log_file}:\n{api.log_tail()}")


async def _start_embedded(
    stack: _Stack, launcher: Callable[[Callable[[int], int]], Server]
) -> Server:
    """Start a server on its standard ports where free, and add it to ``stack``.

    ``launcher`` builds the server from a function that picks each port. Another program
    may take a port between our look and the server's bind: then we try once more, on
    ports the system picks.
    """
    server = launcher(port_if_free)
    _say(f"  starting {server.name}...")
    try:
        await server.start()
    except ServiceDidNotStart as error:
        if "address already in use" not in str(error).lower():
            raise
        _say(f"  {server.name}: a port was taken meanwhile; trying others...")
        server = launcher(lambda standard_port: free_port())
        await server.start()
    stack.children.append(server.process)
    return server


async def _bus_authorization(settings: Settings, database_url: str) -> str:
    """The embedded NATS's authorization: sharehub's service identity and every agency
    credential in force."""
    from events.postgres import PostgresEventStore
    from workers.bus.server_config import current_authorization
    from workflows.policy_file import PolicyError, load_policy

    try:
        policy = load_policy(settings.policy_file)
    except PolicyError as error:
        raise StackError(f"cannot configure NATS without the agreement: {error}") from error
    store = await PostgresEventStore.open(
        database_url, master_key=settings.master_key_bytes(), min_connections=1, max_connections=1
    )
    try:
        return await current_authorization(store, policy, service_seed=settings.nats_service_seed())
    finally:
        await store.close()


async def _migrate(database_url: str) -> None:
    try:
        from events.errors import EventStoreError
        from events.postgres import migrate
    except ImportError as error:
        raise MigrationFailed(f"cannot import the event store's migrations: {error}") from error
    try:
        applied = await migrate(database_url)
    except EventStoreError as error:
        raise MigrationFailed(
            f"cannot migrate the schema of {mask_password(database_url)}: {error}"
        ) from error
    for name in applied:
        _say(f"  applied migration {name}")


async def _watch(children: Sequence[ChildProcess], stop_requested: asyncio.Event) -> int:
    """Wait for a stop request; 1 if a child exits first (each should run until stopped)."""
    stop = asyncio.create_task(stop_requested.wait())
    exits = {asyncio.create_task(child.until_exited()): child for child in children}
    try:
        done, _ = await asyncio.wait({stop, *exits}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (stop, *exits):
            task.cancel()
    if stop in done:
        return 0
    for child in (child for task, child in exits.items() if task in done):
        _say(
            f"sharehub up: {child.name} exited unexpectedly; stopping the stack. "
            f"The end of {child.log_file}:\n{child.log_tail()}",
            file=sys.stderr,
        )
    return 1


def _publish(state_file: Path, published: dict[str, Any]) -> None:
    """Write the state file atomically, readable by us only: a configured URL may hold a
    password."""
    partial = state_file.with_suffix(".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(published, out, indent=2)
    partial.replace(state_file)


def _announce(stack: _Stack, home: Path) -> None:
    _say(
        "\nsharehub stack is up\n"
        f"  database URL     {mask_password(stack.database_url)}  (the application's login)\n"
        f"  database owner   {mask_password(stack.owner_database_url)}  (migrations only)\n"
        f"  Temporal         {stack.temporal_address}\n"
        f"  Temporal UI      {stack.temporal_ui_url or '(not configured)'}\n"
        f"  NATS URL         {mask_password(stack.nats_url)}\n"
        f"  API              {stack.api_url or '(not started)'}"
        f"{'  (docs at ' + stack.api_url + '/docs)' if stack.api_url else ''}\n"
        f"  console          {stack.api_url + '/' if stack.api_url else '(not started)'}"
        f"{'  (sign in with a key from `sharehub keys create`)' if stack.api_url else ''}\n"
        f"  data and logs    {home}\n"
        "Press Ctrl-C to stop."
    )


def _say(message: str, *, file: IO[str] | None = None) -> None:
    # Flushed at once: without a terminal, output goes to a file and would be buffered.
    print(message, file=file or sys.stdout, flush=True)


def mask_password(url: str) -> str:
    """``url`` with any password (or NATS token) replaced by ``***``."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        credentials, _, host = netloc.rpartition("@")
        user, has_password, _ = credentials.partition(":")
        if has_password:
            credentials = f"{user}:***"
        elif parts.scheme.startswith(("nats", "tls")):  # nats://TOKEN@host
            credentials = "***"
        netloc = f"{credentials}@{host}"
    query = urlencode(
        [
            (key, "***" if key.lower() in {"password", "token"} else value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


@dataclass(frozen=True, kw_only=True)
class ComponentStatus:
    name: str
    url: str
    healthy: bool
    detail: str


async def check_stack(settings: Settings, *, seconds_each: float = 3.0) -> list[ComponentStatus]:
    """Probe each component of the configured or running stack, all at once.

    Raises:
        StackNotFound: a component is neither configured nor published by ``sharehub up``.
    """
    database_url = settings.resolved_database_url()
    temporal_address = settings.resolved_temporal_address()
    nats_url = settings.resolved_nats_url()
    namespace = settings.temporal_namespace
    targets: list[tuple[str, str, Callable[[], Awaitable[str]]]] = [
        ("postgres", database_url, lambda: probe_postgres(database_url)),
        (
            "temporal",
            temporal_address,
            lambda: probe_temporal(temporal_address, namespace=namespace, tls=tls_config(settings)),
        ),
        (
            "nats",
            nats_url,
            lambda: probe_nats(
                nats_url, seed=settings.nats_service_seed(), tls=settings.nats_tls_context()
            ),
        ),
    ]
    api_url = settings.api_url or settings.running_stack.get("api_url")
    if api_url:
        targets.append(("api", api_url, lambda: probe_api(api_url)))

    async def check(name: str, url: str, probe: Callable[[], Awaitable[str]]) -> ComponentStatus:
        try:
            async with asyncio.timeout(seconds_each):
                detail = await probe()
        except TimeoutError:
            detail, healthy = f"no answer within {seconds_each:g} s", False
        except Exception as error:
            detail, healthy = str(error) or type(error).__name__, False
        else:
            healthy = True
        return ComponentStatus(name=name, url=mask_password(url), healthy=healthy, detail=detail)

    return list(await asyncio.gather(*(check(*target) for target in targets)))


async def print_status(settings: Settings, *, as_json: bool) -> int:
    """Report whether each component answers: 0 if all do, 1 if not, 2 if there is no stack."""
    try:
        components = await check_stack(settings)
    except StackNotFound as error:
        if as_json:
            print(json.dumps({"healthy": False, "error": str(error)}))
        else:
            Console(stderr=True, soft_wrap=True, highlight=False).print(Text(str(error), "red"))
        return 2
    healthy = all(component.healthy for component in components)
    temporal_ui_url = settings.temporal_ui_url or settings.running_stack.get("temporal_ui_url")
    if as_json:
        by_name = {component.name: component for component in components}
        report = {
            "healthy": healthy,
            "database_url": by_name["postgres"].url,
            "temporal_address": by_name["temporal"].url,
            "temporal_ui_url": temporal_ui_url,
            "nats_url": by_name["nats"].url,
            "api_url": by_name["api"].url if "api" in by_name else None,
            "components": {
                component.name: {
                    "healthy": component.healthy,
                    "url": component.url,
                    "detail": component.detail,
                }
                for component in components
            },
        }
        print(json.dumps(report, indent=2))
    else:
        table = Table(title="sharehub stack")
        table.add_column("component", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("address", overflow="fold")  # a folded URL beats a cut one
        for component in components:
            status = Text("up", style="green") if component.healthy else Text("down", style="red")
            # Text, not markup: an error message may contain [brackets].
            address = Text(component.url).append(f"\n{component.detail}", style="dim")
            table.add_row(component.name, status, address)
        if temporal_ui_url:
            table.add_row("temporal UI", "", temporal_ui_url)
        Console(soft_wrap=True, highlight=False).print(table)
    return 0 if healthy else 1


@contextlib.asynccontextmanager
async def stack_for_a_command(
    settings: Settings, *, say: Callable[[str], None], start_within: float = 180.0
) -> AsyncIterator[Settings]:
    """The configured or running stack; failing that, ``sharehub up`` run for the block.

    For commands such as ``sharehub demo`` that need the whole stack, worker included.
    The stack started here keeps its data under the same home folder, so a later
    ``make up`` finds what the command recorded.
    """
    try:
        settings.resolved_database_url()
        settings.resolved_temporal_address()
        settings.resolved_nats_url()
    except StackNotFound:
        pass
    else:
        yield settings
        return
    home = settings.home.resolve()
    log_file = home / "background-stack.log"
    say(f"no running stack found: starting one for this command (log: {log_file})")
    child = ChildProcess.start(
        "sharehub up", sharehub_command("up"), log_file=log_file, stop_timeout=60.0
    )
    try:
        async with asyncio.timeout(start_within):
            while True:
                if child.has_exited():
                    raise StackError(
                        f"the stack did not start; the end of {log_file}:\n{child.log_tail()}"
                    )
                started = type(settings)(**settings.model_dump())  # reads the new state file
                with contextlib.suppress(StackNotFound):
                    if all(component.healthy for component in await check_stack(started)):
                        break
                await asyncio.sleep(0.5)
        yield started
    finally:
        say("stopping the stack started for this command")
        await child.stop()
