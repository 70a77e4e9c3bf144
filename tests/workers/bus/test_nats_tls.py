"""sharehub's processes reach a NATS behind TLS, checked against the deployment's CA.

A NATS off loopback must run TLS (``sharehub bus config`` refuses otherwise); its
certificate is usually signed by a private CA, which sharehub is told of with
``SHAREHUB_NATS_TLS_CA_FILE`` (and, where the server asks for client certificates,
``SHAREHUB_NATS_TLS_CERT_FILE`` / ``_KEY_FILE``). The server here runs the generated
configuration, with TLS and client certificates required.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest

from tests.pki import Pki, make_pki
from workers.bus.identities import new_seed, public_key_of, service_connect_options
from workers.bus.server_config import TlsFiles, authorization, render_authorization, server_config
from workers.settings import Settings
from workers.stack.embedded import _VENV_BIN, free_port
from workers.stack.probes import probe_nats
from workflows.policy_file import load_policy

DEMO_POLICY = Path(__file__).resolve().parents[3] / "policy" / "demo-dsa.toml"
SEED = new_seed()


async def test_with_the_ca_and_a_client_certificate_sharehub_connects(
    tls_nats: str, pki: Pki
) -> None:
    tls = _settings(ca=pki.ca, cert=pki.client_cert, key=pki.client_key).nats_tls_context()
    assert "JetStream on" in await probe_nats(tls_nats, seed=SEED, tls=tls)
    client = await nats.connect(tls_nats, **service_connect_options(SEED, tls=tls))
    await client.close()


@pytest.mark.parametrize(
    "who", ["without the CA", "without a client certificate", "with a stranger's certificate"]
)
async def test_otherwise_the_connection_is_refused(tls_nats: str, pki: Pki, who: str) -> None:
    settings = {
        "without the CA": _settings(cert=pki.client_cert, key=pki.client_key),
        "without a client certificate": _settings(ca=pki.ca),
        "with a stranger's certificate": _settings(
            ca=pki.ca, cert=pki.stranger_cert, key=pki.stranger_key
        ),
    }[who]
    with pytest.raises(Exception):  # noqa: B017 (TLS and NATS errors differ by cause)
        async with asyncio.timeout(20):
            await probe_nats(tls_nats, seed=SEED, tls=settings.nats_tls_context())


def test_a_certificate_needs_its_key(pki: Pki) -> None:
    assert _settings().nats_tls_context() is None
    with pytest.raises(ValueError, match="go together"):
        _settings(ca=pki.ca, cert=pki.client_cert).nats_tls_context()


def _settings(
    *, ca: Path | None = None, cert: Path | None = None, key: Path | None = None
) -> Settings:
    return Settings(nats_tls_ca_file=ca, nats_tls_cert_file=cert, nats_tls_key_file=key)


@pytest.fixture
async def tls_nats(tmp_path: Path, pki: Pki) -> AsyncIterator[str]:
    """nats-server running the generated configuration, TLS with client certificates."""
    policy = load_policy(DEMO_POLICY)
    port = free_port()
    config = server_config(
        host="127.0.0.1",
        port=port,
        store_dir=tmp_path / "store",
        tls=TlsFiles(cert_file=pki.server_cert, key_file=pki.server_key, ca_file=pki.ca),
        authorization_text=render_authorization(
            authorization(policy, service_public_key=public_key_of(SEED), credentials=[]),
            policy=policy,
        ),
    )
    (tmp_path / "nats.conf").write_text(config)
    server = await asyncio.create_subprocess_exec(
        str(_VENV_BIN / "nats-server"),
        "-c",
        str(tmp_path / "nats.conf"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await _listening(port)
        yield f"tls://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            server.terminate()
        await server.wait()


async def _listening(port: int) -> None:
    async with asyncio.timeout(10):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_the_context_checks_the_server(pki: Pki) -> None:
    context = _settings(ca=pki.ca).nats_tls_context()
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED
