"""Read-only endpoints: forecasts, savings, the ledger, health, readiness and metrics."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from scheduler.api.context import Caller, Ctx
from scheduler.api.errors import ApiError, error_response
from scheduler.api.metrics import PROMETHEUS_CONTENT_TYPE
from scheduler.api.routes_jobs import ERRORS
from scheduler.api.views import ErrorBody
from scheduler.model import Forecast, LedgerEntry, ensure_utc
from scheduler.savings import GroupBy, SavingsRow, summarize, total

router = APIRouter(responses=ERRORS)


class SavingsReport(BaseModel):
    """Savings grouped by one key, with the total."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group_by: str
    rows: list[SavingsRow]
    total: SavingsRow


class LedgerPage(BaseModel):
    """One page of ledger entries in append order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    items: list[LedgerEntry]
    limit: int
    offset: int
    next_offset: int | None


def _utc(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return ensure_utc(value, field)
    except ValueError as exc:
        raise ApiError(422, "validation_error", f"{field}: {exc}", field=field) from None


def _visible_entries(ctx: Ctx, caller: Caller, since: datetime | None) -> list[LedgerEntry]:
    if ctx.ledger is None:
        return []
    entries = ctx.ledger.entries(since=since)
    return [entry for entry in entries if caller.may_see(entry.team)]


@router.get("/v1/forecasts/{zone}", response_model=Forecast, tags=["carbon"])
def get_forecast(
    ctx: Ctx,
    caller: Caller,
    zone: str,
    hours: Annotated[int, Query(ge=1, le=168, description="how far ahead")] = 48,
) -> Forecast:
    """Intensity forecast for a configured zone from now, with provenance."""
    del caller  # any valid token may read forecasts
    if zone not in ctx.known_zones():
        raise ApiError(
            404,
            "not_found",
            f"zone {zone!r} is not configured; known zones: {sorted(ctx.known_zones())}",
            field="zone",
        )
    if ctx.forecasts is None:
        raise ApiError(503, "forecast_unavailable", "no forecast provider is configured")
    now = ctx.clock.now()
    forecast = ctx.forecasts.forecast(zone, now, now + timedelta(hours=hours))
    ctx.metrics.observe_forecast(forecast)
    return forecast


@router.get("/v1/savings", response_model=SavingsReport, tags=["savings"])
def get_savings(
    ctx: Ctx,
    caller: Caller,
    group_by: GroupBy = "team",
    since: datetime | None = None,
    until: datetime | None = None,
) -> SavingsReport:
    """Realised CO2e savings against running at once, grouped (your team's only, or all)."""
    entries = _visible_entries(ctx, caller, None)
    rows = summarize(entries, by=group_by, since=_utc(since, "since"), until=_utc(until, "until"))
    return SavingsReport(group_by=group_by, rows=rows, total=total(rows))


@router.get("/v1/ledger", response_model=LedgerPage, tags=["savings"])
def get_ledger(
    ctx: Ctx,
    caller: Caller,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> LedgerPage:
    """Ledger entries (yours, or all for admins) that ended at or after ``since``, paged."""
    entries = _visible_entries(ctx, caller, _utc(since, "since"))
    page = entries[offset : offset + limit]
    more = len(entries) > offset + limit
    return LedgerPage(
        items=page, limit=limit, offset=offset, next_offset=offset + limit if more else None
    )


@router.get("/healthz", tags=["operations"])
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", tags=["operations"], responses={503: {"model": ErrorBody}})
def readyz(ctx: Ctx) -> Response:
    """Ready when the job store answers and every readiness check passes."""
    problems = []
    try:
        ctx.store.list(limit=1)
    except Exception as exc:  # any failure means not ready; the message is reported
        problems.append(f"job store: {exc}")
    problems.extend(problem for check in ctx.readiness if (problem := check()) is not None)
    if problems:
        return error_response(503, "not_ready", "; ".join(problems))
    return JSONResponse({"status": "ready"})


@router.get(
    "/metrics",
    tags=["operations"],
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
def metrics(ctx: Ctx) -> Response:
    """Prometheus metrics (text exposition format)."""
    return Response(ctx.metrics.render(), media_type=PROMETHEUS_CONTENT_TYPE)


__all__ = ["LedgerPage", "SavingsReport", "router"]
