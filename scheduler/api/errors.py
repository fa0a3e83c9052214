"""Every error the API answers is ``{"error": {"code", "message", "field"?}}``.

``ApiError`` is what routes raise for HTTP-level problems (401, 403, 404, 413, 429);
carbonshift faults and validation errors are translated here, in one place, so no route
needs a ``try`` for them and no answer is ever an HTML page or a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from starlette.exceptions import HTTPException

from scheduler.errors import (
    CarbonshiftError,
    ClusterUnavailable,
    ConcurrentUpdateError,
    ForecastError,
    ForecastUnavailable,
    IdempotencyConflictError,
    IllegalTransitionError,
    JobNotFoundError,
    StoreError,
    TokenNotFoundError,
)

_log = logging.getLogger(__name__)

#: Status and code of each carbonshift fault; the first matching class wins (subclasses first).
_FAULTS: tuple[tuple[type[CarbonshiftError], int, str], ...] = (
    (JobNotFoundError, 404, "not_found"),
    (TokenNotFoundError, 404, "not_found"),
    (IdempotencyConflictError, 409, "idempotency_conflict"),
    (ConcurrentUpdateError, 409, "conflict"),
    (IllegalTransitionError, 409, "conflict"),
    (StoreError, 503, "store_unavailable"),
    (ForecastUnavailable, 503, "forecast_unavailable"),
    (ForecastError, 502, "forecast_error"),
    (ClusterUnavailable, 503, "cluster_unavailable"),
)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class ApiError(Exception):
    """An HTTP error answered as the JSON error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The JSON body of every error answer."""
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSON error answer."""
    return JSONResponse(error_body(code, message, field), status_code=status, headers=headers)


def _location(loc: Sequence[int | str]) -> str:
    """``("body", "zones", 0)`` → ``zones.0``: the field as the client wrote it."""
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_error(errors: Sequence[ErrorDetails] | Sequence[Any]) -> ApiError:
    """A 422 naming every bad field; ``field`` is the first one."""
    problems = []
    fields = []
    for item in errors:
        where = _location(item.get("loc", ()))
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        if item.get("type") == "extra_forbidden":
            message = "unknown field; remove it (see /openapi.json for the accepted fields)"
        fields.append(where)
        problems.append(f"{where}: {message}")
    return ApiError(
        422, "validation_error", "; ".join(problems), field=fields[0] if fields else None
    )


def _fault_status(exc: CarbonshiftError) -> tuple[int, str]:
    for cls, status, code in _FAULTS:
        if isinstance(exc, cls):
            return status, code
    return 500, "internal_error"


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error with the JSON error body."""

    async def on_api_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(
            exc.status, exc.code, exc.message, field=exc.field, headers=exc.headers
        )

    async def on_request_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return await on_api_error(_request, validation_error(exc.errors()))

    async def on_model_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ValidationError)
        return await on_api_error(_request, validation_error(exc.errors()))

    async def on_http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)

    async def on_fault(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CarbonshiftError)
        status, code = _fault_status(exc)
        return error_response(status, code, str(exc))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(
            500, "internal_error", f"internal error ({exc.__class__.__name__}); see server logs"
        )

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_exception_handler(ValidationError, on_model_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(CarbonshiftError, on_fault)
    app.add_exception_handler(Exception, on_unexpected)
