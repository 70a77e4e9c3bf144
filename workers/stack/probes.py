"""Is it up? One probe per service of the stack.

A probe really talks to its service, the way sharehub will, and raises when the service
does not answer properly. It returns a short description for humans (the server's
version). Probes do not time out by themselves: callers bound them with
``asyncio.timeout``. The launchers use the probes to wait until a server is
ready, and ``sharehub status`` to report on a running stack.
"""

from __future__ import annotations

import asyncio
import ssl

import asyncpg
import httpx
import nats
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, GetSystemInfoRequest
from temporalio.client import Client
from temporalio.service import TLSConfig


async def probe_postgres(url: str) -> str:
    connection = await asyncpg.connect(url)
    try:
        version = await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()
    return f"PostgreSQL {version}"


async def probe_temporal(
    address: str, *, namespace: str = "default", tls: TLSConfig | bool = False
) -> str:
    """The server's version, once ``namespace`` exists; ``tls`` as sharehub connects."""
    description = await probe_temporal_client(
        await Client.connect(address, namespace=namespace, tls=tls), namespace=namespace
    )
    # The client is gone by now, but its Rust core closes the connection on threads of its
    # own, which abort the interpreter if it is exiting meanwhile: a short-lived process
    # like `sharehub status` would crash one time in twenty (temporalio/sdk-python#300).
    await asyncio.sleep(0.1)
    return description


async def probe_temporal_client(client: Client, *, namespace: str) -> str:
    """Through a client already connected: what a long-running process asks, often."""
    service = client.workflow_service
    # Workers need their namespace, which the dev server registers while starting.
    await service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    info = await service.get_system_info(GetSystemInfoRequest())
    return f"Temporal {info.server_version}, namespace {namespace}"


async def probe_nats(
    url: str, *, seed: str | None = None, tls: ssl.SSLContext | None = None
) -> str:
    """The server's version, once JetStream answers; ``seed`` is the nkey to connect as,
    ``tls`` how to check a server behind a private CA."""

    async def ignore_error(error: Exception) -> None:
        """The probe reports failures itself; the default callback would log them."""

    # One quick retry, then NoServersError: nats-py reads 0 attempts as "no limit" and
    # would otherwise keep trying every two seconds.
    connection = await nats.connect(
        url,
        allow_reconnect=False,
        max_reconnect_attempts=1,
        reconnect_time_wait=0,
        error_cb=ignore_error,
        nkeys_seed_str=seed,
        tls=tls,
    )
    try:
        await connection.jetstream().account_info()  # answers only when JetStream is on
        version = connection.connected_server_version
    finally:
        await connection.close()
    return f"nats-server {version.major}.{version.minor}.{version.patch}, JetStream on"


async def probe_api(url: str) -> str:
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/healthz")
        response.raise_for_status()
        document = (await client.get("/openapi.json")).json()
    return f"sharehub API {document['info']['version']}, docs at {url}/docs"
