"""``carbonshift serve``: run the scheduler until SIGTERM.

On defaults (nothing configured) it uses a SQLite file in the data directory, starts a
local Ray head with logical GPUs, and plans with the built-in carbon signal. A second
``serve`` on the same database refuses to start and says which process holds it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli.state import LogJson, fail, fail_on, state
from scheduler.clock import SystemClock
from scheduler.errors import CarbonshiftError
from scheduler.service.logs import configure_logging
from scheduler.wiring import attach_accounting, build_service, start_api_beside


def serve_command(
    ctx: typer.Context,
    log_json: LogJson = None,
    host: Annotated[
        str | None, typer.Option("--host", help="REST API listen address. Default: api.host.")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="REST API port. Default: api.port.")
    ] = None,
) -> None:
    """Run the scheduler: plan, dispatch to Ray, follow attempts; SIGTERM drains and exits."""
    settings = state(ctx).settings()
    configure_logging(settings.log_level, json=log_json)
    try:
        graph = build_service(settings, SystemClock())
        attach_accounting(graph)  # ledger (issue 8): every finished attempt into the ledger
    except CarbonshiftError as exc:
        fail_on(exc)
    try:
        api = start_api_beside(graph, say=_say, host=host, port=port)  # REST API (issue 6)
    except (CarbonshiftError, OSError) as exc:
        graph.close()
        fail(f"cannot start the REST API: {exc}; pick another --port or --host")
    try:
        graph.runner().run()
    except CarbonshiftError as exc:
        fail_on(exc)
    finally:
        api.stop()
        graph.close()


def _say(message: str) -> None:
    """Startup notices of the REST API, on stderr."""
    typer.echo(message, err=True)
