"""The ``sharehub`` command line: one entry point for every process and operator task."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer

from events.errors import EventStoreError
from workers.settings import Settings, StackNotFound

app = typer.Typer(
    name="sharehub",
    help="sharehub: event-sourced multi-agency information sharing for safeguarding.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
audit_app = typer.Typer(help="Auditor tools over the event store.", no_args_is_help=True)
policy_app = typer.Typer(help="The data sharing agreement (DSA) policy.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(policy_app, name="policy")


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


@app.command()
def up() -> None:
    """Run the whole stack: embedded PostgreSQL, Temporal and NATS unless configured."""
    from workers.devstack import run_stack

    raise typer.Exit(run_stack(Settings()))


@app.command()
def status(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object for scripts.")
    ] = False,
) -> None:
    """Show whether each component of the stack is reachable, and its URL."""
    from workers.devstack import print_status

    raise typer.Exit(asyncio.run(print_status(Settings(), as_json=as_json)))


@app.command()
def worker() -> None:
    """Run the Temporal worker: the share-request workflow and its activities."""
    # Imported here: the worker pulls in the workflows, which other commands never need.
    from workers.temporal_worker import run_worker

    raise typer.Exit(_run_process(lambda: run_worker(Settings())))


@app.command()
def relay() -> None:
    """Publish every stored event to NATS JetStream as a CloudEvent, from its checkpoint."""
    from workers.relay import run_relay

    raise typer.Exit(_run_process(lambda: run_relay(Settings())))


@app.command()
def demo(
    requests: Annotated[
        int, typer.Option("--requests", "-n", min=1, help="How many share requests to play.")
    ] = 20,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="How many at the same time.")
    ] = 4,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the fictional cases, to repeat a run.")
    ] = None,
) -> None:
    """Play agencies, hub staff, advisors and recipients through share requests.

    Uses the running stack (or the one the SHAREHUB_* variables name); without
    one, starts the stack for the run and stops it afterwards.
    """
    from rich.console import Console

    from workers.demo import run_demo
    from workers.devstack import StackError, stack_for_a_command
    from workflows.policy import PolicyError

    console = Console(highlight=False)

    async def run() -> int:
        async with stack_for_a_command(Settings(), say=console.print) as settings:
            run = await run_demo(
                settings, requests=requests, concurrency=concurrency, seed=seed, console=console
            )
        return 0 if run.succeeded else 1

    try:
        raise typer.Exit(_run_against_stack(run))
    except (StackError, PolicyError) as e:
        raise _fail(str(e)) from e


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply the event store's schema migrations that the database does not have yet."""
    from events.postgres import migrate

    async def run() -> int:
        applied = await migrate(Settings().resolved_database_url())
        typer.echo("\n".join(f"applied {name}" for name in applied) or "schema is up to date")
        return 0

    raise typer.Exit(_run_against_stack(run))


@policy_app.command("check")
def policy_check(
    path: Annotated[Path, typer.Argument(help="The policy file (TOML) to validate.")],
) -> None:
    """Validate a data sharing agreement file; exit 2 naming each problem's field."""
    from workflows.policy import PolicyError, check_policy_file

    try:
        typer.echo(check_policy_file(path))
    except PolicyError as e:
        raise _fail(str(e)) from e


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the whole hash chain; exit 0 when intact, 1 at the first broken link."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from events.audit import verify_chain
    from workers.resources import open_event_store

    async def run() -> int:
        async with await open_event_store(Settings(), max_connections=2) as store:
            total = await store.head_position()
            with Progress(
                TextColumn("verifying"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("events"),
                transient=True,
                disable=total < 10_000,
            ) as progress:
                task = progress.add_task("verify", total=total)
                report = await verify_chain(
                    store, on_progress=lambda done: progress.update(task, completed=done)
                )
        if report.first_break is None:
            typer.echo(
                f"chain intact: {report.events_checked} events verified, "
                f"head hash {report.head_hash.hex()}"
            )
            return 0
        brk = report.first_break
        typer.secho(
            f"chain BROKEN at global position {brk.global_position}: {brk.reason} "
            f"({report.events_checked} events before it verified)",
            err=True,
            fg=typer.colors.RED,
        )
        return 1

    raise typer.Exit(_run_against_stack(run))


def _run_process(main: Callable[[], int]) -> int:
    """Run a command; a missing stack or store failure is a message, not a trace."""
    try:
        return main()
    except StackNotFound as e:
        raise _fail(str(e)) from e
    except EventStoreError as e:
        raise _fail(f"event store: {e}") from e


def _run_against_stack(main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run an async command; a missing stack or store failure is a message, not a trace."""
    return _run_process(lambda: asyncio.run(main()))


if __name__ == "__main__":
    app()
