"""What keeping room for an unannounced crunch costs (LWA capacity scenarios, offline LPs).

The 27-GPU rows of ``capacity.py`` miss deadlines online because one week (jobs due Monday
10 February 2020) brought twice the usual late work, and looked ordinary until Thursday. A
planner that cannot tell that week from the others beforehand meets it only by keeping
room for such late work before every Monday deadline. ``scheduler.planning.readiness``
prices that: the capacity-aware LP optimum, with rows that keep room for ``scale`` × the
reference deadline's late work before every deadline a week apart from it (where no plan
can keep it, that deadline is dropped and named). Both LPs know every job and intensity,
so the figure bounds any planner that keeps the room wherever it can; its share of the
optimum's savings is the most such a planner can reach.

Each row solves the plain optimum first (the baseline of the run: for interruptible jobs it
is the oracle's figure, 12.426 % for DE at 27 GPUs) and then the bound with the room kept.
The reference defaults to the deadline with the most work submitted in the four days
before it. Rigid jobs (``--kinds semi-weekly``) use the LP relaxation of their starts
(much slower, and a looser bound).

Usage: .venv/bin/python benchmarks/readiness.py [--zones de,gb,fr] [--caps 0.6,0.75]
       [--kinds semi-weekly-interruptible] [--reference 2020-02-10T09:00:00+00:00]
       [--scales 1.0] [--method highs|highs-ipm] [--time-limit-s S]
The last line is JSON: every row.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from scenario_problem import Scenario, load
from sim_common import LWA, print_json, print_table

from scheduler.planning.bound import build_model, solve_lp
from scheduler.planning.problem import PlanProblem
from scheduler.planning.readiness import late_work, readiness_bound_g

WEEK_S = 7 * 24 * 3600
LOOK_BACK_S = 4 * 24 * 3600


def main() -> None:
    """Parse the options, solve every (zone, capacity, scale), print the table and JSON."""
    args = _parser().parse_args()
    rows: list[dict[str, Any]] = []
    for kind in args.kinds.split(","):
        for zone in args.zones.split(","):
            for cap in args.caps.split(","):
                rows.extend(_rows(args, kind, zone, cap))
    header = ["kind", "zone", "GPUs", "scale", "optimum", "ready", "share", "unready", "s"]
    print_table(header, [[r[h] for h in header] for r in rows])
    print_json({"benchmark": "readiness", "rows": rows})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", default="de,gb,fr", help="LWA zones: de, gb, fr")
    parser.add_argument("--caps", default="0.6,0.75", help="capacity files: 0.6, 0.75, 1.0")
    parser.add_argument("--kinds", default="semi-weekly-interruptible", help="job files")
    parser.add_argument(
        "--reference", type=_utc, help="deadline whose late work to keep room for (ISO, UTC)"
    )
    parser.add_argument("--scales", type=_scales, default="1.0", help="multiples of the late work")
    parser.add_argument("--method", default="highs", help="SciPy linprog method (HiGHS)")
    parser.add_argument("--time-limit-s", type=float, help="HiGHS limit per LP solve")
    return parser


def _rows(args: argparse.Namespace, kind: str, zone: str, cap: str) -> list[dict[str, Any]]:
    scenario = load(
        LWA / f"jobs-{kind}-{zone}.csv",
        [LWA / f"carbon-{zone}.csv"],
        LWA / f"regions-{zone}-cap-{cap}.yaml",
    )
    problem = scenario.problem
    reference = _reference(problem, args.reference)
    began = time.perf_counter()
    optimum = solve_lp(build_model(problem, one_region=False), args.time_limit_s, args.method)[0]
    print(f"{kind} {zone} {cap}: optimum in {time.perf_counter() - began:.0f} s", flush=True)
    late = late_work(problem, reference, WEEK_S // problem.slot_s)
    rows = []
    for scale in args.scales:
        began = time.perf_counter()
        bound = readiness_bound_g(
            problem,
            replace(late, late=late.late * scale),
            time_limit_s=args.time_limit_s,
            method=args.method,
            progress=lambda line, s=scale: print(f"  x{s}: {line}", flush=True),
        )
        saved, ready = _saved(scenario, optimum), _saved(scenario, bound.emissions_g)
        rows.append(
            {
                "kind": kind,
                "zone": zone.upper(),
                "GPUs": int(problem.capacity[:, 0].sum()),
                "reference": _at(problem, reference),
                "scale": scale,
                "optimum": saved,
                "ready": ready,
                "share": 100.0 * ready / saved,
                "deadlines": len(bound.ready) + len(bound.unready),
                "unready": len(bound.unready),
                "unready_at": [_at(problem, d) for d in bound.unready],
                "solves": bound.solves,
                "s": round(time.perf_counter() - began),
            }
        )
    return rows


def _utc(text: str) -> datetime:
    """An aware ISO time (``--reference``)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO time: {err}") from err
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no UTC offset; write it as e.g. 2020-02-10T09:00:00+00:00"
        )
    return when


def _scales(text: str) -> list[float]:
    """Comma-separated multiples of the late work, each at least 0 (``--scales``)."""
    try:
        scales = [float(part) for part in text.split(",")]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--scales {text!r}: {err}; e.g. 0.5,1.0") from err
    if any(scale < 0 for scale in scales):
        raise argparse.ArgumentTypeError(f"--scales {text!r}: each must be at least 0")
    return scales


def _reference(problem: PlanProblem, given: datetime | None) -> int:
    """The given deadline's slot, or the deadline with the most work in its last four days.

    Exits with the scenario's first deadlines when no job is due at ``given``."""
    deadlines = sorted({job.deadline_slot for job in problem.jobs})
    if given is not None:
        slot = round((given - problem.start).total_seconds()) // problem.slot_s
        if slot not in deadlines:
            first = ", ".join(_at(problem, d) for d in deadlines[:4])
            raise SystemExit(f"no job is due at --reference {given.isoformat()}; e.g. {first}")
        return slot
    back = LOOK_BACK_S // problem.slot_s
    work: dict[int, int] = {}
    for job in problem.jobs:
        if job.deadline_slot - job.release_slot <= back:
            work[job.deadline_slot] = work.get(job.deadline_slot, 0) + job.gpus * job.duration_slots
    return max(work, key=lambda d: (work[d], -d))


def _saved(scenario: Scenario, emitted_g: float) -> float:
    return 100.0 * (1.0 - emitted_g / scenario.baseline_g)


def _at(problem: PlanProblem, slot: int) -> str:
    return (problem.start + timedelta(seconds=slot * problem.slot_s)).isoformat()


if __name__ == "__main__":
    main()
