"""The ``lowest-window`` baseline: each job alone at its cheapest window (Let's Wait Awhile).

Jobs in release order (as they would arrive) each take the cheapest option among the GPUs
still free: the lowest-mean contiguous window, or for interruptible jobs the cheapest set of
slots (Wiesner et al., Middleware '21). Without a capacity limit this is the per-job optimum;
with one it is the job-by-job greedy that misses deadlines when green hours fill up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scheduler.planning.greedy import one_pass
from scheduler.planning.placement import Scores
from scheduler.planning.problem import Plan, PlanProblem


@dataclass(frozen=True, kw_only=True)
class LowestWindowPolicy:
    """Per-job best window, first come first served, ignoring what later jobs need."""

    name: str = field(default="lowest-window", init=False)

    def plan(self, problem: PlanProblem) -> Plan:
        """Cheapest feasible option per job, in release order."""
        order = sorted(problem.jobs, key=lambda j: (j.release_slot, j.id))
        return one_pass(problem, order, Scores(base=problem.intensity))


__all__ = ["LowestWindowPolicy"]
