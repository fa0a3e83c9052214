"""Turning HiGHS's variable values back into whole-slot placements.

A non-interruptible job starts where its start indicator jumps; an interruptible job runs in
the region holding most of its work, in the slots with the largest fractions. Jobs are kept
most-certain first while they fit the GPUs still free; a job whose rounding no longer fits is
placed by the greedy at true intensity (moving flexible jobs out of its way if need be).
"""

from __future__ import annotations

import numpy as np

from scheduler.planning.exact import Block, Solution
from scheduler.planning.greedy import Placements, construct, eject_repair
from scheduler.planning.placement import Scores, take
from scheduler.planning.problem import FloatArray, IntArray, PlanJob, PlanProblem, Segment
from scheduler.planning.segments import fit_segments, runs


def _contiguous(block: Block, values: FloatArray) -> tuple[tuple[Segment, ...], float]:
    job = block.job
    c = values[block.offset : block.offset + block.width * len(job.regions)]
    c = c.reshape(len(job.regions), block.width)
    y = np.diff(np.concatenate((np.zeros((len(job.regions), 1)), c), axis=1), axis=1)
    k, s = np.unravel_index(int(np.argmax(y)), y.shape)
    start = job.release_slot + int(s)
    seg = Segment(region=job.regions[int(k)], start=start, end=start + job.duration_slots)
    return (seg,), float(y[k, s])


def _slots(
    problem: PlanProblem, block: Block, values: FloatArray
) -> tuple[tuple[Segment, ...], float]:
    job = block.job
    x = values[block.offset : block.offset + block.width * len(job.regions)]
    x = x.reshape(len(job.regions), block.width)
    k = int(np.argmax(x.sum(axis=1)))
    row = x[k]
    d = job.duration_slots
    chosen = np.argsort(-row, kind="stable")[:d]
    mask = np.zeros(block.width, dtype=bool)
    mask[chosen] = True
    region = job.regions[k]
    if len(runs(mask)) > problem.max_segments or problem.resume_overhead_slots:
        vals = problem.intensity[region, job.release_slot : job.deadline_slot].astype(np.float64)
        fitted = fit_segments(vals, mask, d, problem.resume_overhead_slots, problem.max_segments)
        mask = fitted if fitted is not None else mask
    segs = tuple(
        Segment(region=region, start=job.release_slot + a, end=job.release_slot + b)
        for a, b in runs(mask)
    )
    return segs, float(row[chosen].sum()) / d


def _fits(free: IntArray, gpus: int, segments: tuple[Segment, ...]) -> bool:
    return all(bool((free[s.region, s.start : s.end] >= gpus).all()) for s in segments)


def placements_from(
    problem: PlanProblem, sol: Solution, free: IntArray
) -> tuple[Placements, list[str]]:
    """Whole-slot placements of ``sol``'s jobs within ``free`` (not modified), and misses."""
    ledger = free.copy()
    rounded: list[tuple[float, PlanJob, tuple[Segment, ...]]] = []
    missed: list[str] = []
    for block in sol.blocks:
        if sol.values[block.u] > 0.5:
            missed.append(block.job.id)
            continue
        segs, certainty = (
            _slots(problem, block, sol.values)
            if block.job.interruptible
            else _contiguous(block, sol.values)
        )
        rounded.append((certainty, block.job, segs))
    placed: Placements = {}
    conflicts: list[PlanJob] = []
    for _, job, segs in sorted(rounded, key=lambda item: -item[0]):
        if _fits(ledger, job.gpus, segs) and not _violates(problem, job, segs):
            take(ledger, job.gpus, segs)
            placed[job.id] = segs
        else:
            conflicts.append(job)
    scores = Scores(base=problem.intensity)
    more, left = construct(problem, conflicts, scores, ledger)
    placed.update(more)
    for job in left:
        if not eject_repair(problem, job, placed, scores, ledger):
            missed.append(job.id)
    return placed, missed


def _violates(problem: PlanProblem, job: PlanJob, segs: tuple[Segment, ...]) -> bool:
    need = job.duration_slots + (len(segs) - 1) * problem.resume_overhead_slots
    return sum(s.slots for s in segs) != need or len(segs) > problem.max_segments


__all__ = ["placements_from"]
