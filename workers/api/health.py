"""Liveness and readiness, for load balancers and monitoring (no authentication)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from workers.api.context import Context
from workers.api.schemas import Health
from workers.bus.intake.asyncapi import intake_asyncapi
from workers.stack.probes import probe_nats, probe_temporal_client

router = APIRouter(tags=["operations"])
_PROBE_SECONDS = 3.0


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(hub: Context) -> JSONResponse:
    """PostgreSQL, Temporal and NATS all answer (503 naming the one that does not)."""
    settings = hub.settings
    probes: dict[str, Callable[[], Awaitable[str]]] = {
        # The store's pool, logged in as the application: no new connection per call.
        "postgres": hub.store.ping,
        "temporal": lambda: probe_temporal_client(
            hub.temporal, namespace=settings.temporal_namespace
        ),
        "nats": lambda: probe_nats(
            settings.resolved_nats_url(),
            seed=settings.nats_service_seed(),
            tls=settings.nats_tls_context(),
        ),
    }

    async def check(probe: Callable[[], Awaitable[str]]) -> str:
        try:
            async with asyncio.timeout(_PROBE_SECONDS):
                await probe()
        except Exception as error:  # any failure means not ready; say which
            return f"down: {type(error).__name__}"
        return "up"

    results = await asyncio.gather(*(check(p) for p in probes.values()))
    components = dict(zip(probes, results, strict=True))
    ready = all(result == "up" for result in results)
    body = Health(status="ready" if ready else "not ready", components=components)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/asyncapi", tags=["operations"])
async def asyncapi(hub: Context) -> JSONResponse:
    """The AsyncAPI document of bus intake: subjects and messages for agency systems."""
    return JSONResponse(intake_asyncapi(server_url=hub.settings.resolved_nats_url()))
