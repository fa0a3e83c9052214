"""The planning problem on a slot grid, and the plan a policy returns.

Time is discretised here only: slot ``t`` covers ``[start + t·slot_s, start + (t+1)·slot_s)``.
Slot 0 is "now" (the current slot). Region-level arrays are indexed ``[region, slot]``.

Conventions every policy follows:

* a job may occupy slots ``release_slot ≤ t < deadline_slot`` only, in one of its
  ``regions``;
* a non-interruptible job occupies one contiguous run of ``duration_slots`` slots in one
  region; an interruptible job occupies ``duration_slots`` slots in total (plus
  ``resume_overhead_slots`` for every segment after the first), in at most ``max_segments``
  segments, all in one region;
* in every region and slot, the GPUs of the jobs placed there never exceed ``capacity``;
* a job that cannot be placed feasibly is left out of ``Plan.placements`` and listed in
  ``Plan.unplaced``; policies never return an infeasible placement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanJob:
    """One job as the planner sees it, in slots."""

    id: str
    gpus: int
    duration_slots: int
    release_slot: int
    deadline_slot: int
    regions: tuple[int, ...]
    interruptible: bool = False
    power_w: float = 300.0
    home_region: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class Segment:
    """A contiguous run of a job in one region: slots ``start ≤ t < end``."""

    region: int
    start: int
    end: int

    @property
    def slots(self) -> int:
        """Number of slots the segment occupies."""
        return self.end - self.start


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanProblem:
    """Everything a policy may look at. Pure data; a policy never does I/O."""

    start: datetime
    slot_s: int
    region_names: tuple[str, ...]
    #: grams CO2e per kWh drawn at the plug, per region and slot (zone intensity × PUE)
    intensity: FloatArray
    #: GPUs free for the jobs below, per region and slot (running jobs already subtracted)
    capacity: IntArray
    jobs: Sequence[PlanJob]
    resume_overhead_slots: int = 0
    max_segments: int = 8
    #: GPUs per region and slot that jobs not yet submitted are expected to need (an arrival
    #: forecast, ``arrivals.last_period_use``); a policy may keep them free. None: no forecast
    expected_use: IntArray | None = None
    #: GPUs per region and slot that jobs not yet submitted are expected to want, spread over
    #: their windows (``arrivals.last_period_demand``); a policy may keep them as a priced,
    #: soft reserve. None: no such forecast
    expected_demand: IntArray | None = None
    #: work submitted in the last two days over the same two days a week before
    #: (``arrivals.submission_surge``; above 1 a crunch may be coming). None: not known
    arrival_surge: float | None = None
    #: last week's submitted GPU-slots over the GPU-slots the regions offer in a week
    #: (``arrivals.last_period_load``). None: not known
    arrival_load: float | None = None
    #: jobs expected to be submitted later (``arrivals.last_period_jobs``): an exact policy
    #: may plan them beside the known jobs, so that known jobs leave them room, and then drop
    #: their placements. Empty: no such forecast
    expected_jobs: Sequence[PlanJob] = ()

    @property
    def slots(self) -> int:
        """Length of the grid."""
        return int(self.intensity.shape[1])

    def slot_time(self, slot: int) -> datetime:
        """Start time of ``slot``."""
        return self.start + timedelta(seconds=self.slot_s * slot)


@dataclass(frozen=True, kw_only=True)
class Plan:
    """A policy's answer: where and when each placed job runs."""

    placements: Mapping[str, tuple[Segment, ...]]
    unplaced: tuple[str, ...] = ()
    #: optimality gap reported by an exact solver that stopped early, else None
    mip_gap: float | None = None
    notes: Mapping[str, str] = field(default_factory=dict)
    #: exact solvers only: grams CO2e of the solver's own solution (the LP value for relaxed
    #: interruptible jobs, which ``placements`` may exceed slightly after rounding)
    objective_g: float | None = None
    #: exact solvers only: proven lower bound on the grams CO2e of any feasible plan
    bound_g: float | None = None


class Policy(Protocol):
    """A planning policy, chosen by name (``carbonshift``, ``run-now``, ``oracle``, …)."""

    @property
    def name(self) -> str:
        """The name the policy is chosen by (read-only, so frozen dataclasses qualify)."""
        ...

    def plan(self, problem: PlanProblem) -> Plan:
        """Place every job it can. Never overcommits capacity, never breaks a deadline."""
        ...


def plan_emissions_g(problem: PlanProblem, plan: Plan, jobs: Sequence[PlanJob]) -> float:
    """Expected grams CO2e of ``plan`` under ``problem.intensity`` (for comparisons)."""
    by_id = {job.id: job for job in jobs}
    hours = problem.slot_s / 3600.0
    total = 0.0
    for job_id, segments in plan.placements.items():
        job = by_id[job_id]
        kw = job.gpus * job.power_w / 1000.0
        for seg in segments:
            total += kw * hours * float(problem.intensity[seg.region, seg.start : seg.end].sum())
    return total


__all__ = [
    "FloatArray",
    "IntArray",
    "Plan",
    "PlanJob",
    "PlanProblem",
    "Policy",
    "Segment",
    "plan_emissions_g",
]
