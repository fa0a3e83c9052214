"""The ``run-now`` baseline: carbon-agnostic, first come first served.

Jobs in release order each start at the earliest slot where their home region has their
GPUs free for the whole run (a FIFO queue when the region is full), contiguously, ignoring
intensity. A job that cannot start before its latest start is left unplaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from scheduler.planning.greedy import one_pass
from scheduler.planning.placement import Scores
from scheduler.planning.problem import Plan, PlanJob, PlanProblem


def earliest_scores(problem: PlanProblem) -> Scores:
    """Scores that rank slots by time alone, so every job takes its earliest free slots."""
    slots = np.arange(problem.slots, dtype=np.float64)
    return Scores(base=np.ascontiguousarray(np.broadcast_to(slots, problem.intensity.shape)))


def at_home(job: PlanJob) -> PlanJob:
    """``job`` restricted to its home region, run contiguously."""
    return replace(job, regions=(job.home_region,), interruptible=False)


@dataclass(frozen=True, kw_only=True)
class RunNowPolicy:
    """Start every job as soon as its home region has room."""

    name: str = field(default="run-now", init=False)

    def plan(self, problem: PlanProblem) -> Plan:
        """Earliest feasible start in the home region, in release order."""
        order = sorted(problem.jobs, key=lambda j: (j.release_slot, j.id))
        return one_pass(problem, [at_home(j) for j in order], earliest_scores(problem))


__all__ = ["RunNowPolicy", "at_home", "earliest_scores"]
