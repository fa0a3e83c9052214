"""GPU power capping on the Zeus (NSDI '23) traces, then carbon-aware power capping on DE 2023.

Part 1 — trace figures. For each GPU type and configuration (dataset, network, batch size,
optimizer) the energy per epoch at a limit is ``time_per_epoch × average_power``; the baseline is
the same configuration at its highest limit. A configuration's saving at ≤ X % slowdown is the
largest energy saving among limits whose epoch time is within (1 + X) of the baseline's. The
figure per GPU type is the median over its configurations; it must match the published
8.7 / 11.9 / 9.0 / 7.2 % (≤ 5 %) and 14.1 / 16.5 / 15.0 / 11.5 % (≤ 10 %) for V100 / A40 /
RTX6000 / P100 within ±0.5 pp (the script exits 1 otherwise).

Part 2 — emissions. Every day of 2023 a non-interruptible job with ``--work-h`` hours of work at
full power is submitted at 09:00 UTC with ``--slack-h`` hours of slack (deadline = submit +
work + slack), for each workload curve shipped for the simulated GPUs. Intensity is the DE 2023
hourly LCA series, known in advance (a perfect forecast, the same for every strategy):

* run now: start at submission at full power (the baseline of this run);
* (a) time shifting alone: the best contiguous window at full power;
* (b) time shifting with the energy-optimal fixed cap (least energy per unit of work);
* (c) carbon-aware power capping: the limit per hour chosen with the window
  (``scheduler.planning.power_capping``).

Usage: .venv/bin/python benchmarks/power_caps.py [--work-h 8] [--slack-h 24]
The last line is JSON keyed by GPU type: saving_5pct, saving_10pct, and emissions in kg.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from plugins.power.curves import PowerCurve, shipped_curves
from scheduler.planning.power_capping import PowerCapPlan, PowerLevel, plan_power_caps

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
TRACES = SHARED / "zeus/examples/research_reproducibility/zeus_nsdi23/trace"
DE_2023 = SHARED / "green-dcc/carbon_intensity/DE-LU/2023/DE-LU_2023_hourly.csv"
GPU_FILES = {"V100": "v100", "A40": "a40", "RTX6000": "rtx6000", "P100": "p100"}
PUBLISHED = {
    "V100": (8.7, 14.1),
    "A40": (11.9, 16.5),
    "RTX6000": (9.0, 15.0),
    "P100": (7.2, 11.5),
}
TOLERANCE_PP = 0.5
PERIOD_S = 3600.0
SUBMIT_HOUR = 9
STRATEGIES = ("run_now", "a_time_shift", "b_shift_fixed_cap", "c_carbon_aware_caps")


def trace_savings(path: Path) -> tuple[float, float, int]:
    """Median best saving (%) at ≤5 % and ≤10 % slowdown, and the number of configurations."""
    groups: dict[tuple[str, ...], list[tuple[int, float, float]]] = defaultdict(list)
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            key = (row["dataset"], row["network"], row["batch_size"], row["optimizer"])
            groups[key].append(
                (int(row["power_limit"]), float(row["time_per_epoch"]), float(row["average_power"]))
            )
    savings: dict[float, list[float]] = {0.05: [], 0.10: []}
    for rows in groups.values():
        _limit, base_time, base_power = max(rows)
        base_energy = base_time * base_power
        for slowdown, found in savings.items():
            ok = [t * p for _limit, t, p in rows if t <= base_time * (1 + slowdown)]
            found.append(100 * (1 - min(ok) / base_energy))
    return statistics.median(savings[0.05]), statistics.median(savings[0.10]), len(groups)


def read_intensity(path: Path) -> list[float]:
    """Hourly LCA intensity of 2023, g/kWh, from 2023-01-01 00:00 UTC."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [float(row["Carbon Intensity gCO₂eq/kWh (LCA)"]) for row in csv.DictReader(handle)]


def levels_of(curve: PowerCurve) -> list[PowerLevel]:
    """The curve's measured limits as planner levels."""
    return [
        PowerLevel(
            limit_w=p.limit_w, power_w=p.average_power_w, throughput=curve.throughput(p.limit_w)
        )
        for p in curve.points
    ]


def plan_job(
    levels: list[PowerLevel], strategy: str, intensity: list[float], work_s: float, slack_s: float
) -> PowerCapPlan:
    """One job's plan under ``strategy``; its grid starts at the submission hour."""
    full = [max(levels, key=lambda lv: lv.throughput)]
    deadline = int((work_s + slack_s) // PERIOD_S)
    options = {
        "run_now": (full, -(-int(work_s) // int(PERIOD_S))),  # no room to move: start now
        "a_time_shift": (full, deadline),
        "b_shift_fixed_cap": ([min(levels, key=lambda lv: lv.power_w / lv.throughput)], deadline),
        "c_carbon_aware_caps": (levels, deadline),
    }
    chosen, horizon = options[strategy]
    plan = plan_power_caps(
        levels=chosen,
        work_s=work_s,
        intensity_g_per_kwh=intensity,
        period_s=PERIOD_S,
        deadline_period=horizon,
    )
    if plan is None:
        raise SystemExit(f"{strategy}: a job of {work_s / 3600:g} h does not fit its deadline")
    return plan


def emissions_by_gpu(work_h: float, slack_h: float) -> dict[str, dict[str, float]]:
    """Total kg CO2e per GPU type and strategy over every day of 2023 and every workload."""
    intensity = read_intensity(DE_2023)
    work_s, slack_s = work_h * 3600, slack_h * 3600
    horizon = int((work_s + slack_s) // PERIOD_S) + 1
    totals: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(STRATEGIES, 0.0))
    for (gpu, _workload), curve in sorted(shipped_curves().items()):
        levels = levels_of(curve)
        for day in range(365):
            first = day * 24 + SUBMIT_HOUR
            window = intensity[first : first + horizon]
            if len(window) < horizon:
                continue
            for strategy in STRATEGIES:
                plan = plan_job(levels, strategy, window, work_s, slack_s)
                totals[gpu][strategy] += plan.emissions_g / 1000
    return dict(totals)


def main() -> int:
    """Print both tables; exit 1 if the trace figures are not reproduced."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-h", type=float, default=8.0)
    parser.add_argument("--slack-h", type=float, default=24.0)
    args = parser.parse_args()

    result: dict[str, dict[str, object]] = {}
    failures = []
    print("GPU      configs  ≤5% saving  published   ≤10% saving  published")
    for gpu, stem in GPU_FILES.items():
        s5, s10, count = trace_savings(TRACES / f"summary_power_{stem}.csv")
        p5, p10 = PUBLISHED[gpu]
        print(f"{gpu:8} {count:7}  {s5:9.2f}%  {p5:8.1f}%   {s10:10.2f}%  {p10:8.1f}%")
        if abs(s5 - p5) > TOLERANCE_PP or abs(s10 - p10) > TOLERANCE_PP:
            failures.append(gpu)
        result[gpu] = {"saving_5pct": round(s5, 2), "saving_10pct": round(s10, 2)}

    started = time.perf_counter()
    totals = emissions_by_gpu(args.work_h, args.slack_h)
    elapsed = time.perf_counter() - started
    print(
        f"\nDE 2023, one {args.work_h:g} h job per day and workload at 09:00 UTC, "
        f"{args.slack_h:g} h slack, kg CO2e (saving vs run now) [{elapsed:.1f} s]"
    )
    print("GPU      " + "  ".join(f"{name:>26}" for name in STRATEGIES))
    for gpu, by_strategy in totals.items():
        base = by_strategy["run_now"]
        cells = [f"{kg:12.1f} ({100 * (1 - kg / base):5.1f} %)" for kg in by_strategy.values()]
        print(f"{gpu:8} " + "  ".join(f"{cell:>26}" for cell in cells))
        result[gpu]["emissions_kg"] = {name: round(kg, 2) for name, kg in by_strategy.items()}
        result[gpu]["c_vs_a_pct"] = round(
            100 * (1 - by_strategy["c_carbon_aware_caps"] / by_strategy["a_time_shift"]), 2
        )
    if failures:
        print(f"NOT REPRODUCED within ±{TOLERANCE_PP} pp: {failures}", file=sys.stderr)
    print(json.dumps(result))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
