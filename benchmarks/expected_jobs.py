"""Expected jobs: what planning beside last week's jobs costs a service tick as their number grows.

    .venv/bin/python benchmarks/expected_jobs.py                      # N ∈ {0, 50, 200, 500, 2000}
    .venv/bin/python benchmarks/expected_jobs.py --expected 0,20000 --repeats 1

A service tick hands the planner at most ``service.max_planned_jobs`` (64) queued jobs, so
it takes the exact path; with the arrival reserve (rigid jobs) or the arrival insurance
(interruptible jobs) the exact model also holds every job of last week whose window, a week
on, falls inside the horizon. This benchmark times ``CarbonshiftPolicy().plan`` on one seeded
instance (``--known`` queued jobs, half interruptible, 1–2 of ``--regions`` regions, 15-min
slots over ``--slots``, twice the GPUs the queue needs on average) with N expected jobs of each kind
added. The baseline is the same instance with none, timed in the same run. Reported per N:
the median wall time over ``--repeats``, the ratio to the baseline, and the jobs placed.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
from sim_common import print_json, print_table

from scheduler.planning.carbonshift import CarbonshiftPolicy
from scheduler.planning.problem import PlanJob, PlanProblem


def instance(known: int, regions: int, slots: int, seed: int) -> PlanProblem:
    """The queue: ``known`` jobs released now, 1–15 slots long, 8–64 slots of slack."""
    rng = np.random.default_rng(seed)
    day = 96  # 15-minute slots
    curve = 250 + 120 * np.sin(2 * np.pi * np.arange(slots) / day)
    shift = rng.integers(0, day, size=regions)
    noise = rng.normal(0, 4, (regions, slots))
    intensity = np.stack([np.roll(curve, int(s)) for s in shift]) + noise
    jobs = [
        _job(rng, f"job-{i}", interruptible=i % 2 == 0, regions=regions, slots=slots, release=0)
        for i in range(known)
    ]
    # twice the GPUs the queue needs on average over its windows, per region
    work = sum(j.duration_slots for j in jobs)
    window = float(np.mean([j.deadline_slot for j in jobs]))
    gpus = max(2, int(np.ceil(2 * work / window / regions)))
    return PlanProblem(
        start=datetime(2026, 11, 26, tzinfo=UTC),
        slot_s=900,
        region_names=tuple(f"r{i}" for i in range(regions)),
        intensity=intensity,
        capacity=np.full((regions, slots), gpus, dtype=np.int64),
        jobs=jobs,
    )


def expected(n: int, interruptible: bool, regions: int, slots: int, seed: int) -> list[PlanJob]:
    """``n`` jobs of one kind released in the first half of the horizon."""
    rng = np.random.default_rng(seed + 1)
    release = rng.integers(0, slots // 2, size=n)
    return [
        _job(
            rng,
            f"expected:{i}.0",
            interruptible=interruptible,
            regions=regions,
            slots=slots,
            release=int(r),
        )
        for i, r in enumerate(release)
    ]


def _job(
    rng: np.random.Generator,
    name: str,
    *,
    interruptible: bool,
    regions: int,
    slots: int,
    release: int,
) -> PlanJob:
    duration = int(rng.integers(1, 16))
    deadline = min(slots, release + duration + int(rng.integers(8, 65)))
    allowed = tuple(sorted(rng.choice(regions, size=min(regions, 2), replace=False).tolist()))
    return PlanJob(
        id=name,
        gpus=1,
        duration_slots=min(duration, deadline - release),
        release_slot=release,
        deadline_slot=deadline,
        regions=allowed,
        interruptible=interruptible,
    )


def timed(problem: PlanProblem, repeats: int) -> tuple[float, int]:
    """Median seconds of ``plan`` over ``repeats`` calls, and the jobs placed."""
    policy = CarbonshiftPolicy()
    seconds, placed = [], 0
    for _ in range(repeats):
        began = time.perf_counter()
        plan = policy.plan(problem)
        seconds.append(time.perf_counter() - began)
        placed = len(plan.placements)
    return statistics.median(seconds), placed


def main() -> int:
    """Time the baseline, then each N for both kinds; print the table and JSON."""
    args = parse()
    base = instance(args.known, args.regions, args.slots, args.seed)
    baseline_s, baseline_placed = timed(base, args.repeats)
    rows: list[dict[str, object]] = []
    for kind in ("rigid", "interruptible"):
        for n in (int(v) for v in args.expected.split(",")):
            later = expected(n, kind == "interruptible", args.regions, args.slots, args.seed)
            if n == 0:
                seconds, placed = baseline_s, baseline_placed
            else:
                seconds, placed = timed(replace(base, expected_jobs=tuple(later)), args.repeats)
            rows.append(
                {
                    "expected": kind,
                    "n": n,
                    "median_s": round(seconds, 3),
                    "x_baseline": round(seconds / baseline_s, 2),
                    "placed": f"{placed}/{args.known}",
                }
            )
            print(f"done: {rows[-1]}", file=sys.stderr, flush=True)
    print_table(list(rows[0]), [list(r.values()) for r in rows])
    print_json({"benchmark": "expected_jobs", "baseline_s": round(baseline_s, 3), "rows": rows})
    return 0


def parse() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--known", type=int, default=64, help="queued jobs (a service tick's)")
    parser.add_argument("--expected", default="0,50,200,500,2000", help="comma-separated N")
    parser.add_argument("--regions", type=int, default=2)
    parser.add_argument("--slots", type=int, default=192, help="15-min slots (192: 48 h)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(main())
