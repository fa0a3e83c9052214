"""Starting the API beside the scheduler: where to listen, and what to say about access.

``carbonshift serve`` calls ``start_api`` with the objects it already built (store, ledger,
forecast chain, decisions, cluster control, metrics). With no API token at all the server
listens on loopback only, whatever host was asked for, and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import APIRouter

from scheduler.api.app import create_app, is_loopback
from scheduler.api.collaborators import DecisionSource, JobControl
from scheduler.api.context import ReadinessCheck
from scheduler.api.metrics import ServiceMetrics
from scheduler.api.server import ApiServer
from scheduler.protocols import Clock, ForecastProvider, JobStore, Ledger, TokenStore
from scheduler.settings import Settings

LOOPBACK = "127.0.0.1"


def bind_host(requested: str, tokens: TokenStore) -> tuple[str, str]:
    """The host to listen on and a one-line notice about who may call the API."""
    if tokens.tokens():
        return requested, f"API tokens required on {requested}"
    if is_loopback(requested):
        return requested, (
            f"no API tokens exist: anyone on this machine may use the API on {requested} as "
            "admin; create one with `carbonshift token create --team T --role admin`"
        )
    return LOOPBACK, (
        f"no API tokens exist: listening on {LOOPBACK} only instead of {requested}; create "
        "one with `carbonshift token create --team T --role admin` and restart"
    )


def start_api(
    settings: Settings,
    *,
    store: JobStore,
    tokens: TokenStore,
    clock: Clock,
    say: Callable[[str], None],
    host: str | None = None,
    port: int | None = None,
    ledger: Ledger | None = None,
    forecasts: ForecastProvider | None = None,
    decisions: DecisionSource | None = None,
    control: JobControl | None = None,
    metrics: ServiceMetrics | None = None,
    readiness: Sequence[ReadinessCheck] = (),
    extra_routers: Sequence[APIRouter] = (),
) -> ApiServer:
    """Build the app and serve it from a background thread; ``say`` gets the notices."""
    listen_host, notice = bind_host(host or settings.api.host, tokens)
    app = create_app(
        store=store,
        tokens=tokens,
        clock=clock,
        settings=settings,
        decisions=decisions,
        control=control,
        forecasts=forecasts,
        ledger=ledger,
        metrics=metrics,
        readiness=readiness,
        open_access=is_loopback(listen_host),
        extra_routers=extra_routers,
    )
    server = ApiServer(app, host=listen_host, port=settings.api.port if port is None else port)
    say(notice)
    server.start()
    say(f"REST API on {server.url} (OpenAPI: {server.url}/openapi.json)")
    return server
