"""The console's front-end files: GOV.UK Frontend and htmx from ``node_modules``, and its own.

``package.json`` pins them and ``make up`` / ``make test`` install them with ``npm ci``.
They are served, not copied: ``/assets`` is GOV.UK Frontend's ``dist/govuk/assets``
(fonts and images, where its stylesheet looks for them), ``/vendor/govuk-frontend``
its built stylesheet and script, ``/vendor/htmx`` htmx's, ``/static`` the console's
own. When they are missing the API still serves ``/v1``; the console's pages say
what to run instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

logger = logging.getLogger(__name__)

REPOSITORY = Path(__file__).resolve().parents[2]
NODE_MODULES = REPOSITORY / "node_modules"
OWN_STATIC = Path(__file__).resolve().parent / "static"


@dataclass(frozen=True)
class ConsoleAssets:
    govuk_dist: Path
    htmx_dist: Path

    @property
    def govuk_assets(self) -> Path:
        return self.govuk_dist / "assets"

    def missing(self) -> str | None:
        """Why the pages cannot be styled, or ``None`` when every file is in place."""
        needed = (
            self.govuk_dist / "govuk-frontend.min.css",
            self.govuk_dist / "govuk-frontend.min.js",
            self.govuk_assets / "fonts",
            self.htmx_dist / "htmx.min.js",
        )
        absent = [path for path in needed if not path.exists()]
        if not absent:
            return None
        return (
            f"the console's front-end packages are not installed ({absent[0]} is missing): "
            f"run `npm ci` in {REPOSITORY} (`make up` and `make test` do it)"
        )


def installed_assets(node_modules: Path = NODE_MODULES) -> ConsoleAssets:
    return ConsoleAssets(
        govuk_dist=node_modules / "govuk-frontend" / "dist" / "govuk",
        htmx_dist=node_modules / "htmx.org" / "dist",
    )


def mount_assets(app: FastAPI, assets: ConsoleAssets) -> str | None:
    """Serve the front-end files; the reason the console cannot, if it cannot (logged)."""
    app.mount("/static", StaticFiles(directory=OWN_STATIC), name="console-static")
    problem = assets.missing()
    if problem is not None:
        logger.error("console unavailable: %s", problem)
        return problem
    app.mount("/assets", StaticFiles(directory=assets.govuk_assets), name="govuk-assets")
    app.mount(
        "/vendor/govuk-frontend", StaticFiles(directory=assets.govuk_dist), name="govuk-frontend"
    )
    app.mount("/vendor/htmx", StaticFiles(directory=assets.htmx_dist), name="htmx")
    return None
