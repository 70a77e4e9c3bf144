"""The HTTP edge: what every request and response passes through, API and console alike.

:class:`BodyLimit` refuses a request body larger than ``SHAREHUB_MAX_BODY_BYTES``
with a 413 problem before anything reads it whole: a declared ``Content-Length``
over the limit is refused before a byte of the body is received; a body without
one (chunked) is counted as it arrives, and refused as soon as it passes the limit.
Authentication comes after the body has been read (the app's dependencies read it
first), so this bounds what an unauthenticated caller can make the process hold.

:class:`SecurityHeaders` puts the same headers on every response, from a route, a
problem handler, the server's own 500 or a static file: a Content-Security-Policy
that allows no inline script and no framing (with ``X-Frame-Options`` for older
browsers), ``Referrer-Policy``, ``X-Content-Type-Options: nosniff``, HSTS when the
request came over https (as the server sees it: behind a trusted proxy, as
``X-Forwarded-Proto`` says), and ``Cache-Control: no-store`` on everything but the
front-end files: API answers and console pages hold personal data.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workers.api.problems import MEDIA_TYPE, TYPE_PREFIX, Problem

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class _BodyTooLarge(Exception):
    """Raised into whatever is reading the body once it passes the limit."""


def _limit_of(scope: Scope) -> int:
    """The configured limit, read per request: the app's resources may open after it is built."""
    context = getattr(scope["app"].state, "context", None) if "app" in scope else None
    settings = getattr(context, "settings", None)
    return int(getattr(settings, "max_body_bytes", DEFAULT_MAX_BODY_BYTES))


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_too_large(scope: Scope, send: Send, limit: int) -> None:
    problem = Problem(
        type=TYPE_PREFIX + "body-too-large",
        title="The request body is too large",
        status=413,
        detail=f"a request body may be at most {limit} bytes",
        instance=scope.get("path"),
    )
    body = json.dumps(problem.model_dump(exclude_none=True)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),  # the rest of the body is never read
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """413 for a request body over the limit, declared or streamed (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = _limit_of(scope)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _send_too_large(scope, send, limit)
            return
        received = 0
        too_large = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                return  # whatever the app made of the cut-off body: 413 is the answer
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(_BodyTooLarge):
            await self.app(scope, counted_receive, guarded_send)
        if too_large and not started:
            await _send_too_large(scope, send, limit)


CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",  # no inline script, no eval: every script is a file served here
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"
# Front-end files, the same for everyone: they may be cached. Everything else may not.
CACHEABLE_PREFIXES = ("/static/", "/assets/", "/vendor/")
_SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
)


def security_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The headers every response to ``scope`` carries."""
    headers = list(_SECURITY_HEADERS)
    if scope.get("scheme") == "https":
        headers.append((b"strict-transport-security", STRICT_TRANSPORT_SECURITY.encode()))
    if not str(scope.get("path", "")).startswith(CACHEABLE_PREFIXES):
        headers.append((b"cache-control", b"no-store"))
    return headers


class SecurityHeaders:
    """The edge's headers on every response (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ours = security_headers(scope)
        names = {name for name, _ in ours}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in names]
                message = {**message, "headers": kept + ours}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_edge(app: FastAPI) -> None:
    """The edge around ``app``: the body limit inside, the headers outermost.

    The headers wrap even Starlette's ``ServerErrorMiddleware`` (the 500 it answers
    an unexpected error with), so they go around the app's whole middleware stack.
    """
    app.add_middleware(BodyLimit)
    build = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        return SecurityHeaders(build())

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]


def document_edge(app: FastAPI) -> None:
    """Say in the OpenAPI document what the edge may answer: 413 to any operation with a
    body, 429 to any that takes a key (once its address has failed too often)."""
    generate = app.openapi
    problem = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "requestBody" in operation:
                    responses.setdefault(
                        "413", {"description": "The request body is too large", "content": problem}
                    )
                if "401" in responses:
                    responses.setdefault(
                        "429",
                        {
                            "description": "Too many failed API key attempts from this "
                            "address: wait as Retry-After says",
                            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                            "content": problem,
                        },
                    )
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
