"""Failed API key attempts are throttled per client address, on both doors, over HTTP:
the API's bearer keys and the console's sign-in page share one count."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.workers.api.conftest import PROBLEM, Api
from tests.workers.api.served import served
from workers.processes.api import sharehub_app

ALLOWED = 3


@pytest.fixture
def app(api: Api) -> FastAPI:
    """The test's app, letting an address fail ``ALLOWED`` times a minute."""
    context = api.app.state.context
    settings = context.settings.model_copy(
        update={"failed_key_attempts": ALLOWED, "failed_key_window_seconds": 60.0}
    )
    return sharehub_app(dataclasses.replace(context, settings=settings))


@pytest.fixture
async def url(app: FastAPI) -> AsyncIterator[str]:
    async with served(app) as found:
        yield found


def _from(address: str, url: str) -> httpx.AsyncClient:
    """A client whose connections come from ``address`` (any of 127.0.0.0/8 is loopback)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(transport=transport, base_url=url)


async def test_an_address_that_keeps_failing_must_wait_and_the_key_is_never_logged(
    api: Api, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    officer = api.callers.officer.headers
    wrong_keys = [f"shk_{'0' * 32}_guess-{n}" for n in range(ALLOWED)]
    caplog.set_level(logging.WARNING, logger="workers.hub.throttle")
    async with _from("127.0.0.2", url) as scanner, _from("127.0.0.3", url) as neighbour:
        assert (await scanner.get("/v1/hub/queue")).status_code == 401  # no key: not counted
        for key in [*wrong_keys[:-1], api.callers.revoked.key]:
            refused = await scanner.get("/v1/hub/queue", headers={"Authorization": f"Bearer {key}"})
            assert refused.status_code == 401
        # Now even the right key is refused unchecked, with how long to wait.
        throttled = await scanner.get("/v1/hub/queue", headers=officer)
        assert throttled.status_code == 429
        assert throttled.headers["content-type"] == PROBLEM
        assert throttled.json()["type"] == "urn:sharehub:problem:too-many-key-attempts"
        assert 1 <= int(throttled.headers["retry-after"]) <= 60
        # Another address is not held back.
        assert (await neighbour.get("/v1/hub/queue", headers=officer)).status_code == 200

    logged = [r.getMessage() for r in caplog.records if r.name == "workers.hub.throttle"]
    assert len(logged) == ALLOWED and all("127.0.0.2" in line for line in logged)
    secrets = [*wrong_keys, api.callers.revoked.key or "", api.callers.officer.key or ""]
    for secret in secrets:
        assert not any(secret.split("_", 2)[2] in line for line in caplog.messages), secret


async def _sign_in(http: httpx.AsyncClient, key: str) -> httpx.Response:
    page = await http.get("/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return await http.post("/sign-in", data={"csrf_token": token[1], "key": key, "next": ""})


async def test_the_console_sign_in_shares_the_count(api: Api, url: str) -> None:
    officer_key = api.callers.officer.key
    assert officer_key is not None
    async with _from("127.0.0.4", url) as scanner, _from("127.0.0.5", url) as neighbour:
        for n in range(ALLOWED - 1):
            refused = await _sign_in(scanner, f"shk_{'0' * 32}_guess-{n}")
            assert refused.status_code == 422 and "The API key is not valid" in refused.text
        bearer = {"Authorization": f"Bearer shk_{'1' * 32}_guess"}
        assert (await scanner.get("/v1/hub/queue", headers=bearer)).status_code == 401
        throttled = await _sign_in(scanner, officer_key)
        assert throttled.status_code == 429
        assert "too many attempts to sign in" in throttled.text
        assert 1 <= int(throttled.headers["retry-after"]) <= 60
        signed_in = await _sign_in(neighbour, officer_key)
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/queue"
