"""Capacity benchmark (../shared/scenarios/lwa-ml-2020): 45 / 34 / 27 GPUs × DE / GB / FR.

For each zone, capacity (1.0 / 0.75 / 0.6 × the run-at-arrival peak of 45 GPUs) and job kind
(interruptible / non-interruptible, semi-weekly deadlines) it simulates:

* ``carbonshift`` (the planner, rolling horizon, jobs revealed at submission);
* a job-by-job greedy (``lowest-window`` by default: each job in its cheapest free window);
* the offline ``oracle`` (every job known, true intensities, same capacities) — the reference;
* with ``--announce-h H``, also the planner told of every job H hours before its submission
  (it still starts no earlier; ``EngineOptions.announce_h``), a what-if: what advance notice
  is worth. Its columns (``announced_pct``, ``announced_missed``) do not count for pass/fail.

Savings are against the run-at-submission baseline of the same run; ``share`` is the planner's
share of the oracle's savings, (baseline − planner) / (baseline − oracle). Targets: share ≥ 97 %,
0 missed deadlines and 0 capacity violations with perfect forecasts; ≥ 90 % with gauss:0.10.

Usage: .venv/bin/python benchmarks/capacity.py [--zones de,gb,fr] [--caps 1.0,0.75,0.6]
       [--kinds semi-weekly-interruptible,semi-weekly] [--forecasts perfect,gauss:0.10]
       [--greedy lowest-window] [--no-oracle] [--arrival-forecast S] [--arrival-reserve S]
       [--arrival-insurance S] [--announce-h H]
The last line is JSON: every row and pass/fail.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from sim_common import (
    LWA,
    Outcome,
    add_arrival_forecast,
    arrival_options,
    efficiency,
    oracle,
    print_json,
    print_table,
    run,
)

from forecasts.traces import read_carbon_csv
from scheduler.simulation.scenario import load_scenario

TARGET = {"perfect": 0.97}
DEFAULT_TARGET = 0.90


def main() -> int:
    """Run the grid; exit 1 when a row misses its target."""
    args = parse()
    records = []
    for zone in args.zones.split(","):
        traces = read_carbon_csv(LWA / f"carbon-{zone}.csv")
        for cap in args.caps.split(","):
            for kind in args.kinds.split(","):
                scenario = load_scenario(
                    LWA / f"jobs-{kind}-{zone}.csv", LWA / f"regions-{zone}-cap-{cap}.yaml"
                )
                best, best_s = (math.nan, 0.0) if args.no_oracle else oracle(scenario, traces)
                greedy = run(scenario, traces, args.greedy)
                for forecast in args.forecasts.split(","):
                    planner = run(
                        scenario, traces, "carbonshift", forecast, **arrival_options(args)
                    )
                    record = row(
                        zone=zone,
                        cap=cap,
                        kind=kind,
                        forecast=forecast,
                        planner=planner,
                        greedy=greedy,
                        best=best,
                        best_s=best_s,
                    )
                    if args.announce_h > 0:
                        told = run(
                            scenario,
                            traces,
                            "carbonshift",
                            forecast,
                            announce_h=args.announce_h,
                            **arrival_options(args),
                        )
                        record |= announced(told, best)
                    records.append(record)
                    print(f"done: {records[-1]}", file=sys.stderr, flush=True)
    print_table(list(records[0]), [list(r.values()) for r in records])
    ok = all(r["pass"] for r in records)
    print_json({"benchmark": "capacity", "rows": records, "pass": ok})
    return 0 if ok else 1


def row(
    *,
    zone: str,
    cap: str,
    kind: str,
    forecast: str,
    planner: Outcome,
    greedy: Outcome,
    best: float,
    best_s: float,
) -> dict[str, Any]:
    """One table row: planner, greedy and oracle figures side by side."""
    base = planner.baseline_g
    share = share_of(planner, best)
    target = TARGET.get(forecast, DEFAULT_TARGET)
    return {
        "zone": zone.upper(),
        "gpus": {"1.0": 45, "0.75": 34, "0.6": 27}.get(cap, cap),
        "jobs": "interruptible" if "interruptible" in kind else "rigid",
        "forecast": forecast,
        "planner_pct": round(planner.savings_pct, 3),
        "oracle_pct": round(100 * (1 - best / base), 3) if base else math.nan,
        "share_pct": round(100 * share, 2),
        "planner_missed": planner.missed,
        "violation": planner.violation or "-",
        "greedy_pct": round(greedy.savings_pct, 3),
        "greedy_missed": greedy.missed,
        "planner_s": round(planner.seconds, 1),
        "plan_p95_ms": round(1000 * planner.plan_p95_s, 2),
        "oracle_s": round(best_s, 1),
        "pass": bool(planner.missed == 0 and not planner.violation and not share < target),
    }


def share_of(outcome: Outcome, best: float) -> float:
    """``outcome``'s share of the oracle's savings (NaN without the oracle)."""
    if math.isnan(best):
        return math.nan
    return efficiency(outcome.baseline_g, outcome.emissions_g, best)


def announced(told: Outcome, best: float) -> dict[str, Any]:
    """The what-if columns: the planner told of every job ``--announce-h`` hours early."""
    share = share_of(told, best)
    return {
        "announced_pct": round(told.savings_pct, 3),
        "announced_share_pct": round(100 * share, 2),
        "announced_missed": told.missed,
    }


def parse() -> argparse.Namespace:
    """Command-line options (defaults: the whole grid)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", default="de,gb,fr")
    parser.add_argument("--caps", default="1.0,0.75,0.6")
    parser.add_argument("--kinds", default="semi-weekly-interruptible,semi-weekly")
    parser.add_argument("--forecasts", default="perfect,gauss:0.10")
    parser.add_argument("--greedy", default="lowest-window", help="the job-by-job baseline")
    parser.add_argument("--no-oracle", action="store_true", help="skip the (slow) oracle")
    parser.add_argument(
        "--announce-h",
        type=float,
        default=0.0,
        help="also replay the planner told of every job this many hours early (a what-if)",
    )
    add_arrival_forecast(parser)
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(main())
