"""The console's front-end files: served from node_modules, and a clear page when missing."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from tests.workers.api.conftest import Api
from workers.console.assets import installed_assets, mount_assets


def test_missing_packages_are_named_with_what_to_run(tmp_path: Path) -> None:
    problem = mount_assets(FastAPI(), installed_assets(tmp_path / "node_modules"))
    assert problem is not None
    assert "govuk-frontend.min.css is missing" in problem and "npm ci" in problem


def test_the_installed_packages_are_complete() -> None:
    assert installed_assets().missing() is None, "run `npm ci` (make test does)"


async def test_without_its_packages_the_console_says_so_and_the_api_still_serves(
    api: Api,
) -> None:
    api.app.state.console_unavailable = "the console's front-end packages are not installed"
    page = await api.http.get("/sign-in")
    assert page.status_code == 503
    assert "front-end packages are not installed" in page.text
    assert (await api.http.get("/healthz")).status_code == 200
    fonts = await api.http.get("/assets/fonts/bold-b542beb274-v2.woff2")
    assert fonts.status_code == 200
    css = await api.http.get("/vendor/govuk-frontend/govuk-frontend.min.css")
    assert css.status_code == 200 and "govuk-template" in css.text
