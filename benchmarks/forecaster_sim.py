"""Planning with the forecaster: the share of the oracle's savings kept with ``--forecast model``.

Scenarios (``../shared/scenarios``): ``lwa-de``, Let's Wait Awhile DE 2020, semi-weekly
interruptible jobs, 34 GPUs (cap 0.75), half-hourly carbon; ``alibaba-24h``, the Alibaba GPU
trace over four 2023 zones (DE, GB, US-CAL-CISO, US-TEX-ERCO), 24 h of slack, 15-min slots.

For each scenario, in the same run: the ``carbonshift`` policy with perfect forecasts, with
the lag-ridge forecaster (``model``: trained only on the slots observed before each decision;
until it has 8 weeks of history the engine falls back to repeating the last day) and with
``gauss:0.05`` for reference; the offline oracle once. ``share`` = (baseline − policy) /
(baseline − oracle); ``of perfect`` = savings / the perfect-forecast run's savings (the
measure when the oracle is skipped: on the full Alibaba scenario HiGHS hits its time limit).
``predict_s`` is the time spent inside the forecaster.

The engine hands the forecaster at most ``HISTORY_DAYS`` days per call (its default, 70); the
forecaster stitches overlapping windows into a longer history. ``--history-days N`` sets the
engine's limit for this run (an experiment on the engine's knob, not its default).

Usage: .venv/bin/python benchmarks/forecaster_sim.py [--scenarios lwa-de,alibaba-24h]
       [--forecasts perfect,model,gauss:0.05] [--history-days 70] [--limit N] [--no-oracle]
The last line is JSON: one row per scenario and forecast.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sim_common import ALIBABA, LWA, REPO, efficiency, oracle, policy, print_json, print_table

from forecasts.forecaster import LagRidgeForecaster
from forecasts.traces import load_carbon_traces
from scheduler.model import IntensityTrace
from scheduler.simulation import forecast_errors
from scheduler.simulation.engine import EngineOptions
from scheduler.simulation.forecast_errors import parse_forecast
from scheduler.simulation.runner import simulate
from scheduler.simulation.scenario import Scenario, load_scenario


class TimedForecaster:
    """The lag-ridge forecaster, timing every call (instrumentation for this benchmark)."""

    name = "lag-ridge"

    def __init__(self) -> None:
        self.inner = LagRidgeForecaster()
        self.seconds = 0.0
        self.calls = 0

    def predict(
        self, zone: str, history_g_per_kwh: Sequence[float], step_s: int, horizon_steps: int
    ) -> Sequence[float]:
        """Forward to the forecaster and add the time taken."""
        began = time.perf_counter()
        try:
            return self.inner.predict(zone, history_g_per_kwh, step_s, horizon_steps)
        finally:
            self.seconds += time.perf_counter() - began
            self.calls += 1


def load(name: str) -> tuple[Scenario, dict[str, IntensityTrace]]:
    """Jobs, regions and carbon traces of scenario ``name``."""
    if name == "lwa-de":
        return (
            load_scenario(
                LWA / "jobs-semi-weekly-interruptible-de.csv", LWA / "regions-de-cap-0.75.yaml"
            ),
            load_carbon_traces([LWA / "carbon-de.csv"]),
        )
    files = (ALIBABA / "carbon-files.txt").read_text(encoding="utf-8").split()
    return (
        load_scenario(ALIBABA / "jobs-slack-24h.csv", ALIBABA / "regions-4.yaml"),
        load_carbon_traces([REPO / line for line in files]),
    )


def main() -> int:
    """Run every scenario and forecast; print the table and the JSON line."""
    args = parse()
    forecast_errors.HISTORY_DAYS = args.history_days
    rows: list[dict[str, Any]] = []
    for name in args.scenarios.split(","):
        scenario, traces = load(name)
        if args.limit:
            scenario = replace(scenario, jobs=scenario.jobs[: args.limit])
        best, best_s = (math.nan, 0.0) if args.no_oracle else oracle(scenario, traces)
        for forecast in args.forecasts.split(","):
            rows.append(one(name, scenario, traces, forecast, best) | {"oracle_s": best_s})
        perfect = [r for r in rows if r["scenario"] == name and r["forecast"] == "perfect"]
        for row in rows:
            if perfect and row["scenario"] == name:
                row["share_of_perfect"] = row["savings_pct"] / perfect[0]["savings_pct"]
    header = ["scenario", "forecast", "savings %", "share", "of perfect", "missed", "sim s"]
    header.append("predict s")
    keys = ["scenario", "forecast", "savings_pct", "share", "share_of_perfect", "missed"]
    keys += ["seconds", "predict_s"]
    print_table(header, [[row[k] for k in keys] for row in rows])
    print_json({"benchmark": "forecaster_sim", "history_days": args.history_days, "rows": rows})
    return 0


def one(
    name: str,
    scenario: Scenario,
    traces: dict[str, IntensityTrace],
    forecast: str,
    best: float,
) -> dict[str, Any]:
    """One simulation of the carbonshift policy with ``forecast``."""
    forecaster = TimedForecaster()
    began = time.perf_counter()
    options = EngineOptions(forecast=parse_forecast(forecast))
    result = simulate(
        scenario, traces, policy("carbonshift"), options=options, forecaster=forecaster
    ).result
    return {
        "scenario": name,
        "forecast": forecast,
        "savings_pct": result["savings_pct"],
        "share": efficiency(result["baseline_emissions_g"], result["emissions_g"], best),
        "share_of_perfect": math.nan,
        "missed": result["missed_deadlines"],
        "seconds": round(time.perf_counter() - began, 1),
        "predict_s": round(forecaster.seconds, 1),
        "predict_calls": forecaster.calls,
    }


def parse() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="lwa-de,alibaba-24h")
    parser.add_argument("--forecasts", default="perfect,model,gauss:0.05")
    parser.add_argument("--history-days", type=int, default=forecast_errors.HISTORY_DAYS)
    parser.add_argument("--limit", type=int, default=0, help="only the first N jobs")
    parser.add_argument("--no-oracle", action="store_true", help="skip the offline optimum")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(main())
