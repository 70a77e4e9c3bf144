"""Behind a reverse proxy: ``SHAREHUB_FORWARDED_ALLOW_IPS`` decides whose
``X-Forwarded-Proto`` makes the session cookie ``Secure`` and turns HSTS on (over HTTP,
with uvicorn's proxy options as ``sharehub api`` sets them)."""

from __future__ import annotations

import dataclasses
import re

import httpx
import pytest

from tests.workers.api.conftest import Api
from tests.workers.api.served import served
from workers.console.sessions import SESSION_COOKIE
from workers.processes.api import proxy_options, sharehub_app

HTTPS = {"X-Forwarded-Proto": "https"}


def _session_cookie(response: httpx.Response) -> str:
    [cookie] = [
        c for c in response.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}=")
    ]
    return cookie


async def _signed_in_cookie(http: httpx.AsyncClient, key: str, headers: dict[str, str]) -> str:
    """The Set-Cookie header of a sign-in through the page. The form's cookie is sent
    by hand: over plain http a client keeps a ``Secure`` cookie to itself."""
    page = await http.get("/sign-in", headers=headers)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form_cookie = _session_cookie(page).split(";")[0]
    answer = await http.post(
        "/sign-in",
        data={"csrf_token": token[1], "key": key, "next": ""},
        headers={**headers, "Cookie": form_cookie},
    )
    assert answer.status_code == 303, answer.text
    return _session_cookie(answer)


@pytest.mark.parametrize(
    ("trusted", "believed"),
    [
        ("127.0.0.1", True),  # the proxy is this address
        ("10.0.0.0/8,127.0.0.0/8", True),
        ("192.0.2.1", False),  # another proxy: this one's headers are not believed
        (None, False),  # no proxy configured: loopback is not trusted either
    ],
)
async def test_forwarded_proto_is_believed_only_from_trusted_proxies(
    api: Api, trusted: str | None, believed: bool
) -> None:
    settings = api.app.state.context.settings.model_copy(update={"forwarded_allow_ips": trusted})
    key = api.callers.officer.key
    assert key is not None
    async with served(api.app, **proxy_options(settings)) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            officer = {**HTTPS, **api.callers.officer.headers}
            forwarded = await http.get("/v1/hub/queue", headers=officer)
            cookie = await _signed_in_cookie(http, key, HTTPS)
        async with httpx.AsyncClient(base_url=url) as http:
            plain = await http.get("/v1/hub/queue", headers=api.callers.officer.headers)
            plain_cookie = await _signed_in_cookie(http, key, {})
    assert forwarded.status_code == plain.status_code == 200
    assert ("strict-transport-security" in forwarded.headers) is believed
    assert ("; secure" in cookie.lower()) is believed
    assert "strict-transport-security" not in plain.headers  # the proxy's side was http
    assert "; secure" not in plain_cookie.lower()


async def test_the_client_address_is_the_one_the_trusted_proxy_forwards(api: Api) -> None:
    """Failed key attempts count against the address the proxy says, not the proxy's own."""
    context = api.app.state.context
    settings = context.settings.model_copy(
        update={"forwarded_allow_ips": "127.0.0.1", "failed_key_attempts": 1}
    )
    app = sharehub_app(dataclasses.replace(context, settings=settings))
    wrong = {"Authorization": f"Bearer shk_{'0' * 32}_guess"}
    async with (
        served(app, **proxy_options(settings)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        first = {"X-Forwarded-For": "198.51.100.7"}
        second = {"X-Forwarded-For": "198.51.100.8"}
        assert (await http.get("/v1/hub/queue", headers={**first, **wrong})).status_code == 401
        assert (await http.get("/v1/hub/queue", headers={**first, **wrong})).status_code == 429
        assert (await http.get("/v1/hub/queue", headers={**second, **wrong})).status_code == 401
