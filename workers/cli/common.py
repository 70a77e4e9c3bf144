"""What every ``sharehub`` command shares: how it fails, and how it runs against the stack."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import typer

from events.errors import EventStoreError
from workers.settings import StackNotFound

if TYPE_CHECKING:
    from events.envelope import Actor


def fail(message: str, code: int = 2) -> typer.Exit:
    """A message on stderr and the exit status to leave with (raise what this returns)."""
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def run_process(main: Callable[[], int]) -> int:
    """Run a command; a missing stack or store failure is a message, not a trace."""
    try:
        return main()
    except StackNotFound as e:
        raise fail(str(e)) from e
    except EventStoreError as e:
        raise fail(f"event store: {e}") from e


def run_against_stack(main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run an async command; a missing stack or store failure is a message, not a trace."""
    return run_process(lambda: asyncio.run(main()))


def operator_actor() -> Actor:
    """The person at this terminal, as the actor of what they record."""
    from events.envelope import Actor

    return Actor(id=f"operator:{getpass.getuser()}", role="admin", agency=None)
