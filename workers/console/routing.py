"""``ConsoleRoute``: a console page answers HTML, whatever goes wrong.

The API answers failures as RFC 9457 problems (JSON); a person in a browser gets a
page instead, with the same decision behind it:

    SignInRequired                          303 to the sign-in page (HX-Redirect for htmx)
    NotPermitted (the permissions table)    403 page naming the rule
    RecordNotFound, UnknownShareRequest,
      an id in the path that is no id       404 page (another agency's record too)
    FormExpired (no valid CSRF token)       403 page; nothing was done
    EventStoreError, Temporal RPCError      503 page

The edge (``workers.api.edge``, around the whole app) gives every page its
security headers: a Content-Security-Policy without inline script, ``no-store``
(pages show personal data) and no framing. Business refusals (the workflow's
validator) are not errors here: each page shows them beside its form.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from temporalio.service import RPCError

from events.errors import EventStoreError
from workers.api.problems import ProblemError
from workers.console import labels
from workers.console.sessions import FormExpired, SignInRequired, write_cookies
from workers.console.templates import render
from workers.hub.context import HubContext
from workers.hub.permissions import PERMITTED, NotPermitted
from workers.hub.records import RecordNotFound
from workers.hub.share_requests import UnknownShareRequest

logger = logging.getLogger(__name__)
SETTLE_SECONDS = 5.0


class ConsoleRoute(APIRoute):
    """A route of the console: its failures become pages (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def console_page(request: Request) -> Response:
            unavailable: str | None = getattr(request.app.state, "console_unavailable", None)
            if unavailable is not None:
                response: Response = error_page(
                    request, 503, "The console is not available", unavailable
                )
            else:
                response = await _answered(handle, request)
            write_cookies(request, response)
            return response

        return console_page


async def _answered(
    handle: Callable[[Request], Coroutine[Any, Any, Response]], request: Request
) -> Response:
    try:
        return await handle(request)
    except SignInRequired:
        return _to_sign_in(request)
    except NotPermitted as e:
        return error_page(request, 403, "You cannot open this page", _not_permitted(e))
    except (RecordNotFound, UnknownShareRequest):
        return not_found(request)
    except RequestValidationError as e:
        if any(error.get("loc", ("",))[0] == "path" for error in e.errors()):
            return not_found(request)
        return error_page(request, 400, "The address is not valid", "Check it and try again.")
    except FormExpired:
        return error_page(
            request,
            403,
            "This form has expired",
            "Nothing was done. Go back, reload the page and try again; if you have been "
            "signed out, sign in first.",
        )
    except ProblemError as e:  # the API's own checks on every request (e.g. NUL characters)
        return error_page(request, e.status, e.title, e.detail)
    except HTTPException as e:
        return error_page(request, e.status_code, "The request cannot be read", str(e.detail))
    except (EventStoreError, RPCError) as e:
        logger.warning("console page failed: %s", e)
        return error_page(
            request,
            503,
            "Sorry, there is a problem with the service",
            "A part of sharehub is not answering. Nothing was recorded; try again shortly.",
        )


def _not_permitted(refusal: NotPermitted) -> str:
    """The permissions table's rule, in words: who may, and who you are."""

    def a(role: str) -> str:
        noun = labels.label(role, labels.ROLES).lower()
        return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"

    allowed = " or ".join(sorted(a(role.value) for role in PERMITTED[refusal.work]))
    return f"Only {allowed} may {refusal.work.value}; you are signed in as {a(refusal.role.value)}."


def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    return render(request, "error.html", status_code=status, title=title, detail=detail)


def not_found(request: Request) -> Response:
    return error_page(
        request,
        404,
        "Page not found",
        "There is no such record, or it is not one you may see. Check the address, or go "
        "back to your first page.",
    )


def _to_sign_in(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = ""
    location = "/sign-in" + (f"?next={quote(target, safe='')}" if target else "")
    if request.headers.get("HX-Request"):  # htmx: make the browser go, not swap the page in
        return Response(status_code=200, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def context_of(request: Request) -> HubContext:
    found: HubContext = request.app.state.context
    return found


def via(request: Request) -> str:
    """How a read reached the records, for the access log: ``GET /requests/{request_id}``."""
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


async def settled(context: HubContext, *, within: float = SETTLE_SECONDS) -> None:
    """Until the read models show what was just recorded, so that the page after an
    action shows it too (POST, redirect, GET); at most ``within`` seconds."""
    head = await context.store.head_position()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            await context.projector.wait_for(head)
