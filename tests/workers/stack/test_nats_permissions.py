"""Who may do what on sharehub's NATS: a real nats-server run from the generated configuration.

Two agencies of the demo agreement hold credentials, the police (A) and a school (B).
Every stream sharehub keeps holds a message, and each agency has a notice and a reply
waiting. A's credential must reach A's notices, A's replies and A's intake, and
nothing else; an anonymous client must not connect at all; a revoked credential
must stop working while the server runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path

import nats
import nats.errors
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import RetentionPolicy, StreamConfig

from tests.workers.conftest import DEMO_POLICY
from workers.bus.identities import (
    AgencyCredential,
    agency_connect_options,
    new_seed,
    public_key_of,
    service_connect_options,
)
from workers.bus.jetstream import ensure_agency_consumers
from workers.bus.server_config import (
    BusConfigError,
    TlsFiles,
    authorization,
    render_authorization,
    server_config,
)
from workers.bus.streams import (
    ACKNOWLEDGEMENTS_SUBJECTS,
    AGENCIES_STREAM,
    AGENCIES_SUBJECTS,
    CHECKPOINTS_STREAM,
    CHECKPOINTS_SUBJECT,
    DEAD_LETTERS_STREAM,
    DEAD_LETTERS_SUBJECTS,
    EVENTS_STREAM,
    EVENTS_SUBJECTS,
    INTAKE_STREAM,
    REPLIES_STREAM,
    REPLIES_SUBJECTS,
    REQUESTS_SUBJECTS,
    agency_notices_consumer,
    agency_replies_consumer,
    dead_letter_subject,
    event_subject,
    replies_subject,
    requests_subject,
)
from workers.stack.embedded import EmbeddedNats, free_port
from workflows.policy import DataSharingAgreement
from workflows.policy_file import load_policy

POLICE, SCHOOL = "met-police", "st-aldhelms-primary"
SERVICE_SEED = new_seed()
SHARED_STREAMS = [
    EVENTS_STREAM,
    AGENCIES_STREAM,
    INTAKE_STREAM,
    REPLIES_STREAM,
    DEAD_LETTERS_STREAM,
    CHECKPOINTS_STREAM,
]


@dataclass
class Agencies:
    policy: DataSharingAgreement
    seeds: dict[str, str]
    server: EmbeddedNats
    credentials: list[AgencyCredential] = field(default_factory=list)

    def authorization_without(self, *agencies: str) -> str:
        kept = [c for c in self.credentials if c.agency not in agencies]
        block = authorization(
            self.policy, service_public_key=public_key_of(SERVICE_SEED), credentials=kept
        )
        return render_authorization(block, policy=self.policy)


@dataclass
class Connection:
    """An agency's connection, and every asynchronous error the server sent it."""

    client: NatsClient
    errors: list[str]

    async def violations_after(self, attempt: Callable[[], Awaitable[object]]) -> list[str]:
        """Run ``attempt`` and return the permission violations reported meanwhile."""
        before = len(self.errors)
        # A refused request looks like no answer at all to its sender.
        with contextlib.suppress(
            nats.errors.TimeoutError, TimeoutError, nats.errors.NoRespondersError
        ):
            await attempt()
        await self.client.flush()
        await asyncio.sleep(0.1)  # the -ERR may follow the flush's PONG
        return [e for e in self.errors[before:] if "permissions violation" in e.lower()]


@pytest.fixture(scope="module")
async def agencies(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Agencies]:
    policy = load_policy(DEMO_POLICY)
    seeds = {POLICE: new_seed(), SCHOOL: new_seed()}
    credentials = [
        AgencyCredential(client_id=uuid.uuid4(), agency=agency, public_key=public_key_of(seed))
        for agency, seed in seeds.items()
    ]
    block = authorization(
        policy, service_public_key=public_key_of(SERVICE_SEED), credentials=credentials
    )
    folder = tmp_path_factory.mktemp("nats-permissions")
    server = EmbeddedNats(
        folder / "store",
        free_port(),
        authorization=render_authorization(block, policy=policy),
        service_seed=SERVICE_SEED,
    )
    async with server:
        service = await nats.connect(server.url, **service_connect_options(SERVICE_SEED))
        streams = service.jetstream()
        for name, subjects, retention in [
            (EVENTS_STREAM, [EVENTS_SUBJECTS], RetentionPolicy.LIMITS),
            (AGENCIES_STREAM, [AGENCIES_SUBJECTS], RetentionPolicy.LIMITS),
            (REPLIES_STREAM, [REPLIES_SUBJECTS], RetentionPolicy.LIMITS),
            (DEAD_LETTERS_STREAM, [DEAD_LETTERS_SUBJECTS], RetentionPolicy.LIMITS),
            (CHECKPOINTS_STREAM, [CHECKPOINTS_SUBJECT], RetentionPolicy.LIMITS),
            (
                INTAKE_STREAM,
                [REQUESTS_SUBJECTS, ACKNOWLEDGEMENTS_SUBJECTS],
                RetentionPolicy.WORK_QUEUE,
            ),
        ]:
            await streams.add_stream(
                StreamConfig(name=name, subjects=subjects, retention=retention)
            )
        await ensure_agency_consumers(streams, policy, ack_wait=timedelta(seconds=1))
        for agency in (POLICE, SCHOOL):
            known = policy.agency(agency)
            assert known is not None
            await streams.publish(known.bus_subject, f"notice for {agency}".encode())
            await streams.publish(replies_subject(agency), f"reply for {agency}".encode())
            await streams.publish(dead_letter_subject(agency), b"dead letter")
        await streams.publish(event_subject("ShareRequestRaised"), b"an event")
        await streams.publish(CHECKPOINTS_SUBJECT, b"a checkpoint")
        await service.close()
        yield Agencies(policy=policy, seeds=seeds, server=server, credentials=credentials)


@pytest.fixture
async def police(agencies: Agencies) -> AsyncIterator[Connection]:
    async with connected(agencies.server.url, POLICE, agencies.seeds[POLICE]) as connection:
        yield connection


@pytest.fixture
async def service(agencies: Agencies) -> AsyncIterator[NatsClient]:
    client = await nats.connect(agencies.server.url, **service_connect_options(SERVICE_SEED))
    yield client
    await client.close()


class connected:
    def __init__(self, url: str, agency: str, seed: str) -> None:
        self._url, self._agency, self._seed = url, agency, seed
        self._errors: list[str] = []

    async def __aenter__(self) -> Connection:
        async def on_error(error: Exception) -> None:
            self._errors.append(str(error))

        client = await nats.connect(
            self._url,
            error_cb=on_error,
            allow_reconnect=False,
            **agency_connect_options(self._agency, self._seed),
        )
        self._client = client
        return Connection(client, self._errors)

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.close()


async def refused_connection(url: str, **options: object) -> str:
    """Connect and expect to be refused; the reason the client was given."""
    errors: list[str] = []

    async def on_error(error: Exception) -> None:
        errors.append(str(error))

    with pytest.raises(Exception) as refused:
        client = await nats.connect(
            url,
            error_cb=on_error,
            allow_reconnect=False,
            max_reconnect_attempts=1,
            connect_timeout=2,
            **options,
        )
        await client.close()
    return " ".join([*errors, str(refused.value)])


async def test_an_anonymous_client_is_refused(agencies: Agencies) -> None:
    reason = await refused_connection(agencies.server.url)
    assert "authorization violation" in reason.lower()


async def test_an_unknown_nkey_is_refused(agencies: Agencies) -> None:
    reason = await refused_connection(agencies.server.url, nkeys_seed_str=new_seed())
    assert "authorization violation" in reason.lower()


async def test_an_agency_publishes_its_own_raise(police: Connection, service: NatsClient) -> None:
    body = json.dumps({"request_id": str(uuid.uuid4())}).encode()
    ack = await police.client.jetstream().publish(requests_subject(POLICE), body)
    assert ack.stream == INTAKE_STREAM
    message = await service.jetstream().get_msg(INTAKE_STREAM, ack.seq)
    assert message.subject == requests_subject(POLICE) and message.data == body


async def test_an_agency_cannot_publish_to_another_agencys_intake(
    police: Connection, service: NatsClient
) -> None:
    before = (await service.jetstream().stream_info(INTAKE_STREAM)).state.messages
    violations = await police.violations_after(
        lambda: police.client.publish(requests_subject(SCHOOL), b"{}")
    )
    assert violations and requests_subject(SCHOOL) in violations[0]
    # Nor through JetStream's publish, which waits for an acknowledgement in vain.
    violations = await police.violations_after(
        lambda: police.client.jetstream().publish(requests_subject(SCHOOL), b"{}", timeout=0.5)
    )
    assert violations
    assert (await service.jetstream().stream_info(INTAKE_STREAM)).state.messages == before


async def test_an_agency_reads_its_own_notices_and_replies(police: Connection) -> None:
    streams = police.client.jetstream()
    for stream, consumer, expected in (
        (AGENCIES_STREAM, agency_notices_consumer(POLICE), b"notice for met-police"),
        (REPLIES_STREAM, agency_replies_consumer(POLICE), b"reply for met-police"),
    ):
        subscription = await streams.pull_subscribe_bind(consumer, stream=stream)
        [message] = await subscription.fetch(1, timeout=2)
        assert message.data == expected
        await message.ack_sync()
    assert await police.violations_after(lambda: police.client.flush()) == []


async def test_an_agency_cannot_read_another_agencys_notices_or_replies(
    police: Connection,
) -> None:
    school = load_policy(DEMO_POLICY).agency(SCHOOL)
    assert school is not None
    # Not on the subjects themselves ...
    for subject in (school.bus_subject, replies_subject(SCHOOL), AGENCIES_SUBJECTS, ">"):
        violations = await police.violations_after(partial(police.client.subscribe, subject))
        assert violations, subject
    # ... nor through the school's consumers.
    streams = police.client.jetstream()
    for stream, consumer in (
        (AGENCIES_STREAM, agency_notices_consumer(SCHOOL)),
        (REPLIES_STREAM, agency_replies_consumer(SCHOOL)),
    ):
        subscription = await streams.pull_subscribe_bind(consumer, stream=stream)
        violations = await police.violations_after(partial(subscription.fetch, 1, timeout=0.5))
        assert violations, consumer
    # Nor answers meant for another inbox.
    violations = await police.violations_after(
        lambda: police.client.subscribe(f"_INBOX_{SCHOOL}.>")
    )
    assert violations


@pytest.mark.parametrize("stream", SHARED_STREAMS)
async def test_an_agency_cannot_get_messages_of_any_stream_by_number(
    police: Connection, stream: str
) -> None:
    for api in (f"$JS.API.STREAM.MSG.GET.{stream}", f"$JS.API.DIRECT.GET.{stream}"):
        violations = await police.violations_after(
            partial(police.client.request, api, b'{"seq": 1}', timeout=0.5)
        )
        assert violations, api


@pytest.mark.parametrize("stream", SHARED_STREAMS)
async def test_an_agency_cannot_create_delete_or_purge_streams_or_consumers(
    police: Connection, service: NatsClient, stream: str
) -> None:
    streams = police.client.jetstream(timeout=0.5)
    attempts: list[Callable[[], Awaitable[object]]] = [
        lambda: streams.delete_stream(stream),
        lambda: streams.purge_stream(stream),
        lambda: streams.stream_info(stream),
        lambda: streams.add_consumer(stream, durable_name="mine"),
        lambda: streams.delete_consumer(stream, agency_notices_consumer(POLICE)),
        lambda: streams.add_stream(StreamConfig(name=f"{stream}_COPY", subjects=["copy.>"])),
    ]
    for attempt in attempts:
        assert await police.violations_after(attempt)
    info = await service.jetstream().stream_info(stream)
    assert info.state.messages >= 1 or stream == INTAKE_STREAM


async def test_a_revoked_credential_stops_working_without_a_restart(agencies: Agencies) -> None:
    server_pid = agencies.server.process.pid
    url, seed = agencies.server.url, agencies.seeds[SCHOOL]
    async with connected(url, SCHOOL, seed) as school:
        agencies.server.reload(agencies.authorization_without(SCHOOL))
        try:
            reason = ""
            # The server reloads in the background: until it has, the school still gets in
            # (pytest.fail), and a connection made while it reloads may be dropped instead
            # of refused ("Connection lost"). Wait for the refusal itself.
            for _ in range(50):
                try:
                    reason = await refused_connection(url, **agency_connect_options(SCHOOL, seed))
                except pytest.fail.Exception:
                    reason = ""
                if "authorization violation" in reason.lower():
                    break
                await asyncio.sleep(0.1)
            assert "authorization violation" in reason.lower()
            # The connection it had is closed too.
            for _ in range(50):
                if school.client.is_closed:
                    break
                await asyncio.sleep(0.1)
            assert school.client.is_closed
            # The police, still credited, go on; the server never restarted.
            async with connected(url, POLICE, agencies.seeds[POLICE]) as police:
                await police.client.jetstream().publish(requests_subject(POLICE), b"{}")
            assert agencies.server.process.pid == server_pid
            assert not agencies.server.process.has_exited()
        finally:
            agencies.server.reload(agencies.authorization_without())


def test_no_configuration_listens_beyond_loopback_without_tls(tmp_path: Path) -> None:
    with pytest.raises(BusConfigError, match="without TLS"):
        server_config(host="0.0.0.0", port=4222, store_dir=tmp_path)
    config = server_config(
        host="0.0.0.0",
        port=4222,
        store_dir=tmp_path,
        tls=TlsFiles(cert_file=Path("/etc/nats/server.pem"), key_file=Path("/etc/nats/key.pem")),
    )
    assert '"cert_file": "/etc/nats/server.pem"' in config
    assert server_config(host="127.0.0.1", port=4222, store_dir=tmp_path).startswith("#")
