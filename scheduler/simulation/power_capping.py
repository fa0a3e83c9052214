"""Carbon-aware power capping in the simulator: a separate pass over a finished schedule.

``cap_schedule`` takes the run segments a policy produced (time shifting) and, for every
non-interruptible job, chooses a power limit per slot with ``plan_power_caps`` inside the
window from the start the policy chose to the job's deadline: lower limits while the grid is
dirty, full power while it is clean. The job then runs the pieces of that plan; each piece is a
``RunSegment`` with the piece's draw (``power_w``) and limit (``power_cap_w``), so energy and
emissions are accounted with the power curve, and the schedule CSV shows ``power_cap_w``.

Assumptions, stated because they bound what the figure means:

* The pass uses the true slot intensities (perfect knowledge, like ``--forecast perfect``).
* A capped job runs longer; the pass does not re-check region capacity, so it is meant for
  scenarios without capacity limits (or ample capacity). It never misses a deadline: a job
  whose work cannot be done in its window at any cap keeps its segments.
* The curve's fastest level is scaled to the job's ``power_w`` (the scenario's draw at the
  default limit); lower limits keep the curve's measured power and throughput ratios.
* Interruptible jobs keep their segments.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace

from scheduler.model import Region
from scheduler.planning.power_capping import PowerLevel, plan_power_caps
from scheduler.simulation.accounting import RunSegment, summarize
from scheduler.simulation.grid import StepIntegral
from scheduler.simulation.runner import SimulationResult
from scheduler.simulation.scenario import Scenario, SimJob


def scaled_levels(levels: Sequence[PowerLevel], power_w: float) -> list[PowerLevel]:
    """``levels`` with power scaled so the fastest level draws ``power_w`` per GPU."""
    fastest = max(levels, key=lambda level: (level.throughput, level.power_w))
    ratio = power_w / fastest.power_w
    return [replace(level, power_w=level.power_w * ratio) for level in levels]


def cap_schedule(
    segments: Sequence[RunSegment],
    jobs: Sequence[SimJob],
    regions: Sequence[Region],
    integrals: Mapping[str, StepIntegral],
    *,
    levels: Sequence[PowerLevel],
    slot_s: int,
) -> list[RunSegment]:
    """The schedule with every non-interruptible job power-capped (module docstring)."""
    by_job: dict[str, list[RunSegment]] = defaultdict(list)
    for seg in segments:
        by_job[seg.job_id].append(seg)
    capped: list[RunSegment] = []
    for job in jobs:
        own = by_job.get(job.id, [])
        if job.interruptible or len(own) != 1:
            capped.extend(own)
            continue
        capped.extend(_cap_job(job, own[0], regions, integrals, levels, slot_s) or own)
    return capped


def _cap_job(  # noqa: PLR0917  (the pass's inputs, passed through)
    job: SimJob,
    seg: RunSegment,
    regions: Sequence[Region],
    integrals: Mapping[str, StepIntegral],
    levels: Sequence[PowerLevel],
    slot_s: int,
) -> list[RunSegment] | None:
    region = regions[seg.region]
    periods = (job.deadline_s - seg.start_s) // slot_s
    if periods <= 0:
        return None
    starts = [seg.start_s + i * slot_s for i in range(periods)]
    areas = integrals[region.zone].integral(starts, [s + slot_s for s in starts])
    intensity = [float(area) / slot_s * region.pue for area in areas]
    plan = plan_power_caps(
        levels=scaled_levels(levels, job.power_w),
        work_s=float(job.duration_s),
        intensity_g_per_kwh=intensity,
        period_s=float(slot_s),
        deadline_period=periods,
        gpus=job.gpus,
        start_fixed=True,
    )
    if plan is None:
        return None
    pieces: list[RunSegment] = []
    offsets: dict[int, float] = defaultdict(float)
    for piece in plan.pieces:
        begin = seg.start_s + piece.period * slot_s + offsets[piece.period]
        offsets[piece.period] += piece.seconds
        if piece.throughput <= 0 or piece.seconds <= 0:
            continue
        last = pieces[-1] if pieces else None
        if last is not None and last.power_cap_w == piece.limit_w and last.end_s == round(begin):
            pieces[-1] = replace(last, end_s=round(begin + piece.seconds))  # one row per run
            continue
        pieces.append(
            RunSegment(
                job_id=job.id,
                region=seg.region,
                start_s=round(begin),
                end_s=round(begin + piece.seconds),
                gpus=job.gpus,
                power_w=piece.power_w,
                power_cap_w=piece.limit_w,
            )
        )
    return [p for p in pieces if p.end_s > p.start_s] or None


def with_power_capping(
    result: SimulationResult, scenario: Scenario, *, levels: Sequence[PowerLevel]
) -> SimulationResult:
    """``result`` after the power-capping pass: capped segments, the result JSON recomputed."""
    segments = cap_schedule(
        result.segments,
        scenario.jobs,
        scenario.regions,
        result.run.integrals,
        levels=levels,
        slot_s=scenario.slot_s,
    )
    summary = summarize(
        policy=result.result["policy"],
        run=result.run,
        segments=segments,
        regions=scenario.regions,
        oracle_emissions_g=result.result["oracle_emissions_g"],
    )
    return SimulationResult(result=summary, segments=segments, run=result.run)
