"""The edge's headers, on every kind of response the API process gives, over real HTTP."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.workers.api.conftest import Api
from tests.workers.api.served import served
from workers.api.edge import install_edge

EVERY_RESPONSE = {
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
}


def _assert_secured(response: httpx.Response, *, personal: bool) -> None:
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    for name, value in EVERY_RESPONSE.items():
        assert response.headers.get(name) == value, where
    policy = response.headers["content-security-policy"]
    directives = dict(d.strip().partition(" ")[::2] for d in policy.split(";"))
    assert directives["frame-ancestors"] == "'none'", where
    assert directives["script-src"] == "'self'", where  # no inline script, no nonce, no eval
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, where
    assert "strict-transport-security" not in response.headers, where  # plain http
    if personal:
        assert response.headers["cache-control"] == "no-store", where
    else:
        assert "no-store" not in response.headers.get("cache-control", ""), where


async def test_every_response_carries_the_security_headers(api: Api) -> None:
    officer = api.callers.officer.headers
    async with served(api.app) as url, httpx.AsyncClient(base_url=url) as http:
        personal = [
            await http.get("/v1/hub/queue", headers=officer),  # 200, personal data
            await http.get("/v1/hub/queue"),  # 401 problem
            await http.get("/v1/hub/share-requests/not-an-id", headers=officer),  # 422
            await http.get("/no-such-page"),  # 404 problem
            await http.post("/v1/share-requests", content=b"x" * (2 * 1024 * 1024)),  # 413
            await http.get("/sign-in"),  # a console page
            await http.get("/queue"),  # the console's redirect to sign in
            await http.get("/openapi.json"),
        ]
        front_end = [
            await http.get("/static/console.js"),
            await http.get("/static/js-enabled.js"),
            await http.get("/vendor/govuk-frontend/govuk-frontend.min.css"),
            await http.get("/vendor/htmx/htmx.min.js"),
        ]
    assert [r.status_code for r in personal] == [200, 401, 422, 404, 413, 200, 303, 200]
    for response in personal:
        _assert_secured(response, personal=True)
    for response in front_end:
        assert response.status_code == 200, response.request.url
        _assert_secured(response, personal=False)


async def test_hsts_only_over_https(api: Api) -> None:
    transport = httpx.ASGITransport(app=api.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://sharehub.test") as http:
        for path in ("/v1/hub/queue", "/sign-in", "/static/console.js"):
            response = await http.get(path)
            assert response.headers["strict-transport-security"].startswith("max-age=31536000")


async def test_the_servers_own_error_page_carries_them_too() -> None:
    app = FastAPI()
    install_edge(app)

    @app.get("/v1/broken")
    async def broken() -> None:
        raise RuntimeError("an unexpected failure")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/v1/broken")
    assert response.status_code == 500
    _assert_secured(response, personal=True)
