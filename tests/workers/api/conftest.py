"""The HTTP API in process, on the real stack of ``tests/workers/conftest.py``.

``api`` builds the app with :func:`workers.processes.api.sharehub_app` (the API and
the console) around the test's own store, Temporal client, worker (a task queue of
the test's own) and a live projector, and talks to it through httpx's ASGI transport.
It holds one key for every role, and for three agencies: the referrer of
:func:`raise_body`, one of its recipients, and one that is neither.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client

from events.envelope import Actor, RecordedEvent
from events.postgres import PostgresEventStore
from events.read_models.projector import Projector, running_projector
from tests.workflows.scenario import raise_request
from workers.hub.clients import ApiClients
from workers.hub.context import HubContext
from workers.hub.records import Records
from workers.hub.share_requests import ShareRequestService
from workers.processes.api import sharehub_app
from workers.settings import Settings
from workflows.models import Role
from workflows.policy import DataSharingAgreement

REFERRER = "st-aldhelms-primary"
RECIPIENT = "met-police"
BYSTANDER = "wandlebury-housing"  # a signatory that neither raised nor receives anything
PROBLEM = "application/problem+json"
T = TypeVar("T")


@dataclass(frozen=True)
class Caller:
    """One API client: its name, role, agency and key (which holds its client id)."""

    name: str
    role: Role | None
    agency: str | None
    key: str | None
    revoked: bool = False

    @property
    def actor_id(self) -> str:
        """The actor id its events carry: its client id, read from its key."""
        assert self.key is not None, f"{self.name} has no key"
        return str(UUID(hex=self.key.split("_")[1]))

    @property
    def headers(self) -> dict[str, str]:
        return {} if self.key is None else {"Authorization": f"Bearer {self.key}"}


@dataclass(frozen=True)
class Callers:
    school: Caller  # the referrer
    police: Caller  # a recipient
    housing: Caller  # neither
    officer: Caller
    manager: Caller
    second_manager: Caller  # a sign-off comes from another manager than the decider
    advisor: Caller
    auditor: Caller
    admin: Caller
    anonymous: Caller
    revoked: Caller  # the school's second key, revoked

    def everyone(self) -> list[Caller]:
        return [
            self.school,
            self.police,
            self.housing,
            self.officer,
            self.manager,
            self.second_manager,
            self.advisor,
            self.auditor,
            self.admin,
            self.anonymous,
            self.revoked,
        ]


@dataclass(frozen=True)
class Api:
    app: FastAPI
    http: httpx.AsyncClient
    store: PostgresEventStore
    projector: Projector
    callers: Callers

    async def settled(self) -> int:
        """The head position, once the read models reflect it."""
        head = await self.store.head_position()
        await self.projector.wait_for(head)
        return head

    async def quiet(self, *, for_seconds: float = 0.3) -> int:
        """The head position once nothing new was recorded for a while.

        Workflows record some events after an action has been answered (a raise is
        recorded once the workflow runs; disclosures follow a final decision).
        """
        head = await self.settled()
        while True:
            await asyncio.sleep(for_seconds)
            now = await self.settled()
            if now == head:
                return head
            head = now

    async def events_after(self, position: int) -> list[RecordedEvent]:
        return await self.store.read_all(from_position=position + 1)


async def eventually(
    attempt: Callable[[], Awaitable[T]], accept: Callable[[T], bool], *, seconds: float = 20.0
) -> T:
    """``attempt()`` again until its answer is accepted: workflows move on after they answer."""
    deadline = time.monotonic() + seconds
    while True:
        answer = await attempt()
        if accept(answer) or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.1)


def raise_body(**changes: Any) -> dict[str, Any]:
    """The scenario's request as the school's system sends it over HTTP."""
    request = raise_request().model_dump(mode="json", exclude={"request_id", "referrer"})
    return {"raised_by": "dsl-okonjo", **request, **changes}


@pytest.fixture
async def api(
    settings: Settings,
    store: PostgresEventStore,
    client: Client,
    worker: None,
    service: ShareRequestService,
    policy: DataSharingAgreement,
) -> AsyncIterator[Api]:
    clients = ApiClients(store)
    admin = Actor(id="test-administrator", role="admin")

    async def key(name: str, role: Role, agency: str | None = None) -> Caller:
        _, secret = await clients.create(
            name=name, role=role, agency=agency, policy=policy, created_by=admin
        )
        return Caller(name=name, role=role, agency=agency, key=secret)

    old_laptop = await key("dsl-okonjo-old-laptop", Role.AGENCY, REFERRER)
    assert old_laptop.key is not None
    await clients.revoke(UUID(hex=old_laptop.key.split("_")[1]), revoked_by=admin)
    revoked = dataclasses.replace(old_laptop, revoked=True)
    callers = Callers(
        school=await key("dsl-okonjo", Role.AGENCY, REFERRER),
        police=await key("dc-harris", Role.AGENCY, RECIPIENT),
        housing=await key("tenancy-officer-mensah", Role.AGENCY, BYSTANDER),
        officer=await key("officer-reid", Role.HUB_OFFICER),
        manager=await key("manager-aziz", Role.HUB_MANAGER),
        second_manager=await key("manager-lowe", Role.HUB_MANAGER),
        advisor=await key("ig-lead-park", Role.IG_ADVISOR),
        auditor=await key("auditor-quinn", Role.AUDITOR),
        admin=await key("admin-fenwick", Role.ADMIN),
        anonymous=Caller(name="anonymous", role=None, agency=None, key=None),
        revoked=revoked,
    )
    async with running_projector(store) as projector:
        context = HubContext(
            settings=settings,
            policy=policy,
            store=store,
            temporal=client,
            service=service,
            records=Records(store),
            clients=clients,
            projector=projector,
        )
        app = sharehub_app(context)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Api(app=app, http=http, store=store, projector=projector, callers=callers)
