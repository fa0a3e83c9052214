"""From stored jobs to decisions: the service's bridge to the planner.

``decide`` builds a ``PlanProblem`` on the slot grid (slot 0 is the current slot), asks the
policy for a plan and turns each job's placement into a ``Start`` (its first segment is in
slot 0), a ``Wait`` (it starts later) or a ``Reject`` (its latest safe start has passed, so
its deadline can no longer be met with the safety margin).

Capacity: slot 0 gets the GPUs each cluster reports free; later slots get the cluster's
total minus carbonshift's own running attempts until their expected end.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np

from scheduler.budgets import BudgetVerdict, Restricted, rejection
from scheduler.model import (
    ClusterCapacity,
    Decision,
    Forecast,
    Job,
    Region,
    Reject,
    Start,
    Wait,
)
from scheduler.planning.problem import Plan, PlanJob, PlanProblem, Policy

#: A tie-breaker added per slot of delay, far below any real intensity difference.
EARLINESS_G_PER_KWH_PER_SLOT = 1e-3


@dataclass(frozen=True, kw_only=True)
class PlanningConfig:
    """The planner settings the service uses."""

    slot_s: int = 900
    horizon_s: int = 48 * 3600
    safety_margin: float = 0.1
    max_segments: int = 8
    resume_overhead_s: int = 0
    default_power_w: float = 300.0
    #: most jobs handed to the planner per tick (the most urgent; see ``most_urgent``)
    max_planned_jobs: int = 64


@dataclass(frozen=True, kw_only=True)
class RunningLoad:
    """GPUs that carbonshift's own running attempt holds in a region until ``until``."""

    region: str
    gpus: int
    until: datetime


def grid_start(now: datetime, slot_s: int) -> datetime:
    """Start of the slot containing ``now``."""
    epoch_s = now.timestamp()
    return datetime.fromtimestamp(epoch_s - epoch_s % slot_s, tz=now.tzinfo)


def _slot(at: datetime, start: datetime, slot_s: int) -> float:
    return (at - start).total_seconds() / slot_s


def intensity_row(
    forecast: Forecast | None, start: datetime, slot_s: int, slots: int
) -> list[float]:
    """The forecast sampled at each slot start (held past its end; flat 0 when missing)."""
    if forecast is None or not forecast.points:
        return [0.0] * slots
    values = [point.g_per_kwh for point in forecast.points]
    first = forecast.points[0].start
    row = []
    for t in range(slots):
        index = math.floor(_slot(start + timedelta(seconds=t * slot_s), first, forecast.step_s))
        row.append(values[min(max(index, 0), len(values) - 1)])
    return row


def allowed_regions(job: Job, regions: Sequence[Region], default_zone: str) -> tuple[int, ...]:
    """Indexes of the regions in the job's zones (no zones: the default zone, else all)."""
    zones = set(job.spec.zones or (default_zone,))
    allowed = tuple(i for i, region in enumerate(regions) if region.zone in zones)
    if not allowed and not job.spec.zones:
        return tuple(range(len(regions)))
    return allowed


def plan_job(
    job: Job, start: datetime, config: PlanningConfig, allowed: tuple[int, ...]
) -> PlanJob:
    """``job`` on the grid: its window closes at the latest safe start plus its duration."""
    spec = job.spec
    duration_slots = max(1, math.ceil(spec.estimated_duration_s / config.slot_s))
    latest = _slot(spec.latest_safe_start(config.safety_margin), start, config.slot_s)
    release = 0
    if spec.earliest_start is not None:
        release = max(0, math.ceil(_slot(spec.earliest_start, start, config.slot_s)))
    return PlanJob(
        id=job.id,
        gpus=spec.gpus,
        duration_slots=duration_slots,
        release_slot=release,
        deadline_slot=math.floor(latest) + duration_slots,
        regions=allowed,
        interruptible=spec.interruptible,
        power_w=spec.power_cap_w or config.default_power_w,
        home_region=allowed[0] if allowed else 0,
    )


def capacity_grid(
    *,
    regions: Sequence[Region],
    capacity: Mapping[str, ClusterCapacity],
    running: Sequence[RunningLoad],
    start: datetime,
    slot_s: int,
    slots: int,
) -> np.ndarray:
    """Free GPUs per region and slot (unreachable clusters get none)."""
    grid = np.zeros((len(regions), slots), dtype=np.int64)
    for r, region in enumerate(regions):
        reported = capacity.get(region.name)
        if reported is None:
            continue
        grid[r, :] = min(reported.total_gpus, region.gpus)  # region.gpus: carbonshift's share
        for load in running:
            if load.region == region.name:
                end = min(slots, max(1, math.ceil(_slot(load.until, start, slot_s))))
                grid[r, :end] -= load.gpus
        grid[r, 0] = min(int(grid[r, 0]), reported.free_gpus)
    return np.maximum(grid, 0)


def decide(
    *,
    jobs: Sequence[Job],
    regions: Sequence[Region],
    forecasts: Mapping[str, Forecast | None],
    capacity: Mapping[str, ClusterCapacity],
    running: Sequence[RunningLoad],
    now: datetime,
    policy: Policy,
    config: PlanningConfig,
    default_zone: str,
    budgets: Mapping[str, BudgetVerdict] | None = None,
) -> list[Decision]:
    """One decision per job (see the module docstring).

    ``budgets`` (team → verdict): an over-budget team's jobs are rejected with the verdict's
    message; a restricted team's jobs are planned after everyone else's, in what capacity is
    left, only in slots below the verdict's ceiling (``_plan_restricted``).
    """
    budgets = budgets or {}
    start = grid_start(now, config.slot_s)
    slots = max(1, math.ceil(config.horizon_s / config.slot_s))
    plan_jobs: list[PlanJob] = []
    decisions: list[Decision] = []
    for job in jobs:
        allowed = allowed_regions(job, regions, default_zone)
        if job.spec.latest_safe_start(config.safety_margin) < now or not allowed:
            decisions.append(_reject(job, config, allowed))
            continue
        verdict = budgets.get(job.spec.team)
        refused = rejection(job.id, verdict) if verdict is not None else None
        if refused is not None:
            decisions.append(refused)
            continue
        planned = plan_job(job, start, config, allowed)
        plan_jobs.append(replace_deadline(planned, slots))
    plug = np.array(
        [
            [
                value * region.pue
                for value in intensity_row(forecasts.get(region.zone), start, config.slot_s, slots)
            ]
            for region in regions
        ],
        dtype=np.float64,
    )
    # among (near-)equal intensities, prefer the earlier slot: run as soon as it costs nothing
    intensity = plug + EARLINESS_G_PER_KWH_PER_SLOT * np.arange(slots, dtype=np.float64)
    free = capacity_grid(
        regions=regions,
        capacity=capacity,
        running=running,
        start=start,
        slot_s=config.slot_s,
        slots=slots,
    )
    plan_jobs, queued = most_urgent(plan_jobs, int(free.sum()), config.max_planned_jobs)
    decisions += [_queued(job, start + timedelta(seconds=config.slot_s), regions) for job in queued]
    team_of = {job.id: job.spec.team for job in jobs}
    ceilings = {
        job.id: verdict
        for job in plan_jobs
        if isinstance(verdict := budgets.get(team_of[job.id]), Restricted)
    }
    problem = PlanProblem(
        start=start,
        slot_s=config.slot_s,
        region_names=tuple(region.name for region in regions),
        intensity=intensity,
        capacity=free,
        jobs=[job for job in plan_jobs if job.id not in ceilings],
        resume_overhead_slots=math.ceil(config.resume_overhead_s / config.slot_s),
        max_segments=config.max_segments,
    )
    plan = policy.plan(problem) if problem.jobs else Plan(placements={})
    decisions += [_decision(job, problem, plan) for job in problem.jobs]
    if ceilings:
        left = free - used_capacity(plan, problem.jobs, free.shape)
        restricted = [job for job in plan_jobs if job.id in ceilings]
        decisions += _plan_restricted(
            restricted, ceilings=ceilings, base=problem, plug=plug, left=left, policy=policy
        )
    return decisions


def used_capacity(plan: Plan, jobs: Sequence[PlanJob], shape: tuple[int, ...]) -> np.ndarray:
    """GPUs per region and slot that ``plan``'s placements of ``jobs`` take."""
    used = np.zeros(shape, dtype=np.int64)
    for job in jobs:
        for segment in plan.placements.get(job.id, ()):
            used[segment.region, segment.start : segment.end] += job.gpus
    return used


def _plan_restricted(
    jobs: Sequence[PlanJob],
    *,
    ceilings: Mapping[str, Restricted],
    base: PlanProblem,
    plug: np.ndarray,
    left: np.ndarray,
    policy: Policy,
) -> list[Decision]:
    """Plan over-budget teams' jobs in ``left`` capacity, zeroed where the intensity at the
    plug reaches their ceiling; one pass per distinct ceiling, each taking what it uses.

    A job that finds no place waits with the budget's message, or is rejected when its whole
    window lies inside the horizon and has no run of allowed slots long enough. Their
    windows are unchanged, so the deadline (with its margin) still bounds every placement.
    """
    decisions: list[Decision] = []
    for ceiling in sorted({verdict.max_g_per_kwh for verdict in ceilings.values()}):
        group = [job for job in jobs if ceilings[job.id].max_g_per_kwh == ceiling]
        allowed = plug < ceiling
        capacity = np.where(allowed, np.maximum(left, 0), 0).astype(np.int64)
        problem = replace(base, capacity=capacity, jobs=group)
        plan = policy.plan(problem)
        left = left - used_capacity(plan, group, left.shape)
        for job in group:
            message = ceilings[job.id].message
            if not plan.placements.get(job.id) and not _fits(job, allowed, base.slots):
                explanation = f"{message}; no such window fits before its deadline"
                decisions.append(Reject(job_id=job.id, explanation=explanation))
            else:
                decisions.append(_with_note(_decision(job, problem, plan), message))
    return decisions


def _fits(job: PlanJob, allowed: np.ndarray, slots: int) -> bool:
    """Whether allowed slots could hold ``job`` in its window (True if it ends past the grid)."""
    if job.deadline_slot >= slots:
        return True  # its deadline lies past the horizon: later forecasts may open a window
    for region in job.regions:
        window = allowed[region, job.release_slot : job.deadline_slot]
        if job.interruptible:
            if int(window.sum()) >= job.duration_slots:
                return True
            continue
        run = 0
        for ok in window:
            run = run + 1 if ok else 0
            if run >= job.duration_slots:
                return True
    return False


def _with_note(decision: Decision, note: str) -> Decision:
    """``decision`` with the budget's restriction appended to its explanation."""
    if isinstance(decision, Reject):
        return decision
    return decision.model_copy(update={"explanation": f"{decision.explanation}; {note}"})


def most_urgent(
    jobs: Sequence[PlanJob], free_gpu_slots: int, max_jobs: int
) -> tuple[list[PlanJob], list[PlanJob]]:
    """Split ``jobs`` into those planned this tick and those queued behind them.

    Earliest latest-start first, jobs are planned while their GPU-slots fit in what the
    horizon has free (the rest could not be placed anyway) and at most ``max_jobs`` of them,
    which bounds the planner's time however long the queue; the queued ones are planned
    again next tick, when they are more urgent or capacity has freed up.
    """
    ordered = sorted(
        jobs, key=lambda j: (j.deadline_slot - j.duration_slots, j.deadline_slot, j.id)
    )
    planned: list[PlanJob] = []
    demand = 0
    for job in ordered:
        demand += job.gpus * job.duration_slots
        if len(planned) >= max_jobs or (planned and demand > free_gpu_slots):
            break
        planned.append(job)
    return planned, ordered[len(planned) :]


def _queued(job: PlanJob, until: datetime, regions: Sequence[Region]) -> Wait:
    return Wait(
        job_id=job.id,
        until=until,
        region=regions[job.home_region].name,
        explanation="queued behind more urgent jobs that fill the planning horizon",
    )


def replace_deadline(job: PlanJob, slots: int) -> PlanJob:
    """Clip the job's window to the grid (a deadline past the horizon is "any time")."""
    if job.deadline_slot <= slots:
        return job
    return PlanJob(
        id=job.id,
        gpus=job.gpus,
        duration_slots=job.duration_slots,
        release_slot=min(job.release_slot, slots - 1),
        deadline_slot=slots,
        regions=job.regions,
        interruptible=job.interruptible,
        power_w=job.power_w,
        home_region=job.home_region,
    )


def _reject(job: Job, config: PlanningConfig, allowed: tuple[int, ...]) -> Reject:
    if not allowed:
        return Reject(
            job_id=job.id,
            explanation=f"no configured region is in the job's zones {list(job.spec.zones)}",
        )
    latest = job.spec.latest_safe_start(config.safety_margin)
    return Reject(
        job_id=job.id,
        explanation=(
            f"latest safe start {latest:%Y-%m-%d %H:%M} UTC has passed; the deadline "
            f"{job.spec.deadline:%Y-%m-%d %H:%M} UTC can no longer be met with a "
            f"{config.safety_margin:.0%} margin"
        ),
    )


def _decision(job: PlanJob, problem: PlanProblem, plan: Plan) -> Decision:
    segments = plan.placements.get(job.id)
    if not segments:
        next_slot = problem.slot_time(1)
        return Wait(
            job_id=job.id,
            until=next_slot,
            region=problem.region_names[job.home_region],
            explanation=plan.notes.get(
                job.id, f"no GPUs free in its regions yet; planned again at {next_slot:%H:%M} UTC"
            ),
        )
    first = segments[0]
    region = problem.region_names[first.region]
    if first.start == 0:
        note = plan.notes.get(job.id, f"start now in {region}")
        return Start(job_id=job.id, region=region, explanation=note)
    when = problem.slot_time(first.start)
    return Wait(
        job_id=job.id,
        until=when,
        region=region,
        explanation=plan.notes.get(job.id, f"deferred to {when:%Y-%m-%d %H:%M} UTC in {region}"),
    )
