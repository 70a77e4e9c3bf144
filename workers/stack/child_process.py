"""Child processes that cannot outlive the process that started them.

``sharehub up`` and the test suite run PostgreSQL, Temporal, NATS and sharehub's own
processes as children. Three things make sure none of them is left behind:

* Each child runs in a session of its own, so a Ctrl-C typed in the terminal reaches
  only the supervisor, which then stops the children in the order it chooses.
* On Linux the kernel sends SIGKILL to a child the moment its parent dies, however it
  dies (``prctl(PR_SET_PDEATHSIG)``), so a supervisor that is itself SIGKILLed takes its
  children along.
* :meth:`ChildProcess.stop` escalates to SIGKILL when a child ignores its stop signal,
  and then sweeps whatever the child left in its process group.

A child's output goes to a log file, never to the supervisor's terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import pwd
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_POLL_INTERVAL = 0.05

# Looked up once, here: the hook below runs between fork and exec, where it must do as
# little as possible.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def _die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking the kernel to SIGKILL the child when its parent dies.

    Subprocess runs it after switching to ``user=``/``group=`` (a change of credentials
    would clear the setting) and before exec, which keeps it. The kernel tracks the
    parent *thread*: start children from a thread that lives as long as they should,
    such as the one running the event loop.
    """
    prctl = _prctl
    if prctl is None:
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before we asked
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


class ChildProcess:
    """A running child process with its own session and its output in ``log_file``.

    Example::

        nats = ChildProcess.start("nats", ["nats-server", "-p", "4222"], log_file=log)
        ...
        await nats.stop()  # SIGTERM, then SIGKILL after ``stop_timeout`` seconds
    """

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        *,
        name: str,
        log_file: Path,
        stop_signal: signal.Signals,
        stop_timeout: float,
    ) -> None:
        self._popen = popen
        self.name = name
        self.log_file = log_file
        self.stop_signal = stop_signal
        self.stop_timeout = stop_timeout

    @classmethod
    def start(
        cls,
        name: str,
        argv: Sequence[str],
        *,
        log_file: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        stop_timeout: float = 5.0,
    ) -> ChildProcess:
        """Start ``argv``, appending its stdout and stderr to ``log_file``.

        Args:
            name: What messages call the process.
            argv: The program and its arguments.
            log_file: Where the process writes; created if missing, appended to.
            env: The whole environment; by default ours.
            cwd: The working directory; by default ours.
            user: A system user to run as (needs root), with that user's group only.
            stop_signal: What :meth:`stop` sends first.
            stop_timeout: How long :meth:`stop` waits before it sends SIGKILL.
        """
        account = pwd.getpwnam(user) if user is not None else None
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("ab") as log:  # the child keeps its own copy of the descriptor
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid()),
                user=account.pw_uid if account else None,
                group=account.pw_gid if account else None,
                extra_groups=[] if account else None,  # drop root's supplementary groups
            )
        return cls(
            popen, name=name, log_file=log_file, stop_signal=stop_signal, stop_timeout=stop_timeout
        )

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once :meth:`stop` or :meth:`wait` has collected it."""
        return self._popen.returncode

    def has_exited(self) -> bool:
        """Whether the child has exited, without reaping it.

        An exited but unreaped child still owns its pid, and so its process group id:
        :meth:`stop` relies on that to signal the group safely.
        """
        if self._popen.returncode is not None:
            return True
        try:
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:  # reaped by someone else
            return True

    async def wait(self) -> int:
        """Wait for the child to exit and return its exit status."""
        await self.until_exited()
        return self._popen.wait()

    async def until_exited(self) -> None:
        """Return once the child has exited, leaving its exit status for :meth:`stop`."""
        if self.has_exited():
            return
        if not hasattr(os, "pidfd_open"):  # not Linux: look now and then
            while not self.has_exited():  # noqa: ASYNC110
                await asyncio.sleep(_POLL_INTERVAL)
            return
        # A pidfd becomes readable when the process exits, and opening one reaps nothing.
        exited = asyncio.Event()
        loop = asyncio.get_running_loop()
        pidfd = os.pidfd_open(self.pid)
        try:
            loop.add_reader(pidfd, exited.set)
            try:
                await exited.wait()
            finally:
                loop.remove_reader(pidfd)
        finally:
            os.close(pidfd)

    async def stop(self) -> int:
        """Send ``stop_signal``, SIGKILL after ``stop_timeout``; return the exit status.

        Whatever the child started in its own process group is killed afterwards, so a
        stopped child leaves nothing behind. Safe to call more than once.
        """
        if self._popen.returncode is not None:
            return self._popen.returncode
        if not self.has_exited():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, self.stop_signal)
            try:
                async with asyncio.timeout(self.stop_timeout):
                    await self.until_exited()
            except TimeoutError:
                self._kill_group()
                await self.until_exited()
        self._kill_group()  # strays; the unreaped leader keeps the group id ours
        return self._popen.wait()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the child wrote, for error messages."""
        return tail_of(self.log_file, lines)

    def _kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def __repr__(self) -> str:
        return f"<ChildProcess {self.name} pid={self.pid} returncode={self.returncode}>"


def tail_of(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file, or ``""`` when there is none."""
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 16_384))
            text = log.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
