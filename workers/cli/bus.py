"""``sharehub bus …``: the NATS server's configuration, generated from the agreement and the log.

``sharehub bus config`` prints a whole nats-server configuration for a NATS deployed
elsewhere (who may connect, with what permissions; JetStream; TLS off loopback);
``sharehub bus reload`` rewrites and reloads the local stack's. ``sharehub keys
create --role agency`` and ``keys revoke`` reload the local stack's by themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workers.cli.common import fail, run_against_stack
from workers.settings import Settings

bus_app = typer.Typer(help="The NATS bus: who may connect, and to do what.", no_args_is_help=True)


@bus_app.command("seed")
def bus_seed() -> None:
    """Print a new nkey seed for sharehub's own identity on NATS (SHAREHUB_NATS_SEED).

    Every sharehub process connects with it; keep it as secret as a password. A local
    stack makes its own, under its home folder.
    """
    from workers.bus.identities import new_seed

    typer.echo(new_seed())


@bus_app.command("config")
def bus_config(
    listen: Annotated[
        str, typer.Option(help="host:port the server listens on (TLS is required off loopback).")
    ] = "127.0.0.1:4222",
    store_dir: Annotated[
        Path, typer.Option(help="Where the server's JetStream keeps its streams.")
    ] = Path("/data/jetstream"),
    tls_cert: Annotated[
        Path | None, typer.Option(help="The server's TLS certificate (PEM).")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="The server's TLS key (PEM).")] = None,
    tls_ca: Annotated[
        Path | None,
        typer.Option(help="A CA (PEM) whose client certificates are required as well."),
    ] = None,
) -> None:
    """Print the nats-server configuration: sharehub's identity, each agency credential in
    force with its permissions, JetStream, TLS. Deploy it, then `nats-server --signal reload`.
    """
    from workers.bus.server_config import (
        BusConfigError,
        TlsFiles,
        current_authorization,
        server_config,
    )
    from workers.resources import open_event_store
    from workflows.policy_file import PolicyError, load_policy

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise fail(f"--listen {listen!r} is not host:port")
    if (tls_cert is None) != (tls_key is None):
        raise fail("give both --tls-cert and --tls-key, or neither")
    tls = None
    if tls_cert is not None and tls_key is not None:
        tls = TlsFiles(cert_file=tls_cert, key_file=tls_key, ca_file=tls_ca)

    async def run() -> int:
        settings = Settings()
        try:
            policy = load_policy(settings.policy_file)
        except PolicyError as e:
            raise fail(str(e)) from e
        async with await open_event_store(settings, max_connections=2) as store:
            authorization = await current_authorization(
                store, policy, service_seed=settings.nats_service_seed()
            )
        try:
            config = server_config(
                host=host,
                port=int(port),
                store_dir=store_dir,
                tls=tls,
                authorization_text=authorization,
            )
        except BusConfigError as e:
            raise fail(str(e)) from e
        typer.echo(config, nl=False)
        return 0

    raise typer.Exit(run_against_stack(run))


@bus_app.command("reload")
def bus_reload() -> None:
    """Rewrite the local stack's NATS authorization from the log, and reload it (no restart)."""

    async def run() -> int:
        settings = Settings()
        applied = await apply_bus_credentials(settings)
        if not applied:
            raise fail(
                "no NATS server of sharehub's is running here: for a NATS deployed "
                "elsewhere, deploy `sharehub bus config` and reload it"
            )
        typer.echo("NATS reloaded with the credentials in force")
        return 0

    raise typer.Exit(run_against_stack(run))


async def apply_bus_credentials(settings: Settings) -> bool:
    """Bring the managed NATS server's authorization up to date; False if there is none."""
    from workers.bus.server_config import apply_to_managed_server
    from workers.resources import open_event_store
    from workflows.policy_file import load_policy

    policy = load_policy(settings.policy_file)
    async with await open_event_store(settings, max_connections=2) as store:
        return await apply_to_managed_server(settings, store, policy) is not None
