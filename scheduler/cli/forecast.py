"""``carbonshift forecast``: look at the carbon signal the planner sees.

``show ZONE`` asks the configured failover chain (the ``forecasts`` section; the demo grid
when nothing is configured) for the next hours and prints a table, a small plot and the
provenance. ``providers`` lists each configured provider's health as the chain recorded it in
the database: last success, its age, last error, requests used in the budget window.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from scheduler.cli.forecast_evaluate import evaluate
from scheduler.cli.state import fail, fail_on, state
from scheduler.clock import SystemClock
from scheduler.errors import CarbonshiftError
from scheduler.model import Forecast, ProviderStatus
from scheduler.wiring import build_forecast_chain

app = typer.Typer(help="The carbon signal: forecasts per zone and provider health.")
app.command("evaluate")(evaluate)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
BARS = "▁▂▃▄▅▆▇█"
PLOT_WIDTH = 96


@app.command("show")
def show(
    ctx: typer.Context,
    zone: Annotated[str, typer.Argument(help="Grid zone, e.g. DE, GB, CAISO_NORTH.")],
    hours: Annotated[float, typer.Option("--hours", min=0.5, max=168)] = 48.0,
    as_json: JsonOption = False,
) -> None:
    """The next HOURS of ZONE's intensity from the configured chain, with provenance."""
    settings = state(ctx).settings()
    clock = SystemClock()
    now = clock.now()
    try:
        chain = build_forecast_chain(settings, clock)
        signal = chain.resolve(zone, now, now + timedelta(hours=hours))
    except CarbonshiftError as exc:
        fail_on(exc)
    if as_json:
        typer.echo(json.dumps(_forecast_json(zone, signal.forecast, signal.problems), indent=2))
    elif signal.forecast is not None:
        _print_forecast(signal.forecast, signal.problems)
    if signal.forecast is None:
        fail(
            f"zone {zone} has no usable carbon signal; its jobs run deadline-safe. "
            + "; ".join(signal.problems)
        )


@app.command("providers")
def providers(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Each configured provider: last success, age, last error, requests used."""
    settings = state(ctx).settings()
    clock = SystemClock()
    try:
        statuses = build_forecast_chain(settings, clock).statuses()
    except CarbonshiftError as exc:
        fail_on(exc)
    now = clock.now()
    if as_json:
        typer.echo(json.dumps([_status_json(s, now) for s in statuses], indent=2))
        return
    table = Table("provider", "last success (UTC)", "age", "last error", "requests used")
    for status in statuses:
        table.add_row(
            status.provider,
            _when(status.last_success_at),
            _age(status.last_success_at, now),
            status.last_error or "-",
            str(status.requests_used),
        )
    Console().print(table)


def _forecast_json(zone: str, forecast: Forecast | None, problems: Sequence[str]) -> dict[str, Any]:
    if forecast is None:
        return {"zone": zone, "forecast": None, "problems": list(problems)}
    data: dict[str, Any] = json.loads(forecast.model_dump_json())
    return {"zone": zone, "forecast": data, "problems": list(problems)}


def _print_forecast(forecast: Forecast, problems: Sequence[str]) -> None:
    console = Console()
    prov = forecast.provenance
    values = [p.g_per_kwh for p in forecast.points]
    console.print(
        f"[bold]{forecast.zone}[/] from {prov.provider} ({prov.signal}), "
        f"generated {_when(prov.generated_at)}, fetched {_when(prov.fetched_at)}"
        + (" [yellow]fallback[/]" if prov.fallback else "")
        + (" [red]stale[/]" if prov.stale else ""),
        highlight=False,
    )
    console.print(f"{min(values):.0f} {sparkline(values)} {max(values):.0f} g/kWh", highlight=False)
    table = Table("start (UTC)", "g/kWh")
    for point in _hourly(forecast):
        table.add_row(_when(point[0]), f"{point[1]:.0f}")
    console.print(table)
    for note in (*prov.notes, *problems):
        console.print(f"  note: {note}", highlight=False, soft_wrap=True)


def _hourly(forecast: Forecast) -> list[tuple[datetime, float]]:
    """At most one row per hour (the first point of each hour)."""
    rows: dict[datetime, float] = {}
    for point in forecast.points:
        rows.setdefault(point.start.replace(minute=0, second=0, microsecond=0), point.g_per_kwh)
    return list(rows.items())


def sparkline(values: Sequence[float], width: int = PLOT_WIDTH) -> str:
    """``values`` as one line of block characters, averaged down to ``width`` columns."""
    if not values:
        return ""
    per = max(1, -(-len(values) // width))
    columns = [
        sum(values[i : i + per]) / len(values[i : i + per]) for i in range(0, len(values), per)
    ]
    low, high = min(columns), max(columns)
    span = (high - low) or 1.0
    return "".join(BARS[round((v - low) / span * (len(BARS) - 1))] for v in columns)


def _status_json(status: ProviderStatus, now: datetime) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(status.model_dump_json())
    data["age_s"] = (
        None
        if status.last_success_at is None
        else int((now - status.last_success_at).total_seconds())
    )
    return data


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M")


def _age(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "-"
    minutes = int((now - value).total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
