"""Console sessions end on the server: sign-out ends a copied cookie, idleness ends a
session, and any process behind the same address sees the same sessions (over HTTP)."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import httpx

from tests.workers.api.conftest import Api
from tests.workers.api.served import served
from workers.console.sessions import SESSION_COOKIE
from workers.processes.api import sharehub_app


async def _signed_in(http: httpx.AsyncClient, key: str) -> str:
    """Sign in through the page; the session cookie's value."""
    page = await http.get("/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = await http.post("/sign-in", data={"csrf_token": token[1], "key": key, "next": ""})
    assert answer.status_code == 303, answer.text
    cookie = http.cookies.get(SESSION_COOKIE)
    assert cookie is not None
    return cookie


def _csrf(page: httpx.Response) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return token[1]


async def test_sign_out_ends_a_copied_cookie_in_every_process(api: Api) -> None:
    key = api.callers.officer.key
    assert key is not None
    # Two API processes behind one address: the same database, each its own app.
    other = sharehub_app(api.app.state.context)
    async with (
        served(api.app) as first_url,
        served(other) as second_url,
        httpx.AsyncClient(base_url=first_url) as person,
        httpx.AsyncClient(base_url=second_url) as copy,
    ):
        cookie = await _signed_in(person, key)
        copy.cookies.set(SESSION_COOKIE, cookie)
        assert (await copy.get("/queue")).status_code == 200  # the session is shared
        queue = await person.get("/queue")
        assert queue.status_code == 200
        signed_out = await person.post("/sign-out", data={"csrf_token": _csrf(queue)})
        assert signed_out.status_code == 303
        replayed = await copy.get("/queue")
        assert replayed.status_code == 303
        assert replayed.headers["location"] == "/sign-in?next=%2Fqueue"
    rows = await api.store.query("SELECT session_hash, ended_at FROM console_sessions")
    assert len(rows) == 1 and rows[0]["ended_at"] is not None
    assert len(rows[0]["session_hash"]) == 32  # a SHA-256: the id itself is not kept


async def test_an_idle_session_ends_and_a_used_one_goes_on(api: Api) -> None:
    key = api.callers.officer.key
    assert key is not None
    context = api.app.state.context
    settings = context.settings.model_copy(update={"console_idle_minutes": 1.5 / 60})  # 1.5 s
    app = sharehub_app(dataclasses.replace(context, settings=settings))
    async with (
        served(app) as url,
        httpx.AsyncClient(base_url=url) as busy,
        httpx.AsyncClient(base_url=url) as idle,
    ):
        await _signed_in(busy, key)
        await _signed_in(idle, key)
        for _ in range(4):  # 2 s in all, never 1.5 s apart
            await asyncio.sleep(0.5)
            assert (await busy.get("/queue")).status_code == 200
        expired = await idle.get("/queue")
        assert expired.status_code == 303
        assert expired.headers["location"].startswith("/sign-in")
        page = await idle.get("/sign-in")
        assert "signed out after 0.025 minutes" in page.text
