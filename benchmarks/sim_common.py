"""Shared helpers of the simulator benchmarks: scenarios, one simulation, a printed table."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scheduler.errors import ScheduleViolationError  # noqa: E402  (after the path set-up)
from scheduler.model import IntensityTrace  # noqa: E402
from scheduler.planning.arrivals import RESERVE_SCALE  # noqa: E402
from scheduler.planning.problem import Policy  # noqa: E402
from scheduler.simulation.engine import EngineOptions  # noqa: E402
from scheduler.simulation.forecast_errors import parse_forecast  # noqa: E402
from scheduler.simulation.runner import oracle_emissions_g, simulate  # noqa: E402
from scheduler.simulation.scenario import Scenario  # noqa: E402

SCENARIOS = REPO.parent / "shared" / "scenarios"
LWA = SCENARIOS / "lwa-ml-2020"
ALIBABA = SCENARIOS / "alibaba-gpu-2023"


def policy(name: str) -> Policy:
    """A planner policy by name (``scheduler.planning.policies``)."""
    from scheduler.planning.policies import get_policy  # noqa: PLC0415  (P's module)

    chosen: Policy = get_policy(name)
    return chosen


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """One simulation's figures (``violation`` set when the simulator refused the schedule)."""

    savings_pct: float
    emissions_g: float
    baseline_g: float
    missed: int
    seconds: float
    plan_p95_s: float
    violation: str = ""


def run(
    scenario: Scenario,
    traces: dict[str, IntensityTrace],
    policy_name: str,
    forecast: str = "perfect",
    seed: int = 0,
    *,
    arrival_forecast: float = 0.0,
    arrival_reserve: float = RESERVE_SCALE,
    arrival_insurance: float = 0.0,
    announce_h: float = 0.0,
) -> Outcome:
    """Simulate ``policy_name`` (the oracle offline); never raises for a bad schedule.
    ``announce_h``: the what-if of ``EngineOptions.announce_h`` (0: off)."""
    began = time.perf_counter()
    options = EngineOptions(
        forecast=parse_forecast(forecast),
        seed=seed,
        arrival_forecast=arrival_forecast,
        arrival_reserve=arrival_reserve,
        arrival_insurance=arrival_insurance,
        announce_h=announce_h,
    )
    try:
        result = simulate(scenario, traces, policy(policy_name), options=options).result
    except ScheduleViolationError as exc:
        return Outcome(
            savings_pct=float("nan"),
            emissions_g=float("nan"),
            baseline_g=float("nan"),
            missed=-1,
            seconds=time.perf_counter() - began,
            plan_p95_s=0.0,
            violation=str(exc)[:200],
        )
    return Outcome(
        savings_pct=result["savings_pct"],
        emissions_g=result["emissions_g"],
        baseline_g=result["baseline_emissions_g"],
        missed=result["missed_deadlines"],
        seconds=time.perf_counter() - began,
        plan_p95_s=result["plan_time_s"]["p95"],
    )


def add_arrival_forecast(parser: argparse.ArgumentParser) -> None:
    """``--arrival-forecast``, ``--arrival-reserve`` and ``--arrival-insurance SCALE``
    (``EngineOptions``)."""
    parser.add_argument(
        "--arrival-forecast",
        type=float,
        default=0.0,
        help="hold last week's rigid jobs × this scale for the planner (0: off)",
    )
    parser.add_argument(
        "--arrival-reserve",
        type=float,
        default=RESERVE_SCALE,
        help="expect last week's jobs back: rigid ones as jobs planned beside the queue,"
        " interruptible ones' GPU-hours × this scale as a priced reserve"
        f" (default {RESERVE_SCALE}, the planner's; 0: off)",
    )
    parser.add_argument(
        "--arrival-insurance",
        type=float,
        default=0.0,
        help="with the reserve, expect last week's interruptible jobs back as jobs × this"
        " scale that the queue must leave room for (0: off, the planner's default)",
    )


class Arrivals(TypedDict):
    """The arrival options of ``run`` (``EngineOptions``), as keywords."""

    arrival_forecast: float
    arrival_reserve: float
    arrival_insurance: float


def arrival_options(args: argparse.Namespace) -> Arrivals:
    """The parsed ``add_arrival_forecast`` options, as keywords of ``run``."""
    return {
        "arrival_forecast": args.arrival_forecast,
        "arrival_reserve": args.arrival_reserve,
        "arrival_insurance": args.arrival_insurance,
    }


def oracle(scenario: Scenario, traces: dict[str, IntensityTrace]) -> tuple[float, float]:
    """(oracle emissions g, seconds)."""
    began = time.perf_counter()
    emitted = oracle_emissions_g(scenario, traces, policy("oracle"))
    return emitted, time.perf_counter() - began


def efficiency(baseline: float, emitted: float, optimum: float) -> float:
    """Share of the oracle's savings: (baseline − policy) / (baseline − oracle)."""
    return (baseline - emitted) / (baseline - optimum) if baseline != optimum else 1.0


def print_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned table on stdout."""
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for i, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def print_json(data: dict[str, Any]) -> None:
    """The final JSON line (NaN, e.g. a skipped oracle, becomes null)."""
    print(json.dumps(_no_nan(data), sort_keys=False))


def _no_nan(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _no_nan(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_no_nan(item) for item in value]
    return value
