"""Exact re-optimisation of one time window at a time (large-neighbourhood search).

The jobs whose whole window lies inside ``[a, b)`` are taken out of the plan and placed again
by HiGHS (``exact.solve``) into the GPUs the other jobs leave free; the new placement is kept
when it leaves fewer jobs out or emits less. Used by ``carbonshift`` to make room for jobs
the greedy could not place (a job-by-job order can paint itself into a corner that only a
joint move gets out of) and to polish the greedy plan. A job whose window spans the whole
horizon fits no such window; ``rivals`` and ``replace_jobs`` re-place it together with the
jobs competing for its regions instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scheduler.planning.exact import Window, solve
from scheduler.planning.extract import placements_from
from scheduler.planning.greedy import Placements, segments_score
from scheduler.planning.placement import give, take
from scheduler.planning.problem import IntArray, PlanJob, PlanProblem


def model_size(jobs: Sequence[PlanJob]) -> int:
    """Number of HiGHS variables ``jobs`` need."""
    return sum(
        (j.deadline_slot - j.release_slot - (0 if j.interruptible else j.duration_slots - 1))
        * len(j.regions)
        for j in jobs
    )


def _cost(problem: PlanProblem, jobs: Sequence[PlanJob], placed: Placements) -> float:
    return sum(
        j.gpus * j.power_w * segments_score(problem.intensity, placed[j.id])
        for j in jobs
        if j.id in placed
    )


def reoptimise(
    problem: PlanProblem,
    placed: Placements,
    free: IntArray,
    span: tuple[int, int],
    *,
    max_vars: int,
    time_limit_s: float | None,
) -> bool:
    """Re-place the jobs inside ``span`` exactly; True if the plan improved (in place)."""
    a, b = span
    inside = [j for j in problem.jobs if a <= j.release_slot and j.deadline_slot <= b]
    return replace_jobs(
        problem, placed, free, inside, span=span, max_vars=max_vars, time_limit_s=time_limit_s
    )


def rivals(problem: PlanProblem, job: PlanJob, placed: Placements) -> list[PlanJob]:
    """``job`` and the jobs it competes with for its regions: those allowed only there and
    those placed there. Re-placing them together can make room that no time window can, when
    ``job``'s window spans the whole horizon (a month-long interruptible job)."""
    regions = set(job.regions)
    return [
        j
        for j in problem.jobs
        if j.id == job.id
        or set(j.regions) <= regions
        or any(seg.region in regions for seg in placed.get(j.id, ()))
    ]


def replace_jobs(
    problem: PlanProblem,
    placed: Placements,
    free: IntArray,
    jobs: Sequence[PlanJob],
    *,
    span: tuple[int, int] | None = None,
    max_vars: int,
    time_limit_s: float | None,
) -> bool:
    """Re-place ``jobs`` exactly in the GPUs the others leave free, within ``span`` (default:
    their windows); True if that leaves fewer of them out or emits less (then in place)."""
    if not jobs or model_size(jobs) > max_vars:
        return False
    a, b = span or (min(j.release_slot for j in jobs), max(j.deadline_slot for j in jobs))
    before_missed = sum(1 for j in jobs if j.id not in placed)
    before_cost = _cost(problem, jobs, placed)
    ledger = free.copy()
    for j in jobs:
        if j.id in placed:
            give(ledger, j.gpus, placed[j.id])
    window = Window(
        t0=a,
        t1=b,
        intensity=problem.intensity,
        capacity=ledger[:, a:b],
        slot_h=problem.slot_s / 3600.0,
    )
    try:
        sol = solve(jobs, window, time_limit_s)
    except RuntimeError:
        return False
    chosen, missed = placements_from(problem, sol, ledger)
    after_cost = _cost(problem, jobs, chosen)
    if (len(missed), after_cost) >= (before_missed, before_cost - 1e-9 * abs(before_cost)):
        return False
    for j in jobs:
        if j.id in placed:
            give(free, j.gpus, placed.pop(j.id))
    gpus = {j.id: j.gpus for j in jobs}
    for job_id, segs in chosen.items():
        take(free, gpus[job_id], segs)
    placed.update(chosen)
    return True


def spans_around(job: PlanJob, horizon: int, widths: Sequence[int]) -> list[tuple[int, int]]:
    """Windows centred on ``job``'s, ``width`` slots wider on each side."""
    return [(max(0, job.release_slot - w), min(horizon, job.deadline_slot + w)) for w in widths]


def sliding_spans(problem: PlanProblem, width: int) -> list[tuple[int, int]]:
    """Half-overlapping windows of ``width`` slots over the jobs' range."""
    if not problem.jobs:
        return []
    lo = min(j.release_slot for j in problem.jobs)
    hi = max(j.deadline_slot for j in problem.jobs)
    step = max(1, width // 2)
    return [(a, min(hi, a + width)) for a in range(lo, max(lo + 1, hi - step), step)]


def default_width(problem: PlanProblem) -> int:
    """Twice the longest job window: each job fits whole in at least one sliding span."""
    longest = max((j.deadline_slot - j.release_slot for j in problem.jobs), default=1)
    return int(np.clip(2 * longest, 2, problem.slots))


__all__ = [
    "default_width",
    "model_size",
    "reoptimise",
    "replace_jobs",
    "rivals",
    "sliding_spans",
    "spans_around",
]
