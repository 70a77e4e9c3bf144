"""Notices to agencies on real NATS JetStream: each on its agency's subject, once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from faststream.nats import NatsBroker
from nats.js.errors import NotFoundError

from tests.conftest import NATS_SERVICE_SEED
from workers.bus.identities import service_broker_options
from workers.bus.notices import NatsAgencyPublisher
from workers.bus.streams import AGENCIES_STREAM
from workflows.activities import AgencyNotice


@pytest.fixture
async def publisher(nats_url: str) -> AsyncIterator[NatsAgencyPublisher]:
    client = await nats.connect(nats_url, nkeys_seed_str=NATS_SERVICE_SEED)
    try:  # a fresh stream for each test
        await client.jetstream().delete_stream(AGENCIES_STREAM)
    except NotFoundError:
        pass
    finally:
        await client.close()
    broker = NatsBroker(nats_url, **service_broker_options(NATS_SERVICE_SEED))
    publisher = NatsAgencyPublisher(broker)
    await publisher.start()
    yield publisher
    await broker.stop()


async def messages_on(nats_url: str, subject: str) -> list[bytes]:
    client = await nats.connect(nats_url, nkeys_seed_str=NATS_SERVICE_SEED)
    try:
        streams = client.jetstream()
        subscription = await streams.pull_subscribe(subject, stream=AGENCIES_STREAM)
        try:
            fetched = await subscription.fetch(100, timeout=1)
        except nats.errors.TimeoutError:
            return []
        return [message.data for message in fetched]
    finally:
        await client.close()


async def test_each_agency_gets_its_notices_once_on_its_own_subject(
    publisher: NatsAgencyPublisher, nats_url: str
) -> None:
    request_id = uuid.uuid4()
    police = AgencyNotice(
        notice_id=uuid.uuid4(),
        kind="disclosure",
        request_id=request_id,
        agency="met-police",
        categories=["missing_episodes"],
        purpose="safeguarding_strategy",
    )
    school = police.model_copy(
        update={"notice_id": uuid.uuid4(), "agency": "st-aldhelms-primary", "kind": "outcome"}
    )
    for notice, subject in (
        (police, "sharehub.agency.met-police.disclosures"),
        (police, "sharehub.agency.met-police.disclosures"),  # a retried activity
        (school, "sharehub.agency.st-aldhelms-primary.disclosures"),
    ):
        await publisher.publish(
            subject=subject,
            message_id=str(notice.notice_id),
            body=notice.model_dump_json().encode(),
        )
    on_police = await messages_on(nats_url, "sharehub.agency.met-police.disclosures")
    on_school = await messages_on(nats_url, "sharehub.agency.st-aldhelms-primary.disclosures")
    assert [AgencyNotice.model_validate_json(m) for m in on_police] == [police]
    assert [AgencyNotice.model_validate_json(m) for m in on_school] == [school]
