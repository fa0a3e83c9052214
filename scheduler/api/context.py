"""The per-app object graph the routes use, and the FastAPI dependencies that reach it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from scheduler.api.auth import Authenticator, Principal
from scheduler.api.errors import ApiError
from scheduler.api.jobs import JobOperations
from scheduler.api.limits import SubmitRateLimiter
from scheduler.api.metrics import ServiceMetrics
from scheduler.protocols import Clock, ForecastProvider, JobStore, Ledger, TokenStore

#: A readiness check: None when ready, else what is wrong.
ReadinessCheck = Callable[[], str | None]


@dataclass(frozen=True, kw_only=True)
class ApiContext:
    """Everything one app instance uses; built by ``create_app``, never global."""

    store: JobStore
    tokens: TokenStore
    clock: Clock
    jobs: JobOperations
    auth: Authenticator
    limiter: SubmitRateLimiter
    metrics: ServiceMetrics
    forecasts: ForecastProvider | None
    ledger: Ledger | None
    known_zones: Callable[[], frozenset[str]]
    readiness: Sequence[ReadinessCheck]
    max_page_size: int


def app_context(request: Request) -> ApiContext:
    """The app's context."""
    ctx: ApiContext = request.app.state.carbonshift
    return ctx


async def context(request: Request) -> ApiContext:
    """The app's context, as a dependency (async: no thread hop for a dictionary lookup)."""
    return app_context(request)


_bearer = HTTPBearer(auto_error=False, description="a token from `carbonshift token create`")


def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The authenticated caller (401 when a token is needed and missing or unknown)."""
    header = None if credentials is None else f"Bearer {credentials.credentials}"
    if header is None and request.headers.get("authorization"):
        header = request.headers["authorization"]
    return app_context(request).auth.authenticate(header)


async def json_body(request: Request) -> Any:
    """The request body parsed as JSON; 422 naming ``body`` when it is not."""
    raw = await request.body()
    if not raw.strip():
        raise ApiError(422, "validation_error", "body: send a JSON object", field="body")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(
            422,
            "validation_error",
            f"body: not valid JSON ({exc}); send a JSON object",
            field="body",
        ) from None


Ctx = Annotated[ApiContext, Depends(context)]
Caller = Annotated[Principal, Depends(principal)]
