"""Signing in with an API key, the session that follows, and the CSRF token of every form.

A person signs in with their API client key (``sharehub keys create``). The key is
checked once, with :meth:`ApiClients.authenticate`, and never stored: the session
cookie holds only a random session id, the session's CSRF token and the client id,
signed (HMAC, ``itsdangerous``) with the console's secret
(:meth:`Settings.console_session_secret_bytes`). A signed-in session is also
recorded in PostgreSQL (``console_sessions``, by the SHA-256 of its id), so the
server, not the cookie, says whether it is still open: signing out ends it, so does
``SHAREHUB_CONSOLE_IDLE_MINUTES`` without a request (default 30), and a working day
after it started in any case; a copied cookie is worth no more than the original.
Every API process behind one address shares that table. On every request the client
is looked up again by its id, so revoking a key ends its sessions at once. The
cookie is HttpOnly, SameSite=Lax, and Secure when the console is reached over https
(behind a trusted proxy, as ``X-Forwarded-Proto`` says).

Before sign-in a session is only its cookie (an id and a CSRF token for the sign-in
form): nothing is recorded for a visitor who has not signed in.

Every form that posts carries the session's CSRF token in ``csrf_token``;
:func:`checked_form` compares it in constant time and refuses the post otherwise
(:class:`FormExpired`), before anything is done. Signing in starts a new session
(a new id and token), so a session id planted before sign-in is worth nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData

from workers.hub.clients import ApiClient
from workers.hub.context import HubContext
from workers.hub.permissions import Work, permitted
from workers.hub.role_checks import role_check

SESSION_COOKIE = "sharehub_session"
FLASH_COOKIE = "sharehub_flash"
SESSION_LIFETIME = timedelta(hours=8)
_FLASH_LIFETIME = timedelta(minutes=5)


class SignInRequired(Exception):
    """The page needs a signed-in person: the console answers with the sign-in page."""


class FormExpired(Exception):
    """A posted form without this session's CSRF token: refused before anything is done."""


@dataclass(frozen=True)
class Session:
    session_id: str
    csrf_token: str
    client: ApiClient | None  # None: not signed in


def _serializer(request: Request, purpose: str) -> URLSafeTimedSerializer:
    """The signer of ``purpose``'s cookies, made once per app from the console secret."""
    signers: dict[str, URLSafeTimedSerializer] | None = getattr(
        request.app.state, "console_signers", None
    )
    if signers is None:
        signers = request.app.state.console_signers = {}
    if purpose not in signers:
        context: HubContext = request.app.state.context
        secret = context.settings.console_session_secret_bytes()
        signers[purpose] = URLSafeTimedSerializer(secret, salt=f"sharehub-console-{purpose}")
    return signers[purpose]


async def current_session(request: Request) -> Session:
    """The request's session: from its cookie, or a new one (sent with the response)."""
    found: Session | None = getattr(request.state, "console_session", None)
    if found is not None:
        return found
    session = await _session_from_cookie(request)
    if session is None:
        session = start_session(request, client=None)
    request.state.console_session = session
    return session


async def _session_from_cookie(request: Request) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        payload: dict[str, Any] = _serializer(request, "session").loads(
            token, max_age=int(SESSION_LIFETIME.total_seconds())
        )
        client_id = UUID(hex=payload["client"]) if payload.get("client") else None
        session_id, csrf_token = str(payload["id"]), str(payload["csrf"])
    except (BadSignature, KeyError, ValueError, TypeError):
        return None
    client = None
    if client_id is not None:
        context: HubContext = request.app.state.context
        if not await _still_open(context, session_id, client_id):
            return None  # signed out, idle too long, or a day old: a new visitor
        client = await context.clients.active(client_id)
        if client is None:  # revoked since: the session ends here
            return None
    return Session(session_id=session_id, csrf_token=csrf_token, client=client)


def _session_hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


# Open, used within the idle timeout, and younger than a working day: then it is used
# now. One statement, so two processes serving the same person agree.
_TOUCH = """
UPDATE console_sessions SET last_seen_at = now()
 WHERE session_hash = $1 AND client_id = $2 AND ended_at IS NULL
   AND last_seen_at > now() - make_interval(secs => $3)
   AND started_at > now() - make_interval(secs => $4)
RETURNING client_id
"""
_RECORD = "INSERT INTO console_sessions (session_hash, client_id) VALUES ($1, $2)"
_FORGET_OLD = """
DELETE FROM console_sessions
 WHERE last_seen_at < now() - interval '1 day' OR ended_at < now() - interval '1 day'
"""
_END = "UPDATE console_sessions SET ended_at = now() WHERE session_hash = $1 AND ended_at IS NULL"


async def _still_open(context: HubContext, session_id: str, client_id: UUID) -> bool:
    idle = context.settings.console_idle_minutes * 60
    async with context.store.transaction() as sql:
        found = await sql.fetchrow(
            _TOUCH, _session_hash(session_id), client_id, idle, SESSION_LIFETIME.total_seconds()
        )
    return found is not None


async def sign_in_session(request: Request, client: ApiClient) -> Session:
    """A new signed-in session for ``client``, recorded, and sent as a cookie."""
    session = start_session(request, client=client)
    context: HubContext = request.app.state.context
    async with context.store.transaction() as sql:
        await sql.execute(_FORGET_OLD)
        await sql.execute(_RECORD, _session_hash(session.session_id), client.client_id)
    return session


async def end_session(request: Request) -> None:
    """End the request's session on the server: its cookie, wherever copied, is worth nothing."""
    session = await current_session(request)
    if session.client is None:
        return
    context: HubContext = request.app.state.context
    async with context.store.transaction() as sql:
        await sql.execute(_END, _session_hash(session.session_id))


def start_session(request: Request, *, client: ApiClient | None) -> Session:
    """A new session (new id, new CSRF token), sent as a cookie with this response."""
    session = Session(
        session_id=secrets.token_urlsafe(16), csrf_token=secrets.token_urlsafe(32), client=client
    )
    request.state.console_session = session
    request.state.console_session_issued = True
    return session


def write_cookies(request: Request, response: Response) -> None:
    """Send the session cookie if the session is new, and drop a flash that was shown."""
    secure = request.url.scheme == "https"
    session: Session | None = getattr(request.state, "console_session", None)
    if session is not None and getattr(request.state, "console_session_issued", False):
        payload = {
            "id": session.session_id,
            "csrf": session.csrf_token,
            "client": session.client.client_id.hex if session.client else None,
        }
        response.set_cookie(
            SESSION_COOKIE,
            _serializer(request, "session").dumps(payload),
            max_age=int(SESSION_LIFETIME.total_seconds()),
            path="/",
            httponly=True,
            samesite="lax",
            secure=secure,
        )
    if getattr(request.state, "console_flash_shown", False):
        response.delete_cookie(FLASH_COOKIE, path="/", httponly=True, samesite="lax", secure=secure)


def flash(request: Request, response: Response, message: str) -> None:
    """Show ``message`` once, on the next page (after a POST's redirect)."""
    response.set_cookie(
        FLASH_COOKIE,
        _serializer(request, "flash").dumps(message),
        max_age=int(_FLASH_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def take_flash(request: Request) -> None:
    """Read the flash message, if any, for this page to show (and the cookie to go)."""
    token = request.cookies.get(FLASH_COOKIE)
    if not token or request.method != "GET" or request.headers.get("HX-Request"):
        return  # only the next page shows it: not a post, not the queue's poll
    request.state.console_flash_shown = True
    try:
        message = _serializer(request, "flash").loads(
            token, max_age=int(_FLASH_LIFETIME.total_seconds())
        )
    except BadSignature:
        return
    request.state.console_flash = str(message)


async def checked_form(request: Request) -> FormData:
    """The posted form, if it carries this session's CSRF token; :class:`FormExpired` if not."""
    session = await current_session(request)
    form = await request.form()
    token = form.get("csrf_token")
    if not isinstance(token, str) or not hmac.compare_digest(
        token.encode(), session.csrf_token.encode()
    ):
        raise FormExpired()
    return form


async def signed_in(request: Request) -> ApiClient:
    session = await current_session(request)
    if session.client is None:
        raise SignInRequired()
    take_flash(request)
    return session.client


# A dependency: the signed-in person, if the permissions table lets their role into the
# work; NotPermitted otherwise, which ConsoleRoute answers with a 403 page.
permitted_to = role_check(signed_in)
CheckedForm = Annotated[FormData, Depends(checked_form)]
Auditor = Annotated[ApiClient, Depends(permitted_to(Work.AUDIT))]  # workers.console.audit


def navigation(person: ApiClient | None) -> list[dict[str, str]]:
    """The pages ``person``'s role may open, for the service navigation."""
    if person is None:
        return []
    pages = [
        (Work.READ_HUB_QUEUE, "/queue", "Queue"),
        (Work.GIVE_ADVICE, "/advice", "Advice inbox"),
        (Work.AUDIT, "/audit", "Audit"),
        (Work.FOLLOW_OWN_REQUESTS, "/agency", "Your agency"),
    ]
    return [
        {"href": href, "text": text} for work, href, text in pages if permitted(person.role, work)
    ]
