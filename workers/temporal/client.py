"""The Temporal client of every sharehub process, with payloads encrypted.

Client, worker, replayer and tests all use :func:`data_converter`: pydantic
models in and out (``pydantic_data_converter``), every payload encrypted by
:class:`~workers.temporal.codec.EncryptionCodec` (and any payload sharehub did not
send refused, as :class:`~workers.temporal.codec.PayloadRefused`), and failure messages and stack
traces moved into the encrypted payloads too, since an error message can name
a child. A process connects with::

    async with temporal_client(settings) as client:
        await client.execute_workflow(...)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.service import TLSConfig

from workers.settings import Settings
from workers.temporal.codec import EncryptionCodec, RefusingPayloadConverter

# How long to wait, once the client is dropped, for its Rust core to close the
# connection on threads of its own: those threads abort the interpreter if it is
# exiting meanwhile ("Fatal Python error: PyGILState_Release",
# temporalio/sdk-python#300). 0.1 s was found enough; see also workers.stack.probes.
_CLIENT_SHUTDOWN_GRACE = 0.1


def data_converter(master_key: bytes, *, old_master_keys: Sequence[bytes] = ()) -> DataConverter:
    """Pydantic payloads, encrypted under the deployment's payload key.

    Payloads under the keys of ``old_master_keys`` (a rotation under way) still
    open; any other payload is refused.
    """
    return dataclasses.replace(
        pydantic_data_converter,
        payload_converter_class=RefusingPayloadConverter,
        payload_codec=EncryptionCodec.for_master_key(master_key, old_master_keys=old_master_keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect_temporal(settings: Settings) -> Client:
    """A client of the configured (or running) Temporal, with sharehub's data converter.

    A short-lived process should prefer :func:`temporal_client`, which avoids a
    crash at interpreter exit.
    """
    return await Client.connect(
        settings.resolved_temporal_address(),
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings.master_key_bytes()),
        tls=tls_config(settings),
    )


class TemporalTlsError(ValueError):
    """The Temporal TLS settings are incomplete or their files cannot be read."""


def tls_config(settings: Settings) -> TLSConfig | bool:
    """How sharehub reaches Temporal: mutual TLS when configured, plain TCP otherwise.

    Plain TCP is for a frontend only sharehub can reach (the local stack binds it
    to loopback); anywhere else the frontend should require a client certificate, so
    that only holders of sharehub's key pair can start workflows or send Updates.
    """
    ca, cert, key = (
        settings.temporal_tls_ca_file,
        settings.temporal_tls_cert_file,
        settings.temporal_tls_key_file,
    )
    if ca is None and cert is None and key is None:
        return False
    if (cert is None) != (key is None):
        raise TemporalTlsError(
            "SHAREHUB_TEMPORAL_TLS_CERT_FILE and SHAREHUB_TEMPORAL_TLS_KEY_FILE go together"
        )
    try:
        return TLSConfig(
            server_root_ca_cert=None if ca is None else ca.read_bytes(),
            client_cert=None if cert is None else cert.read_bytes(),
            client_private_key=None if key is None else key.read_bytes(),
            domain=settings.temporal_tls_server_name,
        )
    except OSError as e:
        raise TemporalTlsError(f"cannot read a Temporal TLS file: {e}") from e


@contextlib.asynccontextmanager
async def temporal_client(settings: Settings) -> AsyncIterator[Client]:
    """:func:`connect_temporal` for the duration of a block, then a clean goodbye.

    Use the client only inside the block: on leaving it, we drop our reference
    and give the client's core a moment to close its connection, so that a
    process exiting right after does not abort (temporalio/sdk-python#300).
    """
    client = await connect_temporal(settings)
    try:
        yield client
    finally:
        del client
        await asyncio.sleep(_CLIENT_SHUTDOWN_GRACE)
