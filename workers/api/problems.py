"""RFC 9457 problem details: every failure the API answers, with a specific type.

A problem's ``type`` is ``urn:sharehub:problem:<slug>``; clients branch on the
slug, people read ``title`` and ``detail``. Validation problems list each
field's error in ``errors``; a refused raise lists every reason in ``problems``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from events.errors import EventStoreError
from workers.hub.clients import ApiClientError
from workers.hub.records import InvalidCursor, RecordNotFound
from workers.hub.share_requests import (
    ActionRejected,
    RequestAlreadyRaised,
    RequestRejected,
    ShareRequestFinished,
    UnknownShareRequest,
)
from workers.hub.submissions import IdempotencyKeyReused, RequestIdTaken

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:sharehub:problem:"


class Problem(BaseModel):
    """The body of every error response (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None
    problems: list[str] | None = None


class ProblemError(Exception):
    """Raise from a route to answer with a problem."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers
        self.extra = extra


def problem_response(
    request: Request,
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = Problem(
        type=TYPE_PREFIX + slug,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        **extra,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


# Documented on every route (FastAPI's `responses=`), so the OpenAPI schema says
# what each failure looks like.
described_problems = {
    400: "The request is malformed (e.g. a cursor this list did not give out)",
    401: "No valid API key",
    403: "The client's role may not do this",
    404: "No such record, or none this client may see",
    409: "The request conflicts with what is recorded",
    422: "The input is invalid, or the action is refused by the workflow's rules",
    503: "A component sharehub depends on is unavailable",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    # The media type is set by document_problems(): FastAPI would say application/json.
    return {
        status: {"model": Problem, "description": described_problems[status]} for status in statuses
    }


def document_problems(app: FastAPI) -> None:
    """Make the OpenAPI document say what errors really are: ``application/problem+json``.

    FastAPI documents a ``model`` response as ``application/json``, and a
    validation failure as its own ``HTTPValidationError``; the handlers below
    answer both as problems, so the document is corrected once, when generated.
    """
    generate = app.openapi
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                if "requestBody" in operation:  # a body that is not JSON at all
                    operation["responses"].setdefault(
                        "400", {"description": "The body is not JSON", "content": {MEDIA_TYPE: {}}}
                    )
                # Any input may be refused, a query with a NUL character too (storable_text).
                operation["responses"].setdefault(
                    "422", {"description": described_problems[422], "content": {MEDIA_TYPE: {}}}
                )
                for status, response in operation.get("responses", {}).items():
                    described = json.dumps(response.get("content", {}))
                    if (
                        "/Problem" in described
                        or "/HTTPValidationError" in described
                        or MEDIA_TYPE in described
                    ):
                        response["content"] = {MEDIA_TYPE: problem}
                        if status == "422" and response.get("description") == "Validation Error":
                            response["description"] = described_problems[422]
        schemas = document.get("components", {}).get("schemas", {})
        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for unused in ("HTTPValidationError", "ValidationError"):
            if f"/{unused}" not in json.dumps(document["paths"]):
                schemas.pop(unused, None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def install_problem_handlers(app: FastAPI) -> None:
    """Map every error a route can raise to its problem."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, error: ProblemError) -> JSONResponse:
        return problem_response(
            request,
            error.status,
            error.slug,
            error.title,
            error.detail,
            headers=error.headers,
            **error.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in error.errors()
        ]
        fields = "; ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in errors)
        return problem_response(
            request, 422, "invalid-input", "The input is not valid", fields, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        slug = {
            400: "malformed-request",  # FastAPI's own: a body that is not JSON
            404: "not-found",
            405: "method-not-allowed",
        }.get(error.status_code, "http-error")
        return problem_response(
            request, error.status_code, slug, str(error.detail), str(error.detail)
        )

    @app.exception_handler(RequestRejected)
    async def _rejected(request: Request, error: RequestRejected) -> JSONResponse:
        return problem_response(
            request,
            422,
            "share-request-rejected",
            "The share request cannot be raised",
            str(error),
            problems=error.problems,
        )

    @app.exception_handler(ActionRejected)
    async def _refused(request: Request, error: ActionRejected) -> JSONResponse:
        return problem_response(
            request,
            422,
            "action-rejected",
            "The action is refused; nothing was recorded",
            str(error),
        )

    @app.exception_handler(RequestAlreadyRaised)
    async def _exists(request: Request, error: RequestAlreadyRaised) -> JSONResponse:
        return problem_response(
            request, 409, "share-request-exists", "This request id is already used", str(error)
        )

    @app.exception_handler(IdempotencyKeyReused)
    async def _key_reused(request: Request, error: IdempotencyKeyReused) -> JSONResponse:
        return problem_response(
            request,
            409,
            "idempotency-key-reused",
            "Idempotency key already used for another body",
            str(error),
        )

    @app.exception_handler(RequestIdTaken)
    async def _id_taken(request: Request, error: RequestIdTaken) -> JSONResponse:
        return problem_response(
            request,
            409,
            "request-id-taken",
            "This request id is another agency's",
            str(error),
        )

    @app.exception_handler(ShareRequestFinished)
    async def _finished(request: Request, error: ShareRequestFinished) -> JSONResponse:
        return problem_response(
            request, 409, "share-request-finished", "The request is closed or withdrawn", str(error)
        )

    for missing in (UnknownShareRequest, RecordNotFound):

        @app.exception_handler(missing)
        async def _missing(request: Request, error: Exception) -> JSONResponse:
            return problem_response(request, 404, "not-found", "Not found", str(error))

    @app.exception_handler(InvalidCursor)
    async def _cursor(request: Request, error: InvalidCursor) -> JSONResponse:
        return problem_response(request, 400, "invalid-cursor", "Invalid cursor", str(error))

    @app.exception_handler(ApiClientError)
    async def _client(request: Request, error: ApiClientError) -> JSONResponse:
        return problem_response(request, 422, "invalid-client", "Invalid API client", str(error))

    @app.exception_handler(EventStoreError)
    async def _store(request: Request, error: EventStoreError) -> JSONResponse:
        # The store's message may name a database host; no personal data reaches it.
        return problem_response(
            request, 503, "store-unavailable", "The event store is unavailable", str(error)
        )
