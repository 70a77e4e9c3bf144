"""``mount_console(app)``: the console's pages and front-end files, on the API's app.

The pages are :class:`~workers.console.routing.ConsoleRoute` routes, left out of the
OpenAPI document (they are for people, not clients of ``/v1``).
"""

from __future__ import annotations

from fastapi import FastAPI

from workers.console import advice, agency, audit, hub, queue, sign_in
from workers.console.assets import installed_assets, mount_assets


def mount_console(app: FastAPI) -> None:
    app.state.console_unavailable = mount_assets(app, installed_assets())
    for module in (sign_in, queue, hub, advice, audit, agency):
        app.include_router(module.router)
