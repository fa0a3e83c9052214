"""Planning speed: how long one ``carbonshift`` planning call takes as the problem grows.

    .venv/bin/python benchmarks/plan_scale.py --jobs 10000 --regions 16 --slots 192
    .venv/bin/python benchmarks/plan_scale.py --grid          # N ∈ {1k, 10k} × R × T
    .venv/bin/python benchmarks/plan_scale.py --grid-full     # adds N = 100k (~12 s a call)

Instance (seeded): R regions with their own daily intensity curve plus noise; N jobs of
1–16 slots (at most a quarter of the grid), 1 GPU (70 %), 2, 4 or 8 GPUs, half interruptible,
1–4 allowed regions, released in the first half of the grid with a random slack; capacity per
region sized so that the jobs need about half of it. Reported per call (``--repeats``):
p50/p95 wall time, and the peak RSS of the process. Baselines measured in the same run on
the same instance: ``run-now`` and ``lowest-window`` (one greedy pass each), the incremental
re-plan after one arrival (``CarbonshiftPolicy.replan``) with N queued jobs, and, with
``--oracle``, HiGHS (the ``oracle`` policy) under ``--oracle-limit-s``.
The last line is JSON with ``p50_s``, ``p95_s`` and ``peak_rss_mb`` of the largest case.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from scheduler.errors import OracleLimitError
from scheduler.planning.carbonshift import CarbonshiftPolicy
from scheduler.planning.oracle import OraclePolicy
from scheduler.planning.policies import get_policy
from scheduler.planning.problem import Plan, PlanJob, PlanProblem, plan_emissions_g
from scheduler.planning.validate import plan_violations

#: 100,000 jobs take ~12 s per call here (16 regions, 192 slots); ``--grid-full`` adds them
GRID_JOBS = (1_000, 10_000)
FULL_GRID_JOBS = (1_000, 10_000, 100_000)
GRID_REGIONS = (1, 4, 16)
GRID_SLOTS = (96, 192, 672)


def instance(n: int, regions: int, slots: int, seed: int = 0) -> PlanProblem:
    """A seeded random problem (see the module docstring)."""
    rng = np.random.default_rng(seed)
    hours = np.arange(slots) * 0.25
    level = rng.uniform(80, 500, size=(regions, 1))
    daily = np.sin(2 * np.pi * (hours[None, :] / 24.0 + rng.uniform(size=(regions, 1))))
    intensity = np.maximum(5.0, level * (1 + 0.3 * daily) + rng.normal(0, 15, (regions, slots)))
    longest = max(1, min(16, slots // 4))
    duration = rng.integers(1, longest + 1, size=n)
    release = rng.integers(0, slots // 2, size=n)
    deadline = np.minimum(slots, release + duration + rng.integers(0, slots // 2, size=n))
    gpus = rng.choice([1, 2, 4, 8], size=n, p=[0.7, 0.15, 0.1, 0.05])
    jobs = []
    for i in range(n):
        allowed = rng.choice(regions, size=int(rng.integers(1, min(4, regions) + 1)), replace=False)
        jobs.append(
            PlanJob(
                id=f"job-{i}",
                gpus=int(gpus[i]),
                duration_slots=int(duration[i]),
                release_slot=int(release[i]),
                deadline_slot=int(deadline[i]),
                regions=tuple(sorted(int(r) for r in allowed)),
                interruptible=bool(i % 2),
                power_w=300.0,
                home_region=int(allowed[0]),
            )
        )
    demand = float((gpus * duration).sum())
    per_region = int(np.ceil(demand / (regions * slots) / 0.5))
    return PlanProblem(
        start=datetime(2026, 11, 26, tzinfo=UTC),
        slot_s=900,
        region_names=tuple(f"r{i}" for i in range(regions)),
        intensity=intensity,
        capacity=np.full((regions, slots), max(8, per_region), dtype=np.int64),
        jobs=jobs,
    )


def timed(call: Callable[[], Plan], repeats: int) -> tuple[list[float], Plan]:
    """Wall times of ``repeats`` calls, and the last plan."""
    times, plan = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        plan = call()
        times.append(time.perf_counter() - began)
    assert plan is not None
    return times, plan


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def one_arrival(problem: PlanProblem, policy: CarbonshiftPolicy, repeats: int) -> list[float]:
    """Times of ``replan`` after one job arrives in a queue already planned."""
    queued = replace(problem, jobs=list(problem.jobs[:-1]))
    previous = policy.plan(queued)
    return timed(lambda: policy.replan(problem, previous), repeats)[0]


def measure(n: int, regions: int, slots: int, args: argparse.Namespace) -> dict[str, object]:
    """One row of the table."""
    problem = instance(n, regions, slots, args.seed)
    policy = CarbonshiftPolicy()
    cs_times, plan = timed(lambda: policy.plan(problem), args.repeats)
    assert plan_violations(problem, plan) == []
    row: dict[str, object] = {
        "jobs": n,
        "regions": regions,
        "slots": slots,
        "p50_s": statistics.median(cs_times),
        "p95_s": float(np.percentile(cs_times, 95)),
        "unplaced": len(plan.unplaced),
        "emissions_t": plan_emissions_g(problem, plan, problem.jobs) / 1e6,
    }
    for name in ("run-now", "lowest-window"):
        base_times, base_plan = timed(lambda n=name: get_policy(n).plan(problem), 1)
        row[f"{name}_s"] = base_times[0]
        row[f"{name}_unplaced"] = len(base_plan.unplaced)
        row[f"{name}_emissions_t"] = plan_emissions_g(problem, base_plan, problem.jobs) / 1e6
    row["replan_1_arrival_p50_s"] = statistics.median(one_arrival(problem, policy, args.repeats))
    if args.oracle:
        oracle = OraclePolicy(time_limit_s=args.oracle_limit_s)
        began = time.perf_counter()
        try:
            o_plan: Plan | None = oracle.plan(problem)
        except OracleLimitError as err:  # HiGHS found nothing within the limit: say so
            o_plan, row["oracle_error"] = None, str(err)
        row["oracle_s"] = time.perf_counter() - began
        if o_plan is not None:
            row["oracle_emissions_t"] = (o_plan.objective_g or 0.0) / 1e6
            row["oracle_gap"] = o_plan.mip_gap
            row["oracle_unplaced"] = len(o_plan.unplaced)
    row["peak_rss_mb"] = peak_rss_mb()
    return row


def print_table(rows: list[dict[str, object]]) -> None:
    """Human-readable table of every row."""
    keys = list(rows[0])
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()))


def main() -> None:
    """Parse arguments, measure, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--regions", type=int, default=16)
    parser.add_argument("--slots", type=int, default=192)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", action="store_true", help="run the size grid (≤ 10k jobs)")
    parser.add_argument("--grid-full", action="store_true", help="the grid with 100k jobs too")
    parser.add_argument("--oracle", action="store_true", help="also time HiGHS")
    parser.add_argument("--oracle-limit-s", type=float, default=300.0)
    args = parser.parse_args()
    sizes = FULL_GRID_JOBS if args.grid_full else GRID_JOBS
    cases = (
        [(n, r, t) for n in sizes for r in GRID_REGIONS for t in GRID_SLOTS]
        if args.grid or args.grid_full
        else [(args.jobs, args.regions, args.slots)]
    )
    rows = [measure(n, r, t, args) for n, r, t in cases]
    print_table(rows)
    print(json.dumps(rows[-1]))


if __name__ == "__main__":
    main()
