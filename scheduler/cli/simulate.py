"""``carbonshift simulate``: replay a scenario (FORMATS.md) under a planning policy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from scheduler.cli.state import EXIT_USAGE, err_console, fail, fail_on, is_tty, state
from scheduler.errors import CarbonshiftError, ConfigError
from scheduler.planning.arrivals import CRUNCH_SURGE
from scheduler.planning.problem import Policy
from scheduler.protocols import SignalForecaster
from scheduler.simulation.engine import DecisionPoint, EngineOptions
from scheduler.simulation.forecast_errors import FORECAST_HELP, ForecastSpec, parse_forecast
from scheduler.simulation.output import iso, write_result, write_schedule
from scheduler.simulation.power_capping import with_power_capping
from scheduler.simulation.runner import SimulationResult, simulate
from scheduler.simulation.scenario import load_scenario
from scheduler.wiring import load_traces, power_levels, signal_forecaster


def resolve_policy(name: str) -> Policy:
    """The policy called ``name`` (``scheduler.planning.policies``); exit 2 if unknown."""
    from scheduler.planning.policies import get_policy  # noqa: PLC0415  (SciPy loads on use)

    try:
        return get_policy(name)
    except CarbonshiftError as exc:
        fail(f"--policy {name!r}: {exc}", code=EXIT_USAGE)


def simulate_command(  # noqa: PLR0917  (a Typer command takes one parameter per option)
    ctx: typer.Context,
    jobs: Annotated[Path, typer.Option("--jobs", help="Jobs CSV (FORMATS.md).")],
    carbon: Annotated[
        list[Path], typer.Option("--carbon", help="Carbon CSV file(s); more may follow.")
    ],
    regions: Annotated[Path, typer.Option("--regions", help="Regions YAML (FORMATS.md).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the result JSON.")],
    schedule_out: Annotated[
        Path, typer.Option("--schedule-out", help="Where to write the schedule CSV.")
    ],
    more_carbon: Annotated[
        list[Path] | None, typer.Argument(hidden=True, help="Further carbon files.")
    ] = None,
    policy: Annotated[str, typer.Option("--policy", help="Planning policy.")] = "carbonshift",
    signal: Annotated[
        str, typer.Option("--signal", help="Electricity Maps column: lca or direct.")
    ] = "lca",
    forecast: Annotated[str, typer.Option("--forecast", help=FORECAST_HELP)] = "perfect",
    horizon_h: Annotated[
        float | None, typer.Option("--horizon-h", help="Forecast horizon in hours.", min=0.01)
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the forecast error.")] = 0,
    arrival_forecast: Annotated[
        float | None,
        typer.Option(
            "--arrival-forecast",
            help="Expect last week's non-interruptible jobs again, their GPUs × this scale, "
            "and keep their latest windows free when every known job still fits "
            "(0: off; default: planner.arrival_forecast).",
            min=0.0,
            show_default=False,
        ),
    ] = None,
    arrival_reserve: Annotated[
        float | None,
        typer.Option(
            "--arrival-reserve",
            help="Expect last week's jobs again: its rigid jobs as jobs planned beside the "
            f"queue (twice over from {CRUNCH_SURGE:g} × the work of the same two days a week "
            "before), its "
            "interruptible jobs' GPU-hours × this scale as a priced reserve over their "
            "windows; queued work runs sooner when the last two days brought more work than "
            "a week before (0: off; default: planner.arrival_reserve, 1.5).",
            min=0.0,
            show_default=False,
        ),
    ] = None,
    arrival_insurance: Annotated[
        float | None,
        typer.Option(
            "--arrival-insurance",
            help="With the arrival reserve, expect last week's interruptible jobs back as "
            "jobs, × this scale, that the queue must leave room for (instead of in the "
            "priced reserve): fewer missed deadlines in a nearly full cluster, less carbon "
            "saved (0: off; default: planner.arrival_insurance, 0).",
            min=0.0,
            show_default=False,
        ),
    ] = None,
    announce_h: Annotated[
        float,
        typer.Option(
            "--announce-h",
            help="What-if: reveal every job this many hours before its submit_time, still "
            "starting no earlier (as if submitted early with an earliest start); 0: at "
            "submission, as FORMATS.md says.",
            min=0.0,
        ),
    ] = 0.0,
    oracle: Annotated[
        bool, typer.Option("--oracle", help="Also compute the offline optimum.")
    ] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write a PNG plot.")] = None,
    power_capping: Annotated[
        bool | None,
        typer.Option(
            "--power-capping/--no-power-capping",
            help="Also choose a power limit per slot (default: planner.power_capping).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Replay a scenario: jobs revealed at submission, the policy sees only the forecast."""
    try:
        spec = parse_forecast(forecast)
        scenario = load_scenario(jobs, regions)
        traces = load_traces([*carbon, *(more_carbon or [])], signal=signal)
        chosen = resolve_policy(policy)
        planner = state(ctx).settings().planner
        options = EngineOptions(
            forecast=spec,
            horizon_h=horizon_h,
            seed=seed,
            arrival_forecast=_or(arrival_forecast, planner.arrival_forecast),
            arrival_reserve=_or(arrival_reserve, planner.arrival_reserve),
            arrival_insurance=_or(arrival_insurance, planner.arrival_insurance),
            announce_h=announce_h,
        )
        with _progress(len(scenario.jobs)) as observe:
            result = simulate(
                scenario,
                traces,
                chosen,
                options=options,
                forecaster=_forecaster(spec),
                oracle=resolve_policy("oracle") if oracle else None,
                observer=observe,
            )
        if _power_capping(ctx, power_capping):  # power follow-up (issue 7): a separate pass
            levels = power_levels(state(ctx).settings())
            result = with_power_capping(result, scenario, levels=levels)
        write_result(out, result.result)
        write_schedule(schedule_out, result.segments, scenario.regions)
        if plot is not None:
            from scheduler.simulation.plot import plot_schedule  # noqa: PLC0415  (slow import)

            title = f"{policy} on {jobs.name} ({forecast})"
            plot_schedule(plot, result.run, result.segments, scenario.regions, title=title)
    except ConfigError as exc:
        fail(str(exc), code=EXIT_USAGE)
    except CarbonshiftError as exc:
        fail_on(exc)
    except OSError as exc:
        fail(f"cannot write output: {exc}")
    _print_summary(result)


def _power_capping(ctx: typer.Context, flag: bool | None) -> bool:
    return state(ctx).settings().planner.power_capping if flag is None else flag


def _or(option: float | None, setting: float) -> float:
    """The command-line value, else the setting's."""
    return setting if option is None else option


def _forecaster(spec: ForecastSpec) -> SignalForecaster | None:
    return signal_forecaster() if spec.kind == "model" else None


class _progress:  # noqa: N801  (used like a function in a with statement)
    """A Rich progress bar over revealed jobs (silent when stdout is not a terminal)."""

    def __init__(self, total: int) -> None:
        self._bar = Progress(
            TextColumn("simulating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=not is_tty(),
        )
        self._task = self._bar.add_task("jobs", total=total)

    def __enter__(self) -> _progress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def __call__(self, point: DecisionPoint) -> None:
        self._bar.update(self._task, completed=point.revealed)


def _print_summary(result: SimulationResult) -> None:
    data = result.result
    table = Table(title=f"policy {data['policy']}", show_header=False)
    rows = [
        (
            "jobs / completed / missed",
            f"{data['jobs']} / {data['completed']} / {data['missed_deadlines']}",
        ),
        ("emissions", f"{data['emissions_g'] / 1000:,.1f} kg CO2e"),
        ("baseline (run at submission)", f"{data['baseline_emissions_g'] / 1000:,.1f} kg CO2e"),
        ("savings", f"{data['savings_pct']:.2f} %"),
        ("mean / p95 delay", f"{data['mean_delay_h']:.1f} h / {data['p95_delay_h']:.1f} h"),
    ]
    if data["oracle_efficiency"] is not None:
        rows.append(("share of the oracle's savings", f"{100 * data['oracle_efficiency']:.1f} %"))
    for name, value in rows:
        table.add_row(name, value)
    Console().print(table)
    _print_missed(result)


#: missed jobs listed after the summary (the rest are counted)
MISSED_SHOWN = 10


def _minute(at_s: int) -> str:
    """``2020-02-10 09:00``: an epoch time to the minute, UTC."""
    return iso(at_s)[:16].replace("T", " ")


def _print_missed(result: SimulationResult) -> None:
    """The jobs that missed their deadline: how much ran and when the plans gave up on them."""
    missed = sorted(
        (o for o in result.run.outcomes if not o.completed), key=lambda o: o.job.deadline_s
    )
    if not missed:
        return
    grid = result.run.grid

    def at(slot: int | None) -> str:
        return "-" if slot is None else _minute(grid.time_s(slot))

    console = Console(soft_wrap=True)
    console.print(f"missed deadlines ({len(missed)}):")
    for o in missed[:MISSED_SHOWN]:
        ran_h = sum(seg.slots for seg in o.segments) * grid.slot_s / 3600
        console.print(
            f"  {o.job.id}: due {_minute(o.job.deadline_s)}, ran "
            f"{ran_h:.1f} of {o.job.duration_s / 3600:.1f} h, left out from "
            f"{at(o.left_out_at)}, lost at {at(o.lost_at)}",
            markup=False,
        )
    if len(missed) > MISSED_SHOWN:
        console.print(f"  … and {len(missed) - MISSED_SHOWN} more")
    console.print(
        "  (left out from: the plans did not place the job from then on, because not every "
        "queued job fitted the free GPUs before its deadline, '-' when the last plan placed "
        "it or it came too late for any; lost at: from then on its remaining work no longer "
        "fitted before the deadline)"
    )
