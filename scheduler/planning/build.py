"""From domain jobs, forecasts and capacity to a ``PlanProblem`` (pure; no I/O).

The grid starts at ``now``: slot ``t`` is ``[now + t·slot, now + (t+1)·slot)``. A job's
window closes at its latest safe start (``deadline − estimated duration × (1 + margin)``,
rounded down to a slot) plus its duration in slots, so no plan can start it later than that.
Intensities are slot means of each zone's forecast (step function) times the region's PUE;
past the end of a forecast the forecast's maximum is held, so nothing is deferred into hours
nobody forecast. A deadline past the horizon is clipped to it (later rounds re-plan the job
as the horizon moves on). A job none of whose regions has a forecast runs in deadline-safe
mode: ``plan_tick`` gives it the earliest free GPUs before anything else is planned.

With ``arrival_forecast`` or ``arrival_reserve`` set (the reserve is on by default), the jobs
submitted in the last nine days (``history``, any state; ``arrivals.HISTORY_S``) are read:
last week's are expected back a week later, and ``arrivals.with_arrivals`` turns them into
the problem's ``expected_use``, ``expected_jobs`` and ``expected_demand``, the submission
surge and last week's load, as in the simulator.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from scheduler.model import Forecast, Job, Region, Reject
from scheduler.planning.arrivals import RESERVE_SCALE, History, with_arrivals
from scheduler.planning.problem import FloatArray, IntArray, PlanJob, PlanProblem


@dataclass(frozen=True, kw_only=True)
class PlanSettings:
    """The planner settings (``planner`` section), in seconds."""

    slot_s: int = 900
    horizon_s: int = 48 * 3600
    safety_margin: float = 0.1
    resume_overhead_s: int = 0
    max_segments: int = 8
    default_power_w: float = 300.0
    #: GPUs of last week's rigid jobs held over their latest windows, × this (0: off)
    arrival_forecast: float = 0.0
    #: GPU-hours of last week's jobs kept as a priced reserve over their windows, × this
    arrival_reserve: float = RESERVE_SCALE
    #: last week's interruptible jobs planned beside the queue as jobs, × this, instead of in
    #: the reserve (0: off; needs the reserve; ``arrivals.with_arrivals``)
    arrival_insurance: float = 0.0

    @property
    def uses_history(self) -> bool:
        """Whether planning reads the jobs submitted in the last week."""
        return self.arrival_forecast > 0 or self.arrival_reserve > 0


@dataclass(frozen=True, kw_only=True)
class RunningJob:
    """GPUs a started job holds in ``region`` until ``until`` (its expected end)."""

    region: str
    gpus: int
    until: datetime


@dataclass(frozen=True, kw_only=True)
class Built:
    """A problem plus what turning its plan into decisions needs."""

    problem: PlanProblem
    now: datetime
    latest_start: Mapping[str, datetime]
    rejected: tuple[Reject, ...] = ()
    #: jobs in deadline-safe mode (no forecast for any of their zones)
    blind: frozenset[str] = frozenset()
    missing_zones: frozenset[str] = frozenset()
    settings: PlanSettings = field(default_factory=PlanSettings)


def slot_means(forecast: Forecast, start: datetime, slot_s: int, slots: int) -> FloatArray:
    """Mean of ``forecast``'s step function over each slot; its maximum past its end."""
    values = np.array([p.g_per_kwh for p in forecast.points], dtype=np.float64)
    first = forecast.points[0].start
    per = min(60, slot_s // math.gcd(slot_s, forecast.step_s))  # samples per slot
    offsets = np.arange(slots * per) * (slot_s / per) + (start - first).total_seconds()
    index = np.floor(offsets / forecast.step_s).astype(np.int64)
    inside = (index >= 0) & (index < len(values))
    sampled = np.where(inside, values[np.clip(index, 0, len(values) - 1)], values.max())
    means: FloatArray = sampled.reshape(slots, per).mean(axis=1)
    return means


def allowed_regions(job: Job, regions: Sequence[Region], default_zone: str) -> tuple[int, ...]:
    """Regions in the job's zones (none named: the default zone's, else every region)."""
    zones = set(job.spec.zones or (default_zone,))
    allowed = tuple(i for i, region in enumerate(regions) if region.zone in zones)
    return allowed or (tuple(range(len(regions))) if not job.spec.zones else ())


def _reject(job: Job, latest: datetime, why: str, now: datetime | None = None) -> Reject:
    passed = f" has passed (now {now:%H:%M} UTC)" if now is not None and latest < now else ""
    return Reject(
        job_id=job.id,
        explanation=f"{why}; latest safe start {latest:%Y-%m-%d %H:%M} UTC{passed}",
    )


def plan_job(job: Job, now: datetime, settings: PlanSettings, allowed: tuple[int, ...]) -> PlanJob:
    """``job`` on the grid starting at ``now``."""
    spec, slot = job.spec, settings.slot_s
    duration = max(1, math.ceil(spec.estimated_duration_s / slot))
    latest = spec.latest_safe_start(settings.safety_margin)
    release = 0
    if spec.earliest_start is not None and spec.earliest_start > now:
        release = math.ceil((spec.earliest_start - now).total_seconds() / slot)
    return PlanJob(
        id=job.id,
        gpus=spec.gpus,
        duration_slots=duration,
        release_slot=release,
        deadline_slot=math.floor((latest - now).total_seconds() / slot) + duration,
        regions=allowed,
        interruptible=spec.interruptible,
        power_w=spec.power_cap_w or settings.default_power_w,
        home_region=allowed[0],
    )


def capacity_grid(
    regions: Sequence[Region],
    *,
    free_now: Mapping[str, int],
    running: Sequence[RunningJob],
    now: datetime,
    slot_s: int,
    slots: int,
) -> IntArray:
    """Free GPUs per region and slot: total minus running jobs; slot 0 as reported."""
    grid = np.array([[r.gpus] * slots for r in regions], dtype=np.int64).reshape(
        len(regions), slots
    )
    names = [r.name for r in regions]
    for load in running:
        if load.region in names:
            end = min(slots, max(1, math.ceil((load.until - now).total_seconds() / slot_s)))
            grid[names.index(load.region), :end] -= load.gpus
    for i, name in enumerate(names):
        if name in free_now:
            grid[i, 0] = min(int(grid[i, 0]), free_now[name])
    return np.maximum(grid, 0)


def build_problem(
    *,
    jobs: Sequence[Job],
    regions: Sequence[Region],
    forecasts: Mapping[str, Forecast],
    now: datetime,
    settings: PlanSettings,
    free_now: Mapping[str, int] | None = None,
    running: Sequence[RunningJob] = (),
    default_zone: str = "DE",
    history: Sequence[Job] = (),
) -> Built:
    """The problem for one planning round (see the module docstring).

    ``history``: the jobs submitted in the last week, for the arrival forecasts (read only
    when ``settings.uses_history``).
    """
    slot = settings.slot_s
    known = {z for z, f in forecasts.items() if f.points}
    planned: list[PlanJob] = []
    rejected: list[Reject] = []
    latest: dict[str, datetime] = {}
    blind: set[str] = set()
    for job in jobs:
        lss = job.spec.latest_safe_start(settings.safety_margin)
        latest[job.id] = lss
        allowed = allowed_regions(job, regions, default_zone)
        if not allowed:
            rejected.append(_reject(job, lss, f"no region runs zones {list(job.spec.zones)}"))
            continue
        pj = plan_job(job, now, settings, allowed)
        horizon = max(math.ceil(settings.horizon_s / slot), pj.release_slot + pj.duration_slots)
        if pj.deadline_slot > horizon:  # a deadline past the horizon: plan within it for now
            pj = replace(pj, deadline_slot=horizon)
        if pj.deadline_slot - pj.duration_slots < pj.release_slot:
            rejected.append(_reject(job, lss, "the deadline can no longer be met", now))
            continue
        seen = tuple(i for i in allowed if regions[i].zone in known)
        if seen:
            pj = replace(pj, regions=seen, home_region=seen[0])
        else:
            blind.add(job.id)
        planned.append(pj)
    slots = max([math.ceil(settings.horizon_s / slot), *(j.deadline_slot for j in planned)])
    problem = PlanProblem(
        start=now,
        slot_s=slot,
        region_names=tuple(r.name for r in regions),
        intensity=_intensity(regions, forecasts, now, slot, slots),
        capacity=capacity_grid(
            regions, free_now=free_now or {}, running=running, now=now, slot_s=slot, slots=slots
        ),
        jobs=planned,
        resume_overhead_slots=math.ceil(settings.resume_overhead_s / slot),
        max_segments=settings.max_segments,
    )
    if settings.uses_history:
        problem = with_arrivals(
            problem,
            history_of(history, regions, now, settings, default_zone),
            now=0,
            forecast=settings.arrival_forecast,
            reserve=settings.arrival_reserve,
            insurance=settings.arrival_insurance,
        )
    missing = frozenset(r.zone for r in regions if r.zone not in known)
    return Built(
        problem=problem,
        now=now,
        latest_start=latest,
        rejected=tuple(rejected),
        blind=frozenset(blind),
        missing_zones=missing,
        settings=settings,
    )


def history_of(
    jobs: Sequence[Job],
    regions: Sequence[Region],
    now: datetime,
    settings: PlanSettings,
    default_zone: str,
) -> History:
    """``jobs`` on the grid starting at ``now``, for the arrival forecasts: released at
    submission (or their earliest start), due at their latest safe start plus duration, in
    their first allowed region; jobs no region runs are skipped."""
    rows: list[tuple[int, int, int, int, int]] = []
    interruptible: list[bool] = []
    allowed_in: list[tuple[int, ...]] = []
    for job in jobs:
        allowed = allowed_regions(job, regions, default_zone)
        if not allowed:
            continue
        pj = plan_job(job, now, settings, allowed)
        released = max(job.submitted_at, job.spec.earliest_start or job.submitted_at)
        release = math.floor((released - now).total_seconds() / settings.slot_s)
        rows.append((release, pj.deadline_slot, pj.duration_slots, pj.gpus, pj.home_region))
        interruptible.append(pj.interruptible)
        allowed_in.append(pj.regions)
    table = np.array(rows, dtype=np.int64).reshape(len(rows), 5)
    return History(
        release=table[:, 0],
        deadline=table[:, 1],
        duration=table[:, 2],
        gpus=table[:, 3],
        region=table[:, 4],
        interruptible=np.array(interruptible, dtype=np.bool_),
        allowed=tuple(allowed_in),
    )


def _intensity(
    regions: Sequence[Region],
    forecasts: Mapping[str, Forecast],
    now: datetime,
    slot_s: int,
    slots: int,
) -> FloatArray:
    """Rows of zones without a forecast hold the highest known value (never attractive)."""
    rows: list[FloatArray | None] = []
    for region in regions:
        forecast = forecasts.get(region.zone)
        if forecast is None or not forecast.points:
            rows.append(None)
        else:
            rows.append(slot_means(forecast, now, slot_s, slots) * region.pue)
    top = max((float(r.max()) for r in rows if r is not None), default=0.0)
    return np.stack([r if r is not None else np.full(slots, top) for r in rows])


__all__ = [
    "Built",
    "PlanSettings",
    "RunningJob",
    "allowed_regions",
    "build_problem",
    "capacity_grid",
    "history_of",
    "plan_job",
    "slot_means",
]
