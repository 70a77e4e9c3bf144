"""What every route needs: the opened resources, and who is calling in which role.

Resources are opened once per process in the app's lifespan and kept in a
:class:`~workers.hub.context.HubContext` on ``app.state``. :func:`caller`
authenticates the API key, refusing an address that failed too often
(:mod:`workers.hub.throttle`); ``permitted_to(work)`` lets a route's caller in by the
shared permissions table (403 otherwise), and each router names the roles it lets
in (``HubStaff`` …).
"""

from __future__ import annotations

import contextlib
import json
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from workers.api.problems import ProblemError
from workers.hub.clients import ApiClient
from workers.hub.context import HubContext
from workers.hub.permissions import NotPermitted, Work
from workers.hub.role_checks import role_check
from workers.hub.throttle import key_attempts

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API client key from `sharehub keys create`: `Authorization: Bearer shk_…`",
)


async def storable_text(request: Request) -> None:
    """Refuse U+0000 anywhere in the path, the query or a JSON body (422).

    PostgreSQL's ``text`` and ``jsonb`` cannot hold it: accepted, it would reach a
    query as a 503, or be recorded and then stop the read-model projector.
    """
    found = []
    if "\x00" in request.scope["path"]:
        found.append("path")
    found += [
        f"query.{name!r}"
        for name, value in request.query_params.multi_items()
        if "\x00" in name + value
    ]
    body = await request.body()
    if b"\\u0000" in body:  # the only way JSON can carry U+0000
        with contextlib.suppress(ValueError):  # not JSON: the route answers that itself
            found += [f"body.{where}" for where in _nul_characters(json.loads(body), "")]
    if found:
        raise ProblemError(
            422,
            "invalid-input",
            "The input is not valid",
            "text may not contain the NUL character (U+0000): " + ", ".join(found),
        )


def _nul_characters(value: object, where: str) -> list[str]:
    if isinstance(value, str):
        return [where or "."] if "\x00" in value else []
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _nul_characters(item, f"{where}[{i}]")]
    if isinstance(value, dict):
        return [
            p
            for key, item in value.items()
            for p in (
                _nul_characters(key, f"{where}.{key!r}") + _nul_characters(item, f"{where}.{key}")
            )
        ]
    return []


def context(request: Request) -> HubContext:
    found: HubContext = request.app.state.context
    return found


Context = Annotated[HubContext, Depends(context)]


def client_address(request: Request) -> str:
    """Where the request came from (behind a trusted proxy, as its X-Forwarded-For says)."""
    return request.client.host if request.client else "unknown"


async def caller(
    request: Request,
    hub: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiClient:
    """The authenticated client; 401 without a valid, unrevoked key, 429 after too many
    failed attempts from the client's address (:mod:`workers.hub.throttle`)."""
    throttle = key_attempts(request.app.state, hub.settings)
    address = client_address(request)
    wait = throttle.retry_after(address)
    if wait is not None:
        raise ProblemError(
            429,
            "too-many-key-attempts",
            "Too many failed API key attempts",
            f"too many failed API key attempts from this address: try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    client = (
        None if credentials is None else await hub.clients.authenticate(credentials.credentials)
    )
    if client is None:
        if credentials is not None:
            throttle.failed(address, door="API")
        raise ProblemError(
            401,
            "unauthenticated",
            "Authentication required",
            "send a valid API key: Authorization: Bearer shk_…",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return client


def _forbidden(refusal: NotPermitted) -> ProblemError:
    return ProblemError(403, "forbidden", "Not permitted for this role", str(refusal))


# A dependency: the caller, if its role is let into the work (403 otherwise). The table
# is :data:`workers.hub.permissions.PERMITTED`, which the console and the CLI read too.
permitted_to = role_check(caller, refused=_forbidden)
Auditor = Annotated[ApiClient, Depends(permitted_to(Work.AUDIT))]  # workers.api.auditors
