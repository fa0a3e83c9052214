"""``carbonshift forecast evaluate``: how good is the built-in forecaster on your data?

Walks forward through carbon files (every hour a forecast from the past only) and prints the
MAPE of the forecaster per zone and horizon next to persistence and same-hour-previous-day;
the protocol is in ``scheduler.forecast_evaluation``. Example::

    carbonshift forecast evaluate --carbon DE_2022.csv DE_2023.csv --horizons 1,6,24,48 \\
        --evaluate-from 2023-01-01
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from scheduler.cli.state import EXIT_USAGE, err_console, fail, fail_on, is_tty
from scheduler.errors import CarbonshiftError, ConfigError
from scheduler.forecast_evaluation import (
    MIN_ACTUAL_G_PER_KWH,
    HorizonScore,
    evaluate_zone,
    issue_count,
)
from scheduler.model import IntensityTrace
from scheduler.wiring import load_traces, signal_forecaster


def evaluate(  # noqa: PLR0917  (a Typer command takes one parameter per option)
    carbon: Annotated[
        list[Path], typer.Option("--carbon", help="Carbon CSV file(s); more may follow.")
    ],
    more_carbon: Annotated[
        list[Path] | None, typer.Argument(hidden=True, help="Further carbon files.")
    ] = None,
    horizons: Annotated[
        str, typer.Option("--horizons", help="Comma-separated horizons in hours.")
    ] = "1,6,24,48",
    evaluate_from: Annotated[
        str | None,
        typer.Option(
            "--evaluate-from",
            help="Score only forecasts issued from this UTC date on (e.g. 2023-01-01); "
            "everything earlier is history.",
        ),
    ] = None,
    signal: Annotated[
        str, typer.Option("--signal", help="Electricity Maps column: lca or direct.")
    ] = "lca",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
) -> None:
    """Walk forward through the data: forecaster vs persistence and previous day (MAPE %)."""
    hours = _horizons(horizons)
    start = _date(evaluate_from)
    try:
        traces = load_traces([*carbon, *(more_carbon or [])], signal=signal)
        scores = _evaluate(traces, hours, start, progress=not as_json)
    except ConfigError as exc:
        fail(str(exc), code=EXIT_USAGE)
    except CarbonshiftError as exc:
        fail_on(exc)
    except ValueError as exc:
        fail(str(exc), code=EXIT_USAGE)
    if as_json:
        typer.echo(json.dumps([score.as_json() for score in scores]))
    else:
        _print(scores)


def _horizons(text: str) -> list[int]:
    try:
        hours = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        hours = []
    if not hours or min(hours) < 1:
        fail(
            f"--horizons {text!r}: give whole hours ≥ 1 separated by commas, e.g. 1,6,24,48",
            code=EXIT_USAGE,
        )
    return sorted(set(hours))


def _date(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--evaluate-from {text!r} is not a date; write e.g. 2023-01-01", code=EXIT_USAGE)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _evaluate(
    traces: dict[str, IntensityTrace], hours: list[int], start: datetime | None, *, progress: bool
) -> list[HorizonScore]:
    forecaster = signal_forecaster()
    scores: list[HorizonScore] = []
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not (progress and is_tty()),
    )
    with bar:
        for zone, trace in traces.items():
            task = bar.add_task(f"evaluating {zone}", total=issue_count(trace, start))
            scores += evaluate_zone(
                forecaster,
                trace,
                hours,
                evaluate_from=start,
                on_issue=partial(bar.advance, task),
            )
    return scores


def _print(scores: list[HorizonScore]) -> None:
    table = Table(
        "zone", "horizon", "model", "persistence", "previous day", "ratio", "in interval", "scored"
    )
    table.title = "MAPE % of forecasts issued hourly (ratio: model / better baseline)"
    for s in scores:
        coverage = "-" if s.interval_coverage is None else f"{100 * s.interval_coverage:.0f} %"
        table.add_row(
            s.zone,
            f"{s.horizon_h} h",
            f"{s.mape_model:.2f}",
            f"{s.mape_persistence:.2f}",
            f"{s.mape_previous_day:.2f}",
            f"{s.ratio:.3f}",
            coverage,
            f"{s.scored}",
        )
    Console().print(table)
    for s in scores:
        if s.skipped_zero:
            typer.echo(
                f"{s.zone} {s.horizon_h} h: {s.skipped_zero} targets below "
                f"{MIN_ACTUAL_G_PER_KWH} g/kWh left out (no relative error against zero)"
            )
    mean_ratio = sum(s.ratio for s in scores) / len(scores)
    typer.echo(f"mean ratio over zones and horizons: {mean_ratio:.3f}")
