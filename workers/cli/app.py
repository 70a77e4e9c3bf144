"""The ``sharehub`` command line: one entry point for every process and operator task."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    pass
from workers.cli.audit import audit_app, retention_app
from workers.cli.bus import apply_bus_credentials, bus_app
from workers.cli.common import fail, operator_actor, run_against_stack, run_process
from workers.cli.operator import operator_app
from workers.settings import Settings

app = typer.Typer(
    name="sharehub",
    help="sharehub: event-sourced multi-agency information sharing for safeguarding.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
policy_app = typer.Typer(help="The data sharing agreement (DSA) policy.", no_args_is_help=True)
keys_app = typer.Typer(help="API clients and their keys.", no_args_is_help=True)
projections_app = typer.Typer(
    help="The read models built from the event log.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(projections_app, name="projections")
app.add_typer(audit_app, name="audit")
app.add_typer(retention_app, name="retention")
app.add_typer(policy_app, name="policy")
app.add_typer(bus_app, name="bus")
app.add_typer(operator_app)  # raise, queue, show and the hub's actions, at the top level


@app.command()
def up() -> None:
    """Run the whole stack: embedded PostgreSQL, Temporal and NATS unless configured."""
    from workers.stack.devstack import run_stack

    raise typer.Exit(run_stack(Settings()))


@app.command()
def status(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object for scripts.")
    ] = False,
) -> None:
    """Show whether each component of the stack is reachable, and its URL."""
    from workers.stack.devstack import print_status

    raise typer.Exit(asyncio.run(print_status(Settings(), as_json=as_json)))


@app.command()
def worker() -> None:
    """Run the Temporal worker: the share-request workflow and its activities."""
    # Imported here: the worker pulls in the workflows, which other commands never need.
    from workers.processes.worker import run_worker

    raise typer.Exit(run_process(lambda: run_worker(Settings())))


@app.command()
def api() -> None:
    """Serve the HTTP API (OpenAPI at /docs) and keep the read models up to date."""
    from workers.processes.api import run_api

    raise typer.Exit(run_process(lambda: run_api(Settings())))


@app.command()
def relay() -> None:
    """Publish every stored event to NATS JetStream as a CloudEvent, from its checkpoint."""
    from workers.processes.relay import run_relay

    raise typer.Exit(run_process(lambda: run_relay(Settings())))


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

    from workers.demo.run import run_demo
    from workers.stack.devstack import StackError, stack_for_a_command
    from workflows.policy_file import PolicyError

    console = Console(highlight=False)

    async def run() -> int:
        async with stack_for_a_command(Settings(), say=console.print) as settings:
            run = await run_demo(
                settings, requests=requests, concurrency=concurrency, seed=seed, console=console
            )
        return 0 if run.succeeded else 1

    try:
        raise typer.Exit(run_against_stack(run))
    except (StackError, PolicyError) as e:
        raise fail(str(e)) from e


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who uses the key: a person or an agency system.")],
    role: Annotated[
        str, typer.Option(help="agency, hub_officer, hub_manager, ig_advisor, auditor or admin.")
    ],
    agency: Annotated[
        str | None, typer.Option(help="For an agency key: its id in the agreement.")
    ] = None,
    another_key: Annotated[
        bool,
        typer.Option(
            "--another-key",
            help="The name is a person's who has a key: give that same person another one "
            "(the four-eyes rule sees one person, whichever key they use).",
        ),
    ] = False,
) -> None:
    """Create an API client and print its key (shown this once only).

    An agency's client also gets its bus credential, an nkey seed printed on the
    next line (shown this once only too), which the local stack's NATS lets in at
    once; for a NATS deployed elsewhere, deploy `sharehub bus config`.

    Names are unique: one name is one person. A name in use is refused (exit 2)
    unless --another-key says the key is for that same person.
    """
    from workers.bus.identities import BusCredentials
    from workers.hub.clients import ApiClientError, ApiClients, NameInUse
    from workers.resources import open_event_store
    from workflows.models import Role
    from workflows.policy_file import load_policy

    try:
        client_role = Role(role)
    except ValueError as e:
        raise fail(f"unknown role {role!r}: one of {', '.join(r.value for r in Role)}") from e

    async def run() -> int:
        settings = Settings()
        policy = load_policy(settings.policy_file)
        async with await open_event_store(settings, max_connections=2) as store:
            try:
                client, key = await ApiClients(store).create(
                    name=name,
                    role=client_role,
                    agency=agency,
                    policy=policy,
                    created_by=operator_actor(),
                    another_key=another_key,
                )
            except NameInUse as e:
                raise fail(
                    f"the name {e.name!r} is already in use (person {e.person_id}); names are "
                    "unique: choose another name, or add --another-key to give that same "
                    "person another key"
                ) from e
            except ApiClientError as e:
                raise fail(str(e)) from e
            seed = None
            if client.role is Role.AGENCY:
                seed = await BusCredentials(store).issue(
                    client.client_id, issued_by=operator_actor()
                )
        typer.echo(
            f"created API client {client.client_id} ({client.role.value}"
            f"{', ' + client.agency if client.agency else ''}): {client.name}, "
            f"person {client.person}",
            err=True,
        )
        typer.echo(key)
        if seed is not None:
            await _say_where_the_bus_credential_works(settings, client.agency or "")
            typer.echo(seed)
        return 0

    raise typer.Exit(run_against_stack(run))


async def _say_where_the_bus_credential_works(settings: Settings, agency: str) -> None:
    if await apply_bus_credentials(settings):
        where = "the local stack's NATS lets it in now"
    else:
        where = "deploy `sharehub bus config` to your NATS and reload it to let it in"
    typer.echo(
        f"bus credential for {agency} (nkey seed, next line; connect with inbox prefix "
        f"_INBOX_{agency}): {where}",
        err=True,
    )


@keys_app.command("list")
def keys_list() -> None:
    """List API clients (never their keys)."""
    from rich.console import Console
    from rich.table import Table

    from events.read_models.projector import Projector
    from events.read_models.queries import api_clients
    from workers.resources import open_event_store

    async def run() -> int:
        async with await open_event_store(Settings(), max_connections=2) as store:
            await Projector(store).catch_up()
            rows = await api_clients(store)
        table = Table(title="API clients")
        for column in ("client id", "name", "role", "agency", "created", "revoked"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                str(row["client_id"]),
                row["name"],
                row["role"],
                row["agency"] or "",
                f"{row['created_at']:%Y-%m-%d %H:%M} by {row['created_by']}",
                f"{row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else "",
            )
        Console(soft_wrap=True).print(table)
        return 0

    raise typer.Exit(run_against_stack(run))


@keys_app.command("revoke")
def keys_revoke(
    client_id: Annotated[str, typer.Argument(help="The client id `keys list` shows.")],
) -> None:
    """Revoke an API client's key at once."""
    from uuid import UUID

    from workers.hub.clients import ApiClientError, ApiClients
    from workers.resources import open_event_store

    try:
        parsed = UUID(client_id)
    except ValueError as e:
        raise fail(f"{client_id!r} is not a client id") from e

    async def run() -> int:
        settings = Settings()
        async with await open_event_store(settings, max_connections=2) as store:
            try:
                await ApiClients(store).revoke(parsed, revoked_by=operator_actor())
            except ApiClientError as e:
                raise fail(str(e)) from e
        typer.echo(f"revoked API client {parsed} (and its bus credential, if it had one)")
        if not await apply_bus_credentials(settings):
            typer.echo(
                "no NATS of the local stack to reload: deploy `sharehub bus config` to a NATS "
                "deployed elsewhere and reload it (nats-server --signal reload)",
                err=True,
            )
        return 0

    raise typer.Exit(run_against_stack(run))


@projections_app.command("rebuild")
def projections_rebuild() -> None:
    """Empty the read models and fold the whole event log into them again."""
    from events.read_models.projector import Projector
    from workers.resources import open_event_store

    async def run() -> int:
        async with await open_event_store(Settings(), max_connections=2) as store:
            folded = await Projector(store).rebuild()
        typer.echo(f"read models rebuilt from {folded} events")
        return 0

    raise typer.Exit(run_against_stack(run))


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply the event store's schema migrations that the database does not have yet."""
    from events.postgres import migrate

    async def run() -> int:
        applied = await migrate(Settings().resolved_owner_database_url())
        typer.echo("\n".join(f"applied {name}" for name in applied) or "schema is up to date")
        return 0

    raise typer.Exit(run_against_stack(run))


@policy_app.command("check")
def policy_check(
    path: Annotated[Path, typer.Argument(help="The policy file (TOML) to validate.")],
) -> None:
    """Validate a data sharing agreement file; exit 2 naming each problem's field."""
    from workflows.policy_file import PolicyError, check_policy_file

    try:
        typer.echo(check_policy_file(path))
    except PolicyError as e:
        raise fail(str(e)) from e


if __name__ == "__main__":
    app()
