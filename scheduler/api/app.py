"""``create_app``: the REST API as a FastAPI app, built from its collaborators.

Nothing here is global: every app gets its own store, clock, decision source, metrics
registry and rate limiter, so tests build as many apps as they like side by side.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from fastapi import APIRouter, FastAPI

from scheduler.api import routes_info, routes_jobs, routes_tokens
from scheduler.api.auth import Authenticator
from scheduler.api.collaborators import (
    DecisionSource,
    JobControl,
    LedgerIndex,
    RecordedDecisions,
    queued_decision,
)
from scheduler.api.context import ApiContext, ReadinessCheck
from scheduler.api.errors import install_error_handlers
from scheduler.api.jobs import JobOperations
from scheduler.api.limits import BodySizeLimit, SubmitRateLimiter
from scheduler.api.metrics import ServiceMetrics
from scheduler.protocols import Clock, ForecastProvider, JobStore, Ledger, TokenStore
from scheduler.settings import Settings

API_VERSION = "1"
MAX_PAGE_SIZE = 500


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(
    *,
    store: JobStore,
    tokens: TokenStore,
    clock: Clock,
    settings: Settings,
    decisions: DecisionSource | None = None,
    control: JobControl | None = None,
    forecasts: ForecastProvider | None = None,
    ledger: Ledger | None = None,
    metrics: ServiceMetrics | None = None,
    readiness: Sequence[ReadinessCheck] = (),
    open_access: bool | None = None,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The API app.

    Args:
        decisions: first and current decisions; default: a ``RecordedDecisions`` that
            answers "queued; planned at the next tick" until the service records its own.
        control: stops cancelled jobs and pushes caps on clusters; None: store-only changes.
        metrics: shared with the service so its planner and forecast figures appear here.
        readiness: extra checks for ``/readyz`` (the store is always checked).
        open_access: allow anonymous admin access while no token exists; default: only when
            ``settings.api.host`` is a loopback address.
        extra_routers: more routes (the dashboard) mounted beside the API.
    """
    metrics = metrics or ServiceMetrics(clock=clock)
    metrics.watch(store=store, ledger=ledger)
    decisions = decisions or RecordedDecisions(queued_decision(clock, settings.default_zone))
    allow_open = is_loopback(settings.api.host) if open_access is None else open_access
    context = ApiContext(
        store=store,
        tokens=tokens,
        clock=clock,
        jobs=JobOperations(
            store=store,
            clock=clock,
            decisions=decisions,
            control=control,
            ledger=LedgerIndex(ledger),
            known_zones=settings.known_zones,
        ),
        auth=Authenticator(tokens, open_access=allow_open),
        limiter=SubmitRateLimiter(settings.api.jobs_per_minute, clock=clock),
        metrics=metrics,
        forecasts=forecasts,
        ledger=ledger,
        known_zones=settings.known_zones,
        readiness=tuple(readiness),
        max_page_size=MAX_PAGE_SIZE,
    )
    app = FastAPI(
        title="carbonshift",
        version=API_VERSION,
        summary="Carbon-aware batch scheduler for GPU clusters",
        description="Submit deferrable GPU jobs with deadlines, set caps, review savings.",
    )
    app.state.carbonshift = context
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.api.max_body_bytes)
    for router in (routes_jobs.router, routes_info.router, routes_tokens.router, *extra_routers):
        app.include_router(router)
    return app
