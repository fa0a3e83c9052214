"""From stored jobs to decisions: the service's thin adapter over ``scheduler.planning``.

``decide`` builds the round's ``PlanProblem`` with the planner's own ``build_problem`` (the
grid starts at ``now``, so a "start now" never falls after a job's latest safe start; zones
without a forecast put their jobs in deadline-safe mode) and turns the plan into decisions
with ``plan_tick``/``decide`` (explanations carry the expected % CO2e and the latest safe
start). What only the service adds:

* capacity as the clusters report it: slot 0 gets each cluster's free GPUs, later slots
  its total (at most the region's share) minus carbonshift's running attempts; a cluster
  that did not answer gets none;
* ``most_urgent``: at most ``max_planned_jobs`` jobs per tick, the rest wait a slot;
* team budgets: an over-budget team's jobs are rejected, a restricted team's are planned
  after everyone else's, in what is left, only where intensity × PUE is below its ceiling;
* a tiny earliness tie-breaker, so among equal intensities a job runs as soon as it can.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from scheduler.budgets import BudgetVerdict, Restricted, rejection
from scheduler.model import ClusterCapacity, Decision, Forecast, Job, Region, Reject, Wait
from scheduler.planning import decide as planner
from scheduler.planning.arrivals import RESERVE_SCALE
from scheduler.planning.build import Built, PlanSettings, RunningJob, build_problem
from scheduler.planning.problem import Plan, PlanJob, Policy

#: A tie-breaker added per slot of delay, far below any real intensity difference.
EARLINESS_G_PER_KWH_PER_SLOT = 1e-3

#: GPUs carbonshift's own running attempt holds in a region until its expected end.
RunningLoad = RunningJob


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
    #: arrival forecast and reserve from last week's jobs (``PlanSettings``; 0: off)
    arrival_forecast: float = 0.0
    arrival_reserve: float = RESERVE_SCALE
    arrival_insurance: float = 0.0

    def plan_settings(self) -> PlanSettings:
        """These settings as the planner's ``PlanSettings``."""
        return PlanSettings(
            slot_s=self.slot_s,
            horizon_s=self.horizon_s,
            safety_margin=self.safety_margin,
            resume_overhead_s=self.resume_overhead_s,
            max_segments=self.max_segments,
            default_power_w=self.default_power_w,
            arrival_forecast=self.arrival_forecast,
            arrival_reserve=self.arrival_reserve,
            arrival_insurance=self.arrival_insurance,
        )


def grid_start(now: datetime, slot_s: int) -> datetime:
    """Start of the slot containing ``now`` (where forecast fetches begin)."""
    epoch_s = now.timestamp()
    return datetime.fromtimestamp(epoch_s - epoch_s % slot_s, tz=now.tzinfo)


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
    history: Sequence[Job] = (),
) -> list[Decision]:
    """One decision per job (see the module docstring); ``history``: the jobs submitted in
    the last week, read by the arrival forecasts when ``config`` turns them on."""
    budgets = budgets or {}
    refused = [r for job in jobs if (r := _refusal(job, budgets)) is not None]
    gone = {r.job_id for r in refused}
    built = build_problem(
        jobs=[job for job in jobs if job.id not in gone],
        regions=_reported(regions, capacity),
        forecasts={zone: f for zone, f in forecasts.items() if f is not None and f.points},
        now=now,
        settings=config.plan_settings(),
        free_now={name: c.free_gpus for name, c in capacity.items()},
        running=running,
        default_zone=default_zone,
        history=history,
    )
    problem = built.problem
    planned, queued = most_urgent(
        problem.jobs, int(problem.capacity.sum()), config.max_planned_jobs
    )
    team_of = {job.id: job.spec.team for job in jobs}
    ceilings = {
        job.id: verdict
        for job in planned
        if isinstance(verdict := budgets.get(team_of[job.id]), Restricted)
    }
    free = _with_jobs(built, [job for job in planned if job.id not in ceilings])
    plan, _ = planner.plan_tick(policy, _earliness(free))
    decisions = [*refused, *planner.decide(free, plan)]
    decisions += [_queued(job, built) for job in queued]
    if ceilings:
        left = problem.capacity - used_capacity(plan, free.problem.jobs, problem.capacity.shape)
        restricted = [job for job in planned if job.id in ceilings]
        decisions += _plan_restricted(
            restricted, ceilings=ceilings, base=built, left=left, policy=policy
        )
    return decisions


def _refusal(job: Job, budgets: Mapping[str, BudgetVerdict]) -> Reject | None:
    verdict = budgets.get(job.spec.team)
    return rejection(job.id, verdict) if verdict is not None else None


def _reported(regions: Sequence[Region], capacity: Mapping[str, ClusterCapacity]) -> list[Region]:
    """Regions with their GPUs capped by what their cluster reports (none if it did not)."""
    return [
        region.model_copy(
            update={"gpus": min(region.gpus, capacity[region.name].total_gpus)}
            if region.name in capacity
            else {"gpus": 0}
        )
        for region in regions
    ]


def _with_jobs(built: Built, jobs: Sequence[PlanJob], capacity: np.ndarray | None = None) -> Built:
    """``built`` with only ``jobs`` to plan (and, if given, only ``capacity`` free)."""
    free = built.problem.capacity if capacity is None else capacity
    return replace(built, problem=replace(built.problem, jobs=list(jobs), capacity=free))


def _earliness(built: Built) -> Built:
    """``built`` with the per-slot earliness tie-breaker added to its intensities."""
    problem = built.problem
    bonus = EARLINESS_G_PER_KWH_PER_SLOT * np.arange(problem.slots, dtype=np.float64)
    return replace(built, problem=replace(problem, intensity=problem.intensity + bonus))


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
    base: Built,
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
    plug = base.problem.intensity
    for ceiling in sorted({verdict.max_g_per_kwh for verdict in ceilings.values()}):
        group = [job for job in jobs if ceilings[job.id].max_g_per_kwh == ceiling]
        allowed = plug < ceiling
        capacity = np.where(allowed, np.maximum(left, 0), 0).astype(np.int64)
        built = replace(_with_jobs(base, group, capacity), rejected=())
        plan, _ = planner.plan_tick(policy, _earliness(built))
        left = left - used_capacity(plan, group, left.shape)
        for job, decision in zip(group, planner.decide(built, plan), strict=True):
            message = ceilings[job.id].message
            if not plan.placements.get(job.id) and not _fits(job, allowed, base.problem.slots):
                explanation = f"{message}; no such window fits before its deadline"
                decisions.append(Reject(job_id=job.id, explanation=explanation))
            else:
                decisions.append(_with_note(decision, message))
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


def _queued(job: PlanJob, built: Built) -> Wait:
    latest = built.latest_start[job.id]
    return Wait(
        job_id=job.id,
        until=built.problem.slot_time(1),
        region=built.problem.region_names[job.home_region],
        explanation=(
            "queued behind more urgent jobs that fill the planning horizon; "
            f"latest safe start {latest:%H:%M} UTC"
        ),
    )


__all__ = ["PlanningConfig", "RunningLoad", "decide", "grid_start", "most_urgent"]
