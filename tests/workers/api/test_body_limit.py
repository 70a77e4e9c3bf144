"""The body limit: a request body over ``SHAREHUB_MAX_BODY_BYTES`` is refused with a 413
problem before it is read, whether its length is declared or it streams in chunks."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from urllib.parse import urlsplit

import httpx

from tests.workers.api.conftest import PROBLEM, Api, raise_body
from tests.workers.api.served import served
from workers.api.edge import DEFAULT_MAX_BODY_BYTES
from workers.processes.api import sharehub_app

MiB = 1024 * 1024


async def _raw_exchange(base_url: str, request: bytes) -> tuple[bytes, bytes]:
    """Send ``request`` as written; the head and body of the answer (within 10 s)."""
    where = urlsplit(base_url)
    assert where.hostname is not None and where.port is not None
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n\r\n")
            [length] = [
                int(line.split(b":", 1)[1])
                for line in head.lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            ]
            return head, await reader.readexactly(length)
    finally:
        writer.close()


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(
    api: Api,
) -> None:
    assert MiB == DEFAULT_MAX_BODY_BYTES
    async with served(api.app) as url:
        # Only the headers: a server that waited for the body would never answer.
        head, body = await _raw_exchange(
            url,
            b"POST /v1/share-requests HTTP/1.1\r\nHost: sharehub\r\n"
            b"Content-Type: application/json\r\n" + f"Content-Length: {MiB + 1}\r\n\r\n".encode(),
        )
    assert head.startswith(b"HTTP/1.1 413 "), head
    assert f"content-type: {PROBLEM}".encode() in head.lower()
    problem = json.loads(body)
    assert problem["type"] == "urn:sharehub:problem:body-too-large"
    assert problem["status"] == 413 and str(MiB) in problem["detail"]


def _chunked(total: int, size: int = 64 * 1024) -> bytes:
    """``total`` bytes in chunks of ``size``, without the last (empty) chunk: the body goes on."""
    chunks = [b" " * min(size, total - sent) for sent in range(0, total, size)]
    return b"".join(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for chunk in chunks)


async def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(api: Api) -> None:
    async with served(api.app) as url:
        for path, authorization in (
            ("/v1/share-requests", api.callers.school.headers["Authorization"]),
            ("/v1/share-requests", None),  # unauthenticated
            ("/sign-in", None),  # the console's form
        ):
            # Just past the limit, and the body does not end: only a server that
            # counts as it reads answers at all.
            head, body = await _raw_exchange(
                url,
                f"POST {path} HTTP/1.1\r\nHost: sharehub\r\n".encode()
                + (f"Authorization: {authorization}\r\n".encode() if authorization else b"")
                + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                + _chunked(MiB + 1),
            )
            assert head.startswith(b"HTTP/1.1 413 "), (path, head)
            assert f"content-type: {PROBLEM}".encode() in head.lower()
            assert json.loads(body)["type"] == "urn:sharehub:problem:body-too-large"


async def test_a_body_within_the_limit_reaches_the_route(api: Api) -> None:
    async with served(api.app) as url, httpx.AsyncClient(base_url=url) as http:
        not_json = await http.post(
            "/v1/share-requests",
            content=b"x" * MiB,
            headers={**api.callers.school.headers, "Content-Type": "application/json"},
        )
        assert not_json.status_code == 422, not_json.text  # read, and found not JSON
        assert not_json.json()["detail"] == "body.0: JSON decode error"
        raised = await http.post(
            "/v1/share-requests", json=raise_body(), headers=api.callers.school.headers
        )
        assert raised.status_code == 201, raised.text


async def test_the_limit_is_configurable(api: Api) -> None:
    context = api.app.state.context
    settings = context.settings.model_copy(update={"max_body_bytes": 200})
    app = sharehub_app(dataclasses.replace(context, settings=settings))
    async with served(app) as url, httpx.AsyncClient(base_url=url) as http:
        refused = await http.post(
            "/v1/share-requests", json=raise_body(), headers=api.callers.school.headers
        )
        assert refused.status_code == 413
        assert "at most 200 bytes" in refused.json()["detail"]
        assert (await http.post("/v1/hub/queue", content=b"x" * 200)).status_code != 413
