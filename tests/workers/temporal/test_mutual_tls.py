"""sharehub reaches Temporal over mutual TLS when it is configured to.

The Temporal dev server speaks plain TCP only, so these tests put a TLS terminator
in front of it that, like a production frontend with ``requireClientAuth``, accepts
only clients presenting a certificate signed by the deployment's client CA.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from tests.events.conftest import MASTER_KEY
from tests.pki import Pki, make_pki
from workers.settings import Settings
from workers.stack.probes import probe_temporal
from workers.temporal.client import TemporalTlsError, connect_temporal, tls_config


async def test_with_a_client_certificate_sharehub_talks_to_temporal(
    tls_frontend: str, pki: Pki
) -> None:
    client = await connect_temporal(
        _settings(tls_frontend, ca=pki.ca, cert=pki.client_cert, key=pki.client_key)
    )
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    assert info.server_version


async def test_sharehub_status_probes_the_frontend_as_sharehub_connects(
    tls_frontend: str, pki: Pki
) -> None:
    settings = _settings(tls_frontend, ca=pki.ca, cert=pki.client_cert, key=pki.client_key)
    assert "namespace default" in await probe_temporal(tls_frontend, tls=tls_config(settings))


@pytest.mark.parametrize("who", ["no certificate", "a certificate of another CA"])
async def test_without_the_deployments_client_certificate_the_frontend_is_closed(
    tls_frontend: str, pki: Pki, who: str
) -> None:
    cert, key = (None, None) if who == "no certificate" else (pki.stranger_cert, pki.stranger_key)
    settings = _settings(tls_frontend, ca=pki.ca, cert=cert, key=key)
    with pytest.raises(RuntimeError):
        async with asyncio.timeout(30):
            client = await connect_temporal(settings)
            await client.workflow_service.get_system_info(GetSystemInfoRequest())


def test_tls_is_off_unless_configured_and_a_certificate_needs_its_key(pki: Pki) -> None:
    assert tls_config(_settings("127.0.0.1:7233")) is False
    with pytest.raises(TemporalTlsError, match="go together"):
        tls_config(_settings("127.0.0.1:7233", ca=pki.ca, cert=pki.client_cert))
    with pytest.raises(TemporalTlsError, match="cannot read"):
        tls_config(_settings("127.0.0.1:7233", ca=pki.ca.with_name("missing.pem")))


def _settings(
    address: str, *, ca: Path | None = None, cert: Path | None = None, key: Path | None = None
) -> Settings:
    return Settings(
        temporal_address=address,
        master_key=base64.b64encode(MASTER_KEY).decode(),
        temporal_tls_ca_file=ca,
        temporal_tls_cert_file=cert,
        temporal_tls_key_file=key,
        temporal_tls_server_name="localhost",
    )


@pytest.fixture
async def tls_frontend(temporal_address: str, pki: Pki) -> AsyncIterator[str]:
    """A mutual-TLS frontend (HTTP/2 by ALPN, as gRPC wants) relaying to the dev server."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=pki.ca)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])
    upstream_host, upstream_port = temporal_address.rsplit(":", 1)

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(upstream_host, int(upstream_port))
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(relay, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"127.0.0.1:{port}"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ssl.SSLError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError, ssl.SSLError, RuntimeError):
        writer.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))
