"""``/docs`` in a real browser: Swagger UI runs from packaged files, under the CSP."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Request, expect

from tests.workers.console.conftest import Console


async def test_the_api_reference_loads_everything_from_this_server(console: Console) -> None:
    visitor = await console.visitor(console.api.callers.anonymous)
    requested: list[str] = []

    def note(request: Request) -> None:
        requested.append(request.url)

    visitor.page.on("request", note)
    await visitor.open("/docs")
    await expect(visitor.page.locator(".swagger-ui .info .title")).to_contain_text("sharehub")
    await expect(visitor.page.locator(".opblock").first).to_be_visible()
    origin = urlsplit(console.url).netloc
    elsewhere = [
        url
        for url in requested
        if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != origin
    ]
    assert elsewhere == [], elsewhere
    assert any(url.endswith("/openapi.json") for url in requested)
    assert visitor.console_errors == [], visitor.console_errors
