"""Uniform JSON errors: every client mistake is a 4xx naming the field, never a 500.

Body: ``{"error": "<kind>", "message": "<field>: <problem>", "fields": [...],
"request_id": "..."}``. Validation errors list every offending field; the first one is in
``message`` so a log line or a caller sees the cause at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from .decide import DecisionError, problems
from .logs import REQUEST_ID

log = logging.getLogger(__name__)


class JsonResponse(JSONResponse):
    """JSON rendered by orjson (plain data; fast on the prediction path)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


_KINDS = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    413: "too large",
    415: "unsupported media type",
    422: "invalid request",
    503: "unavailable",
    504: "timeout",
}


def content(status: int, message: str, fields: list[dict[str, str]] | None = None) -> Any:
    body: dict[str, Any] = {"error": _KINDS.get(status, "error"), "message": message}
    if fields:
        body["fields"] = fields
    body["request_id"] = REQUEST_ID.get()
    return body


def error_body(status: int, message: str) -> bytes:
    return orjson.dumps(content(status, message))


def json_error(status: int, message: str, fields: list[dict[str, str]] | None = None) -> Any:
    return JsonResponse(status_code=status, content=content(status, message, fields))


def _unprefixed(loc: Sequence[Any]) -> tuple[Any, ...]:
    """A FastAPI error location without its part of the request (body, query, ...)."""
    parts = tuple(loc)
    return parts[1:] if parts and parts[0] in {"body", "query", "path", "header"} else parts


def install(app: FastAPI) -> None:
    @app.exception_handler(DecisionError)
    async def undecided(request: Request, exc: DecisionError) -> Any:
        return json_error(exc.status, exc.message, exc.fields)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Any:
        errors = [dict(e) | {"loc": _unprefixed(e.get("loc", ()))} for e in exc.errors()]
        fields = problems(errors, exc.body)
        first = fields[0] if fields else {"field": "body", "problem": "invalid"}
        return json_error(422, f"{first['field']}: {first['problem']}", fields)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Any:
        message = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in message:
            message = "body: not valid JSON"
        response = json_error(exc.status_code, message)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Any:
        if isinstance(exc, UnicodeDecodeError | ValueError):
            # Undecodable input reaching a handler is the caller's mistake, not ours.
            return json_error(400, f"body: cannot decode request ({exc.__class__.__name__})")
        log.exception("unhandled error")
        return json_error(500, "internal error (logged with this request id)")
