"""The API application: routers, problem handlers, and the resources it runs on.

``create_app(settings)`` opens the event store, the Temporal client and the
read-model projector for the life of the process; ``build_app(context)`` wires
routes to resources already open (the tests' way in).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from temporalio.service import RPCError

from events.read_models.projector import running_projector
from workers.api import advisors, agencies, auditors, health, hub
from workers.api.context import ApiContext, storable_text
from workers.api.problems import document_problems, install_problem_handlers, problem_response
from workers.console.mount import mount_console
from workers.hub.clients import ApiClients
from workers.hub.records import Records
from workers.hub.share_requests import ShareRequestService
from workers.resources import open_event_store
from workers.settings import Settings
from workers.temporal.client import temporal_client
from workflows.policy import load_policy

logger = logging.getLogger(__name__)

DESCRIPTION = """\
sharehub carries share requests about children between safeguarding agencies
through a Children and Families Hub, and keeps every step as an immutable event.

Authenticate with an API client key (`sharehub keys create`):
`Authorization: Bearer shk_…`. Each key has one role — agency, hub_officer,
hub_manager, ig_advisor, auditor or admin — and an agency key its agency.
Every error is an RFC 9457 problem (`application/problem+json`) whose `type`
is `urn:sharehub:problem:<slug>`. Lists are paged with `cursor`/`next_cursor`.
Bus intake for agency systems is described at `/asyncapi`.
"""


def build_app(context: ApiContext | None = None, *, lifespan: object = None) -> FastAPI:
    app = FastAPI(
        title="sharehub",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,  # type: ignore[arg-type]
        dependencies=[Depends(storable_text)],
    )
    if context is not None:
        app.state.context = context
    install_problem_handlers(app)
    document_problems(app)

    @app.exception_handler(RPCError)
    async def _temporal(request: Request, error: RPCError) -> JSONResponse:
        logger.warning("Temporal call failed: %s", error.status)
        return problem_response(
            request, 503, "temporal-unavailable", "Temporal is unavailable", error.status.name
        )

    for module in (agencies, hub, advisors, auditors, health):
        app.include_router(module.router)
    mount_console(app)  # the web console at /, for people (not in the OpenAPI document)
    return app


@contextlib.asynccontextmanager
async def opened_context(settings: Settings) -> AsyncIterator[ApiContext]:
    policy = load_policy(settings.policy_file)
    async with (
        await open_event_store(settings) as store,
        temporal_client(settings) as client,
        running_projector(store) as projector,
    ):
        yield ApiContext(
            settings=settings,
            policy=policy,
            store=store,
            temporal=client,
            service=ShareRequestService(client, policy, task_queue=settings.temporal_task_queue),
            records=Records(store),
            clients=ApiClients(store),
            projector=projector,
        )


def create_app(settings: Settings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with opened_context(settings) as context:
            app.state.context = context
            yield

    return build_app(lifespan=lifespan)


def run_api(settings: Settings) -> int:
    """``sharehub api``: serve until SIGINT or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="info",
        access_log=False,  # paths carry request ids only, but keep the log for errors
    )
    return 0
