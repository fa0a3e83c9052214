"""The dashboard: static HTML and vanilla JavaScript served at ``/`` beside the REST API.

No build step and no third-party front-end code: the page draws its charts as SVG from the
API's own answers (``/v1/jobs``, ``/v1/forecasts/{zone}``, ``/v1/savings``). Mount it with
``create_app(..., extra_routers=[dashboard_router(zones)])`` or ``mount_dashboard(app, zones)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from importlib.resources import files

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, Response

_STATIC = files("scheduler.dashboard")


def _read(name: str) -> str:
    return (_STATIC / name).read_text(encoding="utf-8")


def dashboard_router(zones: Iterable[str] = ()) -> APIRouter:
    """Routes of the dashboard page and its script; ``zones`` get a forecast line each."""
    page = _read("index.html").replace("{{ZONES}}", escape(",".join(sorted(zones))))
    script = _read("dashboard.js")
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(page)

    @router.get("/dashboard.js")
    def dashboard_js() -> Response:
        return Response(script, media_type="text/javascript; charset=utf-8")

    return router


def mount_dashboard(app: FastAPI, zones: Iterable[str] = ()) -> None:
    """Serve the dashboard at ``/`` of ``app``."""
    app.include_router(dashboard_router(zones))
