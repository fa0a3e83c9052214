"""The ``carbon-time`` baseline: GAIA's Carbon-Time (Hanafy et al., ASPLOS '24).

Each job, in release order, in its home region and contiguously, starts at the slot that
maximises the carbon saved against starting at release per unit of completion time
(``saving(s) / (s − release + duration)``); with nothing to save it starts as early as its
region has room. Capacity is respected: only starts where the GPUs are free are considered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scheduler.planning.placement import take
from scheduler.planning.problem import IntArray, Plan, PlanJob, PlanProblem, Segment
from scheduler.planning.run_now import at_home


def window_costs(
    problem: PlanProblem, job: PlanJob, free: IntArray
) -> tuple[np.ndarray, np.ndarray]:
    """Cost of every start in the home region, and whether the GPUs are free for it."""
    lo, hi, d, r = job.release_slot, job.deadline_slot, job.duration_slots, job.home_region
    n = max(0, hi - lo - d + 1)
    csum = np.concatenate(([0.0], np.cumsum(problem.intensity[r, lo:hi])))
    blocked = np.concatenate(([0], np.cumsum(free[r, lo:hi] < job.gpus)))
    return csum[d : d + n] - csum[:n], (blocked[d : d + n] - blocked[:n]) == 0


def best_start(costs: np.ndarray, ok: np.ndarray, duration: int) -> int | None:
    """Offset of the start with the most saving per hour of completion time."""
    if not ok.any():
        return None
    waits = np.arange(len(costs))
    rate = np.where(ok, (costs[0] - costs) / (waits + duration), -np.inf)
    best = int(np.argmax(rate))
    return best if rate[best] > 0 else int(np.argmax(ok))


@dataclass(frozen=True, kw_only=True)
class CarbonTimePolicy:
    """Maximise carbon saved per unit of completion time, job by job."""

    name: str = field(default="carbon-time", init=False)

    def plan(self, problem: PlanProblem) -> Plan:
        """Place each job at its best Carbon-Time start, in release order."""
        free = problem.capacity.astype(np.int64).copy()
        placed: dict[str, tuple[Segment, ...]] = {}
        missed: list[str] = []
        for job in sorted(problem.jobs, key=lambda j: (j.release_slot, j.id)):
            home = at_home(job)
            costs, ok = window_costs(problem, home, free)
            offset = best_start(costs, ok, home.duration_slots)
            if offset is None:
                missed.append(job.id)
                continue
            start = job.release_slot + offset
            segs = (Segment(region=job.home_region, start=start, end=start + job.duration_slots),)
            take(free, job.gpus, segs)
            placed[job.id] = segs
        return Plan(placements=placed, unplaced=tuple(sorted(missed)))


__all__ = ["CarbonTimePolicy", "best_start", "window_costs"]
