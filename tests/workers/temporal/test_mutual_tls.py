"""sharehub reaches Temporal over mutual TLS when it is configured to.

The Temporal dev server speaks plain TCP only, so these tests put a TLS terminator
in front of it that, like a production frontend with ``requireClientAuth``, accepts
only clients presenting a certificate signed by the deployment's client CA.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from tests.events.conftest import MASTER_KEY
from workers.settings import Settings
from workers.temporal.client import TemporalTlsError, connect_temporal, tls_config


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path
    stranger_key: Path


async def test_with_a_client_certificate_sharehub_talks_to_temporal(
    tls_frontend: str, pki: Pki
) -> None:
    client = await connect_temporal(
        _settings(tls_frontend, ca=pki.ca, cert=pki.client_cert, key=pki.client_key)
    )
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    assert info.server_version


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
    """A CA, the frontend's certificate and sharehub's; and a stranger's from another CA."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = _self_signed("sharehub test CA")
    stranger_ca_key, stranger_ca_cert = _self_signed("another CA")
    server_key, server_cert = _issued(ca_key, ca_cert, "localhost", server=True)
    client_key, client_cert = _issued(ca_key, ca_cert, "sharehub", server=False)
    stranger_key, stranger_cert = _issued(
        stranger_ca_key, stranger_ca_cert, "sharehub", server=False
    )
    files = {
        "ca": _pem(ca_cert),
        "server_cert": _pem(server_cert),
        "server_key": _key_pem(server_key),
        "client_cert": _pem(client_cert),
        "client_key": _key_pem(client_key),
        "stranger_cert": _pem(stranger_cert),
        "stranger_key": _key_pem(stranger_key),
    }
    for name, content in files.items():
        (folder / f"{name}.pem").write_bytes(content)
    return Pki(**{name: folder / f"{name}.pem" for name in files})


def _self_signed(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def _issued(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, name: str, *, server: bool
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    usage = (
        x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
        if server
        else (x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH)
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return key, builder.sign(ca_key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
