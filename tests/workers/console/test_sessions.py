"""Signing in with an API key; the session cookie; CSRF tokens; signing out; revoked keys."""

from __future__ import annotations

import asyncio
import dataclasses
from uuid import UUID

from playwright.async_api import expect

from events.envelope import Actor
from tests.workers.api.journey import in_queue, raise_one
from tests.workers.console.conftest import Console
from workers.console.sessions import SESSION_COOKIE
from workers.hub.clients import ApiClients
from workflows.models import Role


async def test_a_person_signs_in_with_their_key_and_out_again(console: Console) -> None:
    c = console.api.callers
    visitor = await console.visitor(c.anonymous)
    page = visitor.page
    await page.goto("/queue")
    await expect(page).to_have_url(f"{console.url}/sign-in?next=%2Fqueue")
    await visitor.checked("sign-in")

    for key, message in (
        ("", "Enter your API key"),
        ("shk_not-a-key", "The API key is not valid"),
        (c.revoked.key, "The API key is not valid"),
    ):
        await page.get_by_label("API key").fill(key or "")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator(".govuk-error-summary")).to_contain_text(message)
    await visitor.checked()

    assert c.officer.key is not None
    await page.get_by_label("API key").fill(c.officer.key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{console.url}/queue")  # where it was going
    [cookie] = [k for k in await visitor.context.cookies() if k["name"] == SESSION_COOKIE]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    secret = c.officer.key.split("_", 2)[2]
    assert secret not in cookie["value"] and c.officer.key not in cookie["value"]
    response = await page.goto("/queue")
    assert response is not None
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"

    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(f"{console.url}/sign-in")
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("signed out")
    await page.goto("/queue")
    await expect(page).to_have_url(f"{console.url}/sign-in?next=%2Fqueue")

    # Only a path on this site is followed after signing in.
    await page.goto("/sign-in?next=//evil.example/")
    await page.get_by_label("API key").fill(c.officer.key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{console.url}/queue")


async def test_a_post_without_the_forms_csrf_token_is_refused_and_records_nothing(
    console: Console,
) -> None:
    api, c = console.api, console.api.callers
    request_id = await raise_one(api)
    await in_queue(api, request_id)
    officer = await console.visitor(c.officer)
    await officer.open(f"/requests/{request_id}")
    head = await api.quiet()
    body: dict[str, str | float | bool] = {"rag": "red", "rationale": "Escalating after a call"}
    for token in (None, "forged"):
        form = body if token is None else {**body, "csrf_token": token}
        response = await officer.page.request.post(f"/requests/{request_id}/triage", form=form)
        assert response.status == 403
        assert "This form has expired" in await response.text()
    assert await api.quiet() == head
    assert await api.events_after(head) == []


async def test_revoking_a_key_ends_its_sessions_at_once(console: Console) -> None:
    api = console.api
    clients = ApiClients(api.store)
    client, key = await clients.create(
        name="officer-temp",
        role=Role.HUB_OFFICER,
        agency=None,
        policy=api.app.state.context.policy,
        created_by=Actor(id="test-administrator", role="admin"),
    )
    temp = await console.visitor(
        type(api.callers.officer)(name="officer-temp", role=Role.HUB_OFFICER, agency=None, key=key)
    )
    await temp.open("/queue")
    await expect(temp.page.get_by_role("heading", name="Queue")).to_be_visible()
    await clients.revoke(UUID(hex=key.split("_")[1]), revoked_by=Actor(id="admin", role="admin"))
    await temp.page.reload()
    await expect(temp.page).to_have_url(f"{console.url}/sign-in?next=%2Fqueue")
    assert client.client_id.hex in key


async def test_after_sign_out_a_copied_cookie_gets_the_sign_in_page(console: Console) -> None:
    officer = await console.visitor(console.api.callers.officer)
    await officer.open("/queue")
    copied = [k for k in await officer.context.cookies() if k["name"] == SESSION_COOKIE]
    assert copied
    thief = await console.visitor(console.api.callers.anonymous)
    await thief.context.add_cookies(copied)  # type: ignore[arg-type]
    await thief.open("/queue")
    await expect(thief.page.get_by_role("heading", name="Queue")).to_be_visible()

    await officer.page.get_by_role("button", name="Sign out").click()
    await expect(officer.page).to_have_url(f"{console.url}/sign-in")
    await thief.page.reload()
    await expect(thief.page).to_have_url(f"{console.url}/sign-in?next=%2Fqueue")
    await expect(thief.page.get_by_label("API key")).to_be_visible()
    await thief.checked()


async def test_an_idle_session_expires(console: Console) -> None:
    context = console.api.app.state.context
    idle_seconds = 2.0
    settings = context.settings.model_copy(update={"console_idle_minutes": idle_seconds / 60})
    console.api.app.state.context = dataclasses.replace(context, settings=settings)
    officer = await console.visitor(console.api.callers.officer)
    await officer.open("/queue")
    await expect(officer.page.get_by_role("heading", name="Queue")).to_be_visible()
    await asyncio.sleep(idle_seconds + 0.5)
    await officer.page.reload()
    await expect(officer.page).to_have_url(f"{console.url}/sign-in?next=%2Fqueue")
    await officer.checked()
