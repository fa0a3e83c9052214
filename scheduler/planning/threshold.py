"""The ``threshold`` baseline: run when the grid is cleaner than usual for the next day.

Each job, in release order, in its home region and contiguously, starts at the first slot
whose intensity is at or below the ``percentile`` of the next ``lookahead_h`` hours of
forecast and where its GPUs are free; if no such slot comes before its latest start it runs
at its latest start (or, if that is full, at its earliest free start).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from scheduler.planning.carbon_time import window_costs
from scheduler.planning.placement import take
from scheduler.planning.problem import FloatArray, Plan, PlanProblem, Segment
from scheduler.planning.run_now import at_home


def thresholds(intensity: FloatArray, slots_ahead: int, percentile: float) -> FloatArray:
    """Per region and slot: the ``percentile`` of the intensity over the next slots."""
    width = max(1, min(slots_ahead, intensity.shape[1]))
    padded = np.concatenate((intensity, np.repeat(intensity[:, -1:], width - 1, axis=1)), axis=1)
    windows = sliding_window_view(padded, width, axis=1)
    return np.percentile(windows, percentile, axis=2)


@dataclass(frozen=True, kw_only=True)
class ThresholdPolicy:
    """Start when intensity is below a percentile of the coming day, else wait."""

    name: str = field(default="threshold", init=False)
    percentile: float = 30.0
    lookahead_h: float = 24.0

    def plan(self, problem: PlanProblem) -> Plan:
        """First good-enough slot per job, in release order."""
        ahead = max(1, round(self.lookahead_h * 3600 / problem.slot_s))
        limit = thresholds(problem.intensity, ahead, self.percentile)
        free = problem.capacity.astype(np.int64).copy()
        placed: dict[str, tuple[Segment, ...]] = {}
        missed: list[str] = []
        for job in sorted(problem.jobs, key=lambda j: (j.release_slot, j.id)):
            home = at_home(job)
            _, ok = window_costs(problem, home, free)
            if not ok.any():
                missed.append(job.id)
                continue
            lo, r = job.release_slot, job.home_region
            clean = problem.intensity[r, lo : lo + len(ok)] <= limit[r, lo : lo + len(ok)]
            good = ok & clean
            offset = int(np.argmax(good)) if good.any() else len(ok) - 1
            offset = offset if ok[offset] else int(np.argmax(ok))
            segs = (Segment(region=r, start=lo + offset, end=lo + offset + job.duration_slots),)
            take(free, job.gpus, segs)
            placed[job.id] = segs
        return Plan(placements=placed, unplaced=tuple(sorted(missed)))


__all__ = ["ThresholdPolicy", "thresholds"]
