"""Offline planning quality: each policy's plan of a whole scenario against the oracle's.

    .venv/bin/python benchmarks/offline_quality.py                       # LWA capacity, DE
    .venv/bin/python benchmarks/offline_quality.py --zones de gb fr --kinds semi-weekly

One ``PlanProblem`` per scenario with every job known and a perfect forecast (the offline
view; ``carbonshift simulate`` gives the rolling, online figures). For each policy: savings
against running every job at submission in its home zone, the share of the oracle's savings
it reaches (``efficiency``), jobs left unplaced and plan time. carbonshift runs without its
load-driven lateness cost, which keeps room for jobs not yet submitted (there are none here).
The oracle (HiGHS) is solved in the same run; its proven lower bound is printed beside it.
Last line: JSON of every row.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scenario_problem import Scenario, load  # noqa: E402  (after the path set-up)

from scheduler.planning.policies import get_policy  # noqa: E402
from scheduler.planning.problem import Plan, plan_emissions_g  # noqa: E402
from scheduler.planning.validate import plan_violations  # noqa: E402

LWA = REPO.parent / "shared" / "scenarios" / "lwa-ml-2020"


def savings_pct(scenario: Scenario, emissions_g: float) -> float:
    """Savings against the run-at-submission baseline, percent."""
    return 100.0 * (1.0 - emissions_g / scenario.baseline_g)


def run_policy(scenario: Scenario, name: str, options: dict[str, object]) -> tuple[Plan, float]:
    """The policy's plan and its wall time; fails loudly on an infeasible plan."""
    began = time.perf_counter()
    plan = get_policy(name, **options).plan(scenario.problem)
    elapsed = time.perf_counter() - began
    problems = plan_violations(scenario.problem, plan)
    if problems:
        raise SystemExit(f"{name} returned an infeasible plan: {problems[:3]}")
    return plan, elapsed


def rows_for(kind: str, zone: str, cap: str, args: argparse.Namespace) -> list[dict[str, object]]:
    """Every policy on one scenario, oracle first."""
    scenario = load(
        LWA / f"jobs-{kind}-{zone}.csv",
        [LWA / f"carbon-{zone}.csv"],
        LWA / f"regions-{zone}-cap-{cap}.yaml",
    )
    oracle, oracle_s = run_policy(scenario, "oracle", {"time_limit_s": args.oracle_limit_s})
    best = savings_pct(scenario, plan_emissions_g(scenario.problem, oracle, scenario.problem.jobs))
    bound = savings_pct(scenario, oracle.bound_g or 0.0)
    rows: list[dict[str, object]] = []
    for name in ["oracle", *args.policies]:
        # every job is known: no room to keep for arrivals, so no load-driven lateness cost
        options = (
            {"polish_budget_s": args.polish_s, "busy_lateness_cost": 0.0}
            if name == "carbonshift"
            else {}
        )
        plan, seconds = (
            (oracle, oracle_s) if name == "oracle" else run_policy(scenario, name, options)
        )
        saved = savings_pct(
            scenario, plan_emissions_g(scenario.problem, plan, scenario.problem.jobs)
        )
        rows.append(
            {
                "scenario": f"{kind}-{zone}-cap-{cap}",
                "policy": name,
                "savings_pct": saved,
                "efficiency": saved / best if best else None,
                "unplaced": len(plan.unplaced),
                "plan_s": seconds,
                "oracle_bound_pct": bound,
                "oracle_gap": oracle.mip_gap,
            }
        )
    return rows


def main() -> None:
    """Parse arguments, run every scenario, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=["semi-weekly-interruptible"])
    parser.add_argument("--zones", nargs="+", default=["de"])
    parser.add_argument("--caps", nargs="+", default=["1.0", "0.75", "0.6"])
    parser.add_argument("--policies", nargs="+", default=["carbonshift", "lowest-window"])
    parser.add_argument("--oracle-limit-s", type=float, default=600.0)
    parser.add_argument(
        "--polish-s",
        type=float,
        default=None,
        help="carbonshift's polish_budget_s (default: no limit, polish every window)",
    )
    args = parser.parse_args()
    rows = [
        row
        for kind in args.kinds
        for zone in args.zones
        for cap in args.caps
        for row in rows_for(kind, zone, cap, args)
    ]
    print("scenario | policy | savings % | of oracle | unplaced | plan s")
    for r in rows:
        eff = "" if r["efficiency"] is None else f"{100 * float(r['efficiency']):.2f} %"  # type: ignore[arg-type]
        print(
            f"{r['scenario']} | {r['policy']} | {r['savings_pct']:.3f} | {eff} | "
            f"{r['unplaced']} | {r['plan_s']:.1f}"
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
