"""``/docs`` is served from the packaged swagger-ui-dist, never from a CDN."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from fastapi import FastAPI

from tests.workers.api.conftest import PROBLEM, Api
from tests.workers.api.served import served
from workers.api.docs import install_docs

EXTERNAL = re.compile(r"""(?:https?:)?//[^/'"\s]""")  # any host, with or without a scheme


async def test_docs_reference_no_other_host(api: Api) -> None:
    async with served(api.app) as url, httpx.AsyncClient(base_url=url) as http:
        page = await http.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        html = page.text
        assert "<script>" not in html  # no inline script: the CSP would refuse it
        scripts = re.findall(r'<script src="([^"]+)"', html)
        styles = re.findall(r'<link[^>]* href="([^"]+)"', html)
        assert scripts == ["/vendor/swagger-ui/swagger-ui-bundle.js", "/docs/swagger-init.js"]
        assert "/vendor/swagger-ui/swagger-ui.css" in styles
        assert EXTERNAL.findall(html) == []
        init = await http.get("/docs/swagger-init.js")
        assert init.status_code == 200 and "SwaggerUIBundle(" in init.text
        assert "'/openapi.json'" in init.text and '"validatorUrl": null' in init.text
        assert EXTERNAL.findall(init.text) == []
        for asset in scripts + styles:
            if asset.startswith("/vendor/"):
                served_asset = await http.get(asset)
                assert served_asset.status_code == 200, asset
                assert "no-store" not in served_asset.headers.get("cache-control", "")
        for gone in ("/redoc", "/docs/oauth2-redirect"):
            assert (await http.get(gone)).status_code == 404


async def test_without_the_package_docs_say_what_to_run(tmp_path: Path) -> None:
    app = FastAPI(docs_url=None, redoc_url=None)
    install_docs(app, swagger_ui=tmp_path / "swagger-ui-dist")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answer = await http.get("/docs")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == PROBLEM
    assert "npm ci" in answer.json()["detail"]
