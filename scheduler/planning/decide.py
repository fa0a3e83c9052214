"""From a plan back to one ``Start | Wait | Reject`` per job, each explained in one line.

``plan_tick`` is the whole planning round the service runs: jobs in deadline-safe mode (no
forecast for any of their zones) first take the earliest free GPUs, then the policy plans
the rest into what is left, then every job gets its decision:

* first segment in slot 0 → ``Start`` ("start now in de-1; expected −12 % CO2e vs now; …");
* later → ``Wait`` until that slot ("deferred 5 h to 02:00 UTC in de-1; expected −31 % CO2e
  vs now; latest safe start 04:00 UTC");
* not placed → ``Wait`` one slot while its latest safe start is still ahead (GPUs may free
  up), else ``Reject``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from scheduler.model import Decision, Reject, Start, Wait
from scheduler.planning.build import Built
from scheduler.planning.greedy import construct
from scheduler.planning.problem import Plan, PlanJob, Policy, Segment
from scheduler.planning.run_now import earliest_scores


def plan_tick(policy: Policy, built: Built) -> tuple[Plan, list[Decision]]:
    """Plan one round and decide every job of ``built`` (see the module docstring)."""
    problem = built.problem
    blind = [job for job in problem.jobs if job.id in built.blind]
    free = problem.capacity.astype(np.int64).copy()
    safe, _ = construct(problem, blind, earliest_scores(problem), free)
    rest = replace(
        problem, capacity=free, jobs=[j for j in problem.jobs if j.id not in built.blind]
    )
    planned = policy.plan(rest) if rest.jobs else Plan(placements={})
    placements = {**planned.placements, **safe}
    unplaced = tuple(sorted({*planned.unplaced, *(j.id for j in blind if j.id not in safe)}))
    plan = Plan(
        placements=placements, unplaced=unplaced, mip_gap=planned.mip_gap, notes=planned.notes
    )
    return plan, decide(built, plan)


def decide(built: Built, plan: Plan) -> list[Decision]:
    """One decision per job of ``built``, rejected ones first."""
    decisions: list[Decision] = list(built.rejected)
    for job in built.problem.jobs:
        decisions.append(_one(built, plan, job))
    return decisions


def _kwh(built: Built, job: PlanJob, segs: tuple[Segment, ...]) -> float:
    slot_h = built.problem.slot_s / 3600.0
    kw = job.gpus * job.power_w / 1000.0
    return (
        kw
        * slot_h
        * float(sum(built.problem.intensity[s.region, s.start : s.end].sum() for s in segs))
    )


def _saving_pct(built: Built, job: PlanJob, segs: tuple[Segment, ...]) -> float | None:
    """Expected saving against starting now, contiguously, in the job's first region."""
    if job.id in built.blind:
        return None
    now_segs = (Segment(region=job.home_region, start=0, end=job.duration_slots),)
    baseline = _kwh(built, job, now_segs)
    return None if baseline <= 0 else 100.0 * (1.0 - _kwh(built, job, segs) / baseline)


def _tail(built: Built, job: PlanJob, saving: float | None) -> str:
    latest = built.latest_start[job.id]
    parts = [] if saving is None else [f"expected {_signed(-saving)} % CO2e vs now"]
    if job.id in built.blind:
        zones = ", ".join(sorted(built.missing_zones)) or "its zones"
        parts.append(f"no forecast for {zones}: deadline-safe mode, earliest free GPUs")
    parts.append(f"latest safe start {latest:%H:%M} UTC")
    return "; ".join(parts)


def _signed(value: float) -> str:
    return f"{'−' if round(value) < 0 else '+'}{abs(value):.0f}"


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f}".removesuffix(".0") + " h"


def _one(built: Built, plan: Plan, job: PlanJob) -> Decision:
    problem = built.problem
    segs = plan.placements.get(job.id)
    if not segs:
        return _unplaced(built, job)
    first = min(segs, key=lambda seg: seg.start)
    region = problem.region_names[first.region]
    saving = _saving_pct(built, job, segs)
    tail = _tail(built, job, saving)
    if first.start == 0:
        return Start(
            job_id=job.id,
            region=region,
            power_cap_w=None,
            expected_emissions_g=_kwh(built, job, segs),
            expected_saving_pct=saving,
            explanation=f"start now in {region}; {tail}",
        )
    until = problem.slot_time(first.start)
    delay = _duration((until - built.now).total_seconds())
    return Wait(
        job_id=job.id,
        until=until,
        region=region,
        expected_saving_pct=saving,
        explanation=f"deferred {delay} to {until:%H:%M} UTC in {region}; {tail}",
    )


def _unplaced(built: Built, job: PlanJob) -> Decision:
    problem = built.problem
    names = ", ".join(problem.region_names[r] for r in job.regions)
    latest = built.latest_start[job.id]
    if job.deadline_slot - job.duration_slots <= job.release_slot:
        return Reject(
            job_id=job.id,
            explanation=(
                f"no GPUs free in {names} before its latest safe start "
                f"{latest:%Y-%m-%d %H:%M} UTC; the deadline cannot be met"
            ),
        )
    again = problem.slot_time(1)
    return Wait(
        job_id=job.id,
        until=again,
        region=problem.region_names[job.home_region],
        explanation=(
            f"no GPUs free in {names} for it yet; planned again at {again:%H:%M} UTC; "
            f"latest safe start {latest:%H:%M} UTC"
        ),
    )


__all__ = ["decide", "plan_tick"]
