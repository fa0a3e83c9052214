"""Job-by-job placement against a capacity ledger, and the moves that improve it.

``construct`` places jobs in a given order, each at its best option among the GPUs still
free. ``reinsert`` is the local search: take one job out, put it back at its best option
given everyone else, keep the move if it is cheaper. Both keep the ledger exact, so no plan
built here can overcommit a region.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from scheduler.planning.placement import Option, Scores, give, place, take
from scheduler.planning.problem import IntArray, PlanJob, PlanProblem, Segment

Placements = dict[str, tuple[Segment, ...]]


def construct(
    problem: PlanProblem, order: Iterable[PlanJob], scores: Scores, free: IntArray
) -> tuple[Placements, list[PlanJob]]:
    """Place ``order`` one job at a time into ``free`` (updated in place)."""
    placed: Placements = {}
    missed: list[PlanJob] = []
    for job in order:
        option = _place(problem, job, free, scores)
        if option is None:
            missed.append(job)
            continue
        take(free, job.gpus, option.segments)
        placed[job.id] = option.segments
    return placed, missed


def _place(problem: PlanProblem, job: PlanJob, free: IntArray, scores: Scores) -> Option | None:
    return place(
        job,
        free,
        scores,
        overhead_slots=problem.resume_overhead_slots,
        max_segments=problem.max_segments,
    )


def segments_score(base: np.ndarray, segments: tuple[Segment, ...]) -> float:
    """Sum of ``base`` over ``segments``."""
    return float(sum(base[seg.region, seg.start : seg.end].sum() for seg in segments))


def reinsert(
    problem: PlanProblem,
    jobs: Sequence[PlanJob],
    placed: Placements,
    scores: Scores,
    free: IntArray,
) -> float:
    """One pass of take-out-and-put-back over ``jobs``; returns the score saved."""
    saved = 0.0
    for job in jobs:
        current = placed.get(job.id)
        if current is None:
            continue
        give(free, job.gpus, current)
        option = _place(problem, job, free, scores)
        now_score = segments_score(scores.base, current)
        if option is not None and option.score < now_score - 1e-9 * (1.0 + abs(now_score)):
            placed[job.id] = option.segments
            saved += now_score - option.score
            take(free, job.gpus, option.segments)
        else:
            take(free, job.gpus, current)
    return saved


def _overlaps(segments: tuple[Segment, ...], job: PlanJob) -> bool:
    """True if ``segments`` (sorted, all in one region) touch ``job``'s window and regions."""
    return (
        segments[0].start < job.deadline_slot
        and segments[-1].end > job.release_slot
        and segments[0].region in job.regions
    )


def eject_repair(
    problem: PlanProblem,
    job: PlanJob,
    placed: Placements,
    scores: Scores,
    free: IntArray,
    *,
    sizes: Sequence[int] = (2, 8, 32, 128),
) -> bool:
    """Make room for ``job`` by moving the most flexible jobs in its way; True if placed.

    The ``k`` jobs with the most slack that overlap ``job``'s window are taken out, ``job`` is
    placed, and they are put back tightest first. If any of them no longer fits, every change
    is undone and a larger ``k`` is tried.
    """
    by_id = {j.id: j for j in problem.jobs}
    blockers = [by_id[i] for i, segs in placed.items() if _overlaps(segs, job)]
    blockers.sort(key=lambda j: (j.duration_slots - (j.deadline_slot - j.release_slot), j.id))
    for size in sizes:
        moved = blockers[:size]
        if _try_eject(problem, job, moved, placed=placed, scores=scores, free=free):
            return True
        if size >= len(blockers):
            break
    return False


def _try_eject(
    problem: PlanProblem,
    job: PlanJob,
    moved: Sequence[PlanJob],
    *,
    placed: Placements,
    scores: Scores,
    free: IntArray,
) -> bool:
    saved = {other.id: placed.pop(other.id) for other in moved}
    for other in moved:
        give(free, other.gpus, saved[other.id])
    order = [job, *sorted(moved, key=lambda j: (j.deadline_slot - j.duration_slots, j.id))]
    trial, missed = construct(problem, order, scores, free)
    if not missed:
        placed.update(trial)
        return True
    gpus = {j.id: j.gpus for j in (job, *moved)}
    for job_id, segs in trial.items():
        give(free, gpus[job_id], segs)
    for other in moved:
        take(free, other.gpus, saved[other.id])
    placed.update(saved)
    return False


__all__ = ["Placements", "construct", "eject_repair", "reinsert", "segments_score"]
