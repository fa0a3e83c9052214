"""``carbonshift demo``: the planner on embedded defaults — no network, no GPU, no setup.

Runs the steps of :mod:`scheduler.simulation.demo` on the built-in demo grid and prints what
was deferred where and why, then the savings against run-now and against the oracle; writes
``demo/report.png`` and ``demo/report.html`` into the data directory.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from scheduler.cli.demo_ledger import demo_ledger_step
from scheduler.cli.demo_service import demo_service_step
from scheduler.cli.simulate import resolve_policy
from scheduler.cli.state import fail_on, is_tty, state
from scheduler.clock import FakeClock
from scheduler.errors import CarbonshiftError
from scheduler.simulation.demo import (
    DemoOptions,
    DemoOutcome,
    DemoPolicies,
    JobRow,
    demo_scenario,
    job_rows,
    run_demo,
)
from scheduler.simulation.scenario import Scenario
from scheduler.wiring import demo_grid_traces


def demo_command(
    ctx: typer.Context,
    seed: Annotated[int, typer.Option("--seed", help="Workload and grid seed.")] = 7,
    jobs: Annotated[int, typer.Option("--jobs", help="Number of jobs.", min=1, max=500)] = 36,
    days: Annotated[int, typer.Option("--days", help="Days of submissions.", min=1, max=14)] = 3,
    policy: Annotated[str, typer.Option("--policy", help="Planner to show.")] = "carbonshift",
    *,
    on_ray: Annotated[
        bool,
        typer.Option("--ray/--no-ray", help="Also run the jobs on a local Ray (service step)."),
    ] = True,
) -> None:
    """Run the planner on a demo workload and grid; print and save the savings report.

    The planner's arrival settings (``planner.arrival_reserve``, ``arrival_insurance``)
    come from the configuration, as in ``serve``."""
    console = Console(width=None if is_tty() else 150)
    try:
        planner = state(ctx).settings().planner
        options = DemoOptions(
            seed=seed,
            jobs=jobs,
            days=days,
            arrival_reserve=planner.arrival_reserve,
            arrival_insurance=planner.arrival_insurance,
        )
        scenario = demo_scenario(options)  # step 1
        zones = [region.zone for region in options.regions]
        traces = demo_grid_traces(zones, options.start, options.end, seed=seed)  # step 2
        policies = DemoPolicies(
            planner=resolve_policy(policy),
            run_now=resolve_policy("run-now"),
            oracle=resolve_policy("oracle"),
        )
        clock = FakeClock(options.start)
        with console.status("planning on an accelerated clock…"):
            outcome = run_demo(scenario, traces, policies, options, clock=clock)  # step 3
        rows = job_rows(scenario, outcome.planner)  # step 4
        out_dir = state(ctx).settings().data_dir / "demo"
        out_dir.mkdir(parents=True, exist_ok=True)
        write_report(out_dir, scenario, outcome, rows, options)
        # --- step 5 (ledger slice): outcomes into the demo ledger, `ledger verify`, report
        ledger_lines = demo_ledger_step(
            state(ctx).settings(),
            scenario,
            outcome.planner.segments,
            traces,
            explanations={row.job_id: row.why for row in rows},
            seed=seed,
            window=(options.start, options.end),
        )
        # --- end step 5
        # --- step 6 (service slice): the same jobs really run on a local Ray, accelerated
        service_lines = demo_service_step(scenario, options) if on_ray else []
        # --- end step 6
    except CarbonshiftError as exc:
        fail_on(exc)
    console.print(jobs_table(rows))
    console.print(savings_table(outcome, clock))
    console.print(f"report: {out_dir / 'report.html'} and {out_dir / 'report.png'}")
    for line in ledger_lines:  # step 5 (ledger slice)
        console.print(line, highlight=False, soft_wrap=True)
    for line in service_lines:  # step 6 (service slice)
        console.print(line, highlight=False, soft_wrap=True)


def jobs_table(rows: list[JobRow]) -> Table:
    """What was deferred where, and why."""
    table = Table(title="What the planner decided", title_justify="left")
    for name in ("job", "GPUs", "home", "ran in", "deferred", "saved", "why"):
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(
            row.job_id,
            str(row.gpus),
            row.home,
            row.region + (f" ×{row.segments}" if row.segments > 1 else ""),
            f"{row.deferred_h:.1f} h",
            f"{row.saving_pct:.0f} %",
            row.why,
        )
    return table


def savings_lines(outcome: DemoOutcome) -> list[tuple[str, str]]:
    """The savings summary as (label, value) pairs."""
    planner, run_now = outcome.planner.result, outcome.run_now.result
    lines = [
        ("jobs completed / missed", f"{planner['completed']} / {planner['missed_deadlines']}"),
        ("emissions, planner", f"{planner['emissions_g'] / 1000:,.1f} kg CO2e"),
        ("emissions, run-now", f"{run_now['emissions_g'] / 1000:,.1f} kg CO2e"),
        (
            "saved vs run-now",
            f"{100 * (1 - planner['emissions_g'] / run_now['emissions_g']):.1f} %",
        ),
        ("saved vs run at submission at home", f"{planner['savings_pct']:.1f} %"),
    ]
    if outcome.oracle_emissions_g is not None:
        best = outcome.oracle_emissions_g
        base = planner["baseline_emissions_g"]
        lines.append(("oracle (offline optimum) saves", f"{100 * (1 - best / base):.1f} %"))
        share = (base - planner["emissions_g"]) / (base - best) if base != best else 1.0
        lines.append(("planner's share of the oracle's savings", f"{100 * share:.1f} %"))
    lines.append(("arrival reserve (last week's jobs back)", reserve_line(outcome)))
    if outcome.insured:
        lines.append(
            (
                "arrival insurance",
                f"planned last week's interruptible jobs beside the queue at {outcome.insured}"
                f" of {outcome.decisions} decisions",
            )
        )
    return lines


def reserve_line(outcome: DemoOutcome) -> str:
    """How often the arrival reserve kept room for jobs like last week's coming back."""
    if outcome.reserved:
        rigid = outcome.expected
        jobs = f"; planned last week's rigid jobs beside the queue at {rigid}" if rigid else ""
        return f"kept room at {outcome.reserved} of {outcome.decisions} decisions{jobs}"
    return "idle: no job was submitted a week before (try --days 10)"


def savings_table(outcome: DemoOutcome, clock: FakeClock) -> Table:
    """Savings against run-now and the oracle."""
    table = Table(title="Savings", title_justify="left", show_header=False)
    for label, value in savings_lines(outcome):
        table.add_row(label, value)
    table.add_row(
        "simulated",
        f"{outcome.decisions} decisions up to {clock.now():%a %d %b %H:%M} UTC "
        f"in {outcome.elapsed_s:.1f} s",
    )
    return table


def write_report(
    out_dir: Path,
    scenario: Scenario,
    outcome: DemoOutcome,
    rows: list[JobRow],
    options: DemoOptions,
) -> None:
    """``report.png`` (intensity and GPUs per region) and ``report.html`` (tables + plot)."""
    from scheduler.simulation.plot import plot_schedule  # noqa: PLC0415  (slow import)

    planner = outcome.planner
    title = f"carbonshift demo: {planner.result['policy']} on {len(scenario.jobs)} jobs"
    plot_schedule(
        out_dir / "report.png", planner.run, planner.segments, scenario.regions, title=title
    )
    cells = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(value))}</td>"
            for value in (
                r.job_id,
                r.gpus,
                r.home,
                r.region,
                f"{r.deferred_h:.1f} h",
                f"{r.saving_pct:.0f} %",
                r.why,
            )
        )
        + "</tr>"
        for r in rows
    )
    summary = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in savings_lines(outcome)
    )
    head = "".join(
        f"<th>{h}</th>" for h in ("job", "GPUs", "home", "ran in", "deferred", "saved", "why")
    )
    page = (
        "<!doctype html><meta charset='utf-8'><title>carbonshift demo</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:left}"
        "table{border-collapse:collapse}tr:nth-child(even){background:#f4f4f4}</style>"
        f"<h1>{html.escape(title)}</h1><p>Demo grid (synthetic, from Electricity Maps "
        f"statistics, ODbL), start {options.start:%Y-%m-%d}, seed {options.seed}.</p>"
        f"<h2>Savings</h2><table>{summary}</table><img src='report.png' width='900'>"
        f"<h2>Decisions</h2><table><tr>{head}</tr>{cells}</table>"
    )
    (out_dir / "report.html").write_text(page, encoding="utf-8")
