"""An app served over real HTTP by uvicorn on a free loopback port, in the test's loop.

The edge (:mod:`workers.api.edge`) is about what crosses the wire: a body that is
never read, a header a browser obeys, a proxy's ``X-Forwarded-Proto``. These are
tested against a real server, not through httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI

from workers.stack.embedded import free_port


@contextlib.asynccontextmanager
async def served(app: FastAPI, **options: Any) -> AsyncIterator[str]:
    """The base URL of ``app``, served until the block ends (``options``: uvicorn's)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", **options
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "the server did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving
