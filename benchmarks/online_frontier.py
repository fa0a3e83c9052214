"""Online frontier: how many deadlines deferring costs on a tight LWA replay, and what is possible.

The capacity benchmark's hardest rows (27 GPUs, interruptible jobs) are missed by every online
variant of the planner that saves carbon. This benchmark replays one zone / capacity / job kind
with policies from "never defer" to "defer as the planner likes" and prints savings and missed
deadlines side by side, so the trade-off is measured rather than guessed:

* ``run-now``: the carbon-agnostic baseline (FIFO, contiguous, home region);
* ``edf``: earliest deadline first, each job in its earliest free slots (one greedy pass);
* ``asap``: the carbonshift planner with intensity replaced by a ramp in time, i.e. as soon as
  possible with the planner's own packing (and its fewest-left-out MILP);
* ``carbonshift``: the planner as configured by default (with the arrival reserve);
* ``lateness:X``: the planner without the arrival reserve, ``busy_lateness_cost`` X;
* ``hold:S``: the planner without the reserve, with the arrival forecast at scale S (rigid
  arrivals only, as shipped; ``carbonshift simulate --arrival-forecast S``);
* ``insure:S``: the planner with the reserve and the arrival insurance at scale S (last
  week's interruptible jobs planned beside the queue; ``--arrival-insurance S``).

Usage: .venv/bin/python benchmarks/online_frontier.py [--zone de] [--cap 0.6]
       [--kind semi-weekly-interruptible] [--variants run-now,edf,asap,carbonshift,lateness:2]
The last line is JSON. Full-year replays take 1–20 min each on 2 cores (``hold`` the longest).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field, replace

import numpy as np
from sim_common import LWA, print_json, print_table

from forecasts.traces import read_carbon_csv
from scheduler.planning.greedy import one_pass
from scheduler.planning.policies import get_policy
from scheduler.planning.problem import Plan, PlanProblem, Policy
from scheduler.planning.run_now import earliest_scores
from scheduler.simulation.engine import EngineOptions
from scheduler.simulation.runner import simulate
from scheduler.simulation.scenario import load_scenario


@dataclass(frozen=True, kw_only=True)
class EarliestDeadlineFirst:
    """Jobs by deadline, each in its earliest free slots (interruptible ones in pieces)."""

    name: str = field(default="edf", init=False)

    def plan(self, problem: PlanProblem) -> Plan:
        """One greedy pass in deadline order."""
        order = sorted(problem.jobs, key=lambda j: (j.deadline_slot, j.id))
        return one_pass(problem, order, earliest_scores(problem))


@dataclass(frozen=True, kw_only=True)
class AsSoonAsPossible:
    """The carbonshift planner minimising time instead of carbon (an intensity ramp)."""

    name: str = field(default="asap", init=False)
    planner: Policy = field(default_factory=lambda: get_policy("carbonshift"))

    def plan(self, problem: PlanProblem) -> Plan:
        """Plan with intensity 100 + slot index in every region."""
        ramp = 100.0 + np.arange(problem.slots, dtype=np.float64)
        shaped = np.ascontiguousarray(np.broadcast_to(ramp, problem.intensity.shape))
        return self.planner.plan(replace(problem, intensity=shaped))


def variant(name: str) -> tuple[Policy, EngineOptions]:
    """The policy and engine options of one variant name (only ``carbonshift`` keeps the
    default arrival reserve: the others are the knobs it replaced, measured without it)."""
    kind, _, value = name.partition(":")
    bare = EngineOptions(arrival_reserve=0.0)
    if kind == "edf":
        return EarliestDeadlineFirst(), bare
    if kind == "asap":
        return AsSoonAsPossible(), bare
    if kind == "lateness":
        return get_policy("carbonshift", busy_lateness_cost=float(value)), bare
    if kind == "hold":
        return get_policy("carbonshift"), replace(bare, arrival_forecast=float(value))
    if kind == "insure":
        return get_policy("carbonshift"), EngineOptions(arrival_insurance=float(value))
    return get_policy(kind), EngineOptions()


def main() -> int:
    """Replay every variant; print the table and the JSON line."""
    args = parse()
    traces = read_carbon_csv(LWA / f"carbon-{args.zone}.csv")
    scenario = load_scenario(
        LWA / f"jobs-{args.kind}-{args.zone}.csv", LWA / f"regions-{args.zone}-cap-{args.cap}.yaml"
    )
    rows = []
    for name in args.variants.split(","):
        policy, options = variant(name)
        began = time.perf_counter()
        result = simulate(scenario, traces, policy, options=options).result
        rows.append(
            {
                "variant": name,
                "savings_pct": round(result["savings_pct"], 3),
                "missed": result["missed_deadlines"],
                "seconds": round(time.perf_counter() - began, 1),
            }
        )
        print(f"done: {rows[-1]}", file=sys.stderr, flush=True)
    print_table(list(rows[0]), [list(r.values()) for r in rows])
    print_json(
        {
            "benchmark": "online_frontier",
            "zone": args.zone.upper(),
            "cap": args.cap,
            "kind": args.kind,
            "rows": rows,
        }
    )
    return 0


def parse() -> argparse.Namespace:
    """Command-line options (defaults: DE, 27 GPUs, interruptible jobs)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zone", default="de")
    parser.add_argument("--cap", default="0.6", help="capacity file: 1.0, 0.75 or 0.6")
    parser.add_argument("--kind", default="semi-weekly-interruptible")
    parser.add_argument(
        "--variants",
        default="run-now,edf,asap,carbonshift,lateness:2,lateness:4",
        help="comma-separated: run-now, edf, asap, carbonshift, lateness:X, hold:S, "
        "insure:S, or any policy name",
    )
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(main())
