"""``sharehub api``: the HTTP API and the web console in one app, served by uvicorn.

The doors stay apart (:mod:`workers.api`, :mod:`workers.console`); this process
assembles them: the API's routes under ``/v1`` and the console's pages at ``/``,
on the hub's resources (:mod:`workers.hub.context`), opened in the app's lifespan.
Its read-model projector keeps the views up to date while it runs. Behind a reverse
proxy, ``SHAREHUB_FORWARDED_ALLOW_IPS`` names the proxies whose ``X-Forwarded-*``
headers it believes (:func:`proxy_options`). Serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI

from workers.api.app import build_app
from workers.console.mount import mount_console
from workers.hub.context import HubContext, opened_context
from workers.settings import Settings


def sharehub_app(context: HubContext | None = None, *, lifespan: object = None) -> FastAPI:
    """The API with the console mounted beside it (``context``: resources already open)."""
    app = build_app(context, lifespan=lifespan)
    mount_console(app)  # the web console at /, for people (not in the OpenAPI document)
    return app


def create_app(settings: Settings) -> FastAPI:
    """:func:`sharehub_app`, opening the hub's resources for the life of the process."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with opened_context(settings) as context:
            app.state.context = context
            yield

    return sharehub_app(lifespan=lifespan)


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy options: trust ``X-Forwarded-*`` from the configured proxies only.

    From a trusted proxy, ``X-Forwarded-Proto`` sets the request's scheme (so the
    session cookie is ``Secure`` and HSTS is sent when the browser's side is https)
    and ``X-Forwarded-For`` its client address (which failed key attempts are counted
    against). Without ``SHAREHUB_FORWARDED_ALLOW_IPS`` the headers are ignored, from
    loopback too (uvicorn would trust 127.0.0.1 by default).
    """
    if not settings.forwarded_allow_ips:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips}


def run_api(settings: Settings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="info",
        access_log=False,  # paths carry request ids only, but keep the log for errors
        **proxy_options(settings),
    )
    return 0
