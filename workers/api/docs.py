"""``/docs``: Swagger UI from the files ``package.json`` pins, never from a CDN.

FastAPI's own ``/docs`` loads swagger-ui from a public CDN without integrity, and
starts it with an inline script. Here the files of npm's ``swagger-ui-dist``
(installed by ``npm ci``: ``make up``, ``make test``) are served at
``/vendor/swagger-ui``, the page is FastAPI's :func:`get_swagger_ui_html` pointed at
them, and its inline start-up script is served as ``/docs/swagger-init.js``, so the
page runs under the edge's Content-Security-Policy (``workers.api.edge``). ReDoc and
the OAuth2 redirect page are not served: both would load or run code from elsewhere,
and API keys need neither. Without the files, ``/docs`` answers a 503 problem that says
what to run; ``/openapi.json`` is there either way.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from workers.api.problems import problem_response

logger = logging.getLogger(__name__)

REPOSITORY = Path(__file__).resolve().parents[2]
SWAGGER_UI_DIST = REPOSITORY / "node_modules" / "swagger-ui-dist"
SWAGGER_UI_URL = "/vendor/swagger-ui"
INIT_SCRIPT_PATH = "/docs/swagger-init.js"
_INLINE_SCRIPT = re.compile(r"<script>(?P<code>.*?)</script>", re.S)


def _page_and_script(app: FastAPI) -> tuple[str, str]:
    """FastAPI's Swagger UI page on the packaged files, its inline script moved to a file."""
    answer = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title}: API reference",
        swagger_js_url=f"{SWAGGER_UI_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_UI_URL}/swagger-ui.css",
        swagger_favicon_url="data:,",
        # No badge fetched from the public validator service.
        swagger_ui_parameters={"validatorUrl": None},
    )
    page = bytes(answer.body).decode()
    [inline] = _INLINE_SCRIPT.findall(page)
    html = _INLINE_SCRIPT.sub(f'<script src="{INIT_SCRIPT_PATH}"></script>', page)
    return html, inline


def install_docs(app: FastAPI, swagger_ui: Path = SWAGGER_UI_DIST) -> None:
    """``/docs`` and its files on ``app`` (built with ``docs_url=None, redoc_url=None``)."""
    missing = not (swagger_ui / "swagger-ui-bundle.js").exists()
    if missing:
        logger.error("/docs unavailable: %s is missing; run `npm ci` in %s", swagger_ui, REPOSITORY)
    else:
        app.mount(SWAGGER_UI_URL, StaticFiles(directory=swagger_ui), name="swagger-ui")
    html, script = _page_and_script(app)

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> Response:
        if missing:
            return problem_response(
                request,
                503,
                "docs-unavailable",
                "The API reference page is not available",
                f"swagger-ui-dist is not installed: run `npm ci` in {REPOSITORY} "
                "(`make up` does it); the OpenAPI document is at /openapi.json",
            )
        return HTMLResponse(html)

    @app.get(INIT_SCRIPT_PATH, include_in_schema=False)
    async def swagger_init() -> Response:
        return Response(script, media_type="text/javascript")
