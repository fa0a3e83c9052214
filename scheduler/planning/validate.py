"""Checking a plan against the rules of ``problem``: every violation, in words.

Policies never return an infeasible plan; tests, benchmarks and the simulator call
``plan_violations`` to prove it.
"""

from __future__ import annotations

import itertools

import numpy as np

from scheduler.planning.problem import Plan, PlanJob, PlanProblem, Segment


def job_violations(problem: PlanProblem, job: PlanJob, segments: tuple[Segment, ...]) -> list[str]:
    """What is wrong with ``segments`` as the placement of ``job`` (empty when nothing)."""
    problems: list[str] = []
    if not segments:
        return [f"{job.id}: placed with no segment"]
    regions = {seg.region for seg in segments}
    if len(regions) != 1 or not regions <= set(job.regions):
        problems.append(f"{job.id}: regions {sorted(regions)} not one of {job.regions}")
    ordered = sorted(segments, key=lambda seg: seg.start)
    for before, after in itertools.pairwise(ordered):
        if after.start <= before.end:
            problems.append(f"{job.id}: segments {before} and {after} touch or overlap")
    if ordered[0].start < job.release_slot or ordered[-1].end > job.deadline_slot:
        problems.append(
            f"{job.id}: runs {ordered[0].start}–{ordered[-1].end} outside its window "
            f"{job.release_slot}–{job.deadline_slot}"
        )
    if any(seg.end <= seg.start for seg in segments):
        problems.append(f"{job.id}: empty segment in {segments}")
    need = job.duration_slots + (len(segments) - 1) * problem.resume_overhead_slots
    got = sum(seg.slots for seg in segments)
    if got != need:
        problems.append(f"{job.id}: runs {got} slots, needs {need}")
    if not job.interruptible and len(segments) > 1:
        problems.append(f"{job.id}: non-interruptible job split into {len(segments)} segments")
    if len(segments) > problem.max_segments:
        problems.append(f"{job.id}: {len(segments)} segments > max {problem.max_segments}")
    return problems


def usage(problem: PlanProblem, plan: Plan) -> np.ndarray:
    """GPUs the plan uses per region and slot."""
    by_id = {job.id: job for job in problem.jobs}
    used = np.zeros_like(problem.capacity, dtype=np.int64)
    for job_id, segments in plan.placements.items():
        for seg in segments:
            used[seg.region, seg.start : seg.end] += by_id[job_id].gpus
    return used


def plan_violations(problem: PlanProblem, plan: Plan) -> list[str]:
    """Every rule ``plan`` breaks: unknown or lost jobs, bad placements, overcommitted slots."""
    by_id = {job.id: job for job in problem.jobs}
    problems = [f"unknown job {job_id}" for job_id in plan.placements if job_id not in by_id]
    accounted = set(plan.placements) | set(plan.unplaced)
    problems += [
        f"{job.id}: neither placed nor unplaced" for job in problem.jobs if job.id not in accounted
    ]
    for job_id, segments in plan.placements.items():
        if job_id in by_id:
            problems += job_violations(problem, by_id[job_id], segments)
    over = np.argwhere(usage(problem, plan) > problem.capacity)
    problems += [
        f"region {r} slot {t}: overcommitted ({problem.capacity[r, t]} GPUs free)"
        for r, t in over[:20]
    ]
    return problems


__all__ = ["job_violations", "plan_violations", "usage"]
