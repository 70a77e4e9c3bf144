"""Pages of signing in and out, and ``/``, which sends each role to its first page."""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from workers.console.routing import ConsoleRoute
from workers.console.sessions import (
    SESSION_COOKIE,
    CheckedForm,
    current_session,
    end_session,
    flash,
    sign_in_session,
    take_flash,
)
from workers.console.templates import render
from workers.hub.clients import ApiClient
from workers.hub.context import HubContext
from workers.hub.throttle import key_attempts
from workflows.models import Role

# Where each role starts (GET /); a role without pages of its own gets a page saying so.
HOME_PAGES = {
    Role.HUB_OFFICER: "/queue",
    Role.HUB_MANAGER: "/queue",
    Role.IG_ADVISOR: "/advice",
    Role.AUDITOR: "/audit",
    Role.AGENCY: "/agency",
}

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host (``//evil``, ``/\\evil``)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    return target


def _minutes(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def home_of(person: ApiClient) -> str:
    return HOME_PAGES.get(person.role, "/")


@router.get("/")
async def home(request: Request) -> Response:
    """Each role's first page; sign-in for anyone else."""
    session = await current_session(request)
    if session.client is None:
        return RedirectResponse("/sign-in", status_code=303)
    if session.client.role in HOME_PAGES:
        return RedirectResponse(home_of(session.client), status_code=303)
    take_flash(request)
    return render(request, "home.html")


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    session = await current_session(request)
    if session.client is not None:
        return RedirectResponse(_safe_next(next) or home_of(session.client), status_code=303)
    take_flash(request)
    return render(request, "sign_in.html", next=_safe_next(next) or "")


@router.post("/sign-in")
async def sign_in(request: Request, form: CheckedForm) -> Response:
    key = str(form.get("key") or "").strip()
    target = _safe_next(str(form.get("next") or ""))
    context: HubContext = request.app.state.context
    throttle = key_attempts(request.app.state, context.settings)
    address = request.client.host if request.client else "unknown"
    wait = throttle.retry_after(address)
    if wait is not None:
        response = render(
            request,
            "sign_in.html",
            status_code=429,
            next=target or "",
            errors=[
                {
                    "text": "There have been too many attempts to sign in from your network. "
                    f"Wait {_minutes(wait)}, then try again",
                    "href": "#key",
                }
            ],
        )
        response.headers["Retry-After"] = str(wait)
        return response
    client = await context.clients.authenticate(key) if key else None
    if client is None:
        if key:
            throttle.failed(address, door="console sign-in")
        message = (
            "Enter your API key"
            if not key
            else "The API key is not valid: it may be mistyped, or revoked"
        )
        return render(
            request,
            "sign_in.html",
            status_code=422,
            next=target or "",
            errors=[{"text": message, "href": "#key"}],
        )
    await sign_in_session(request, client)
    return RedirectResponse(target or home_of(client), status_code=303)


@router.post("/sign-out")
async def sign_out(request: Request, form: CheckedForm) -> Response:
    await end_session(request)
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    flash(request, response, "You have signed out.")
    request.state.console_session_issued = False
    return response
