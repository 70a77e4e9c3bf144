"""The API application: routers, problem handlers, and the resources it runs on.

``build_app(context)`` wires the routes to the hub's resources
(:class:`~workers.hub.context.HubContext`), given open or opened later by a lifespan.
``sharehub api`` (:mod:`workers.processes.api`) serves it with the web console
mounted beside it; the edge (:mod:`workers.api.edge`) wraps both.
"""

from __future__ import annotations

import logging

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from temporalio.service import RPCError

from workers.api import advisors, agencies, auditors, health, hub
from workers.api.context import storable_text
from workers.api.docs import install_docs
from workers.api.edge import document_edge, install_edge
from workers.api.problems import document_problems, install_problem_handlers, problem_response
from workers.hub.context import HubContext

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


def build_app(context: HubContext | None = None, *, lifespan: object = None) -> FastAPI:
    app = FastAPI(
        title="sharehub",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,  # type: ignore[arg-type]
        dependencies=[Depends(storable_text)],
        docs_url=None,  # install_docs: from packaged files, not a CDN
        redoc_url=None,
    )
    if context is not None:
        app.state.context = context
    install_problem_handlers(app)
    document_problems(app)
    # The edge, for every route mounted on this app (the console's pages too).
    install_edge(app)
    document_edge(app)
    install_docs(app)

    @app.exception_handler(RPCError)
    async def _temporal(request: Request, error: RPCError) -> JSONResponse:
        logger.warning("Temporal call failed: %s", error.status)
        return problem_response(
            request, 503, "temporal-unavailable", "Temporal is unavailable", error.status.name
        )

    for module in (agencies, hub, advisors, auditors, health):
        app.include_router(module.router)
    return app
