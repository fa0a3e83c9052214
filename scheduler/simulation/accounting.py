"""Accounting of a replayed schedule, by the rules of FORMATS.md.

* A segment's energy is ``gpus × power_w × hours × pue`` (at the default power limit).
* Its emissions integrate that power against the zone's true intensity step function.
* The baseline runs every job at ``submit_time``, contiguously, in its home zone (the first
  region of that zone gives the PUE), ignoring capacity. Savings are
  ``1 − emissions / baseline_emissions``.

Jobs start on slot boundaries and run their true ``duration_s``: the last segment of a job
ends inside its last slot. A job the policy could not place is not run and counts as a missed
deadline (its baseline still counts, so savings are only comparable at zero misses).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scheduler.model import Region
from scheduler.simulation.engine import EngineRun
from scheduler.simulation.grid import StepIntegral
from scheduler.simulation.scenario import SimJob


@dataclass(frozen=True, kw_only=True, slots=True)
class RunSegment:
    """A contiguous run of a job in one region, in real time (epoch seconds)."""

    job_id: str
    region: int
    start_s: int
    end_s: int
    gpus: int
    power_w: float
    #: the power limit the segment ran at (carbon-aware power capping); None: the default
    power_cap_w: float | None = None


def realise(run: EngineRun) -> list[RunSegment]:
    """Every executed segment in real time: each job consumes exactly its ``duration_s``."""
    grid = run.grid
    segments = []
    for outcome in run.outcomes:
        left_s = outcome.job.duration_s
        for seg in outcome.segments:
            if left_s <= 0:
                break
            start_s = grid.time_s(seg.start)
            length_s = min(seg.slots * grid.slot_s, left_s)
            left_s -= length_s
            segments.append(
                RunSegment(
                    job_id=outcome.job.id,
                    region=seg.region,
                    start_s=start_s,
                    end_s=start_s + length_s,
                    gpus=outcome.job.gpus,
                    power_w=outcome.job.power_w,
                )
            )
    return segments


def _kw(gpus: int, power_w: float, pue: float) -> float:
    return gpus * power_w / 1000.0 * pue


def emissions_g(
    segments: Sequence[RunSegment],
    regions: Sequence[Region],
    integrals: Mapping[str, StepIntegral],
) -> tuple[float, float]:
    """(energy_kwh, emissions_g) of ``segments`` against the true intensities."""
    energy_kwh = emissions = 0.0
    for seg in segments:
        region = regions[seg.region]
        kw = _kw(seg.gpus, seg.power_w, region.pue)
        energy_kwh += kw * (seg.end_s - seg.start_s) / 3600.0
        area = integrals[region.zone].integral(seg.start_s, seg.end_s)
        emissions += kw * float(area) / 3600.0
    return energy_kwh, emissions


def baseline_emissions_g(
    jobs: Sequence[SimJob], regions: Sequence[Region], integrals: Mapping[str, StepIntegral]
) -> float:
    """Every job at submission, contiguously, in its home zone (capacity ignored)."""
    pue = {}
    for region in reversed(regions):
        pue[region.zone] = region.pue
    total = 0.0
    for job in jobs:
        area = integrals[job.home_zone].integral(job.submit_s, job.submit_s + job.duration_s)
        total += _kw(job.gpus, job.power_w, pue[job.home_zone]) * float(area) / 3600.0
    return total


def finish_times_s(segments: Sequence[RunSegment]) -> dict[str, int]:
    """When each job that ran ended its last segment."""
    finish: dict[str, int] = {}
    for seg in segments:
        finish[seg.job_id] = max(finish.get(seg.job_id, 0), seg.end_s)
    return finish


def peak_gpus(segments: Sequence[RunSegment], regions: Sequence[Region]) -> dict[str, int]:
    """Most GPUs held at once in each region (sweep over segment starts and ends)."""
    peaks = {}
    for index, region in enumerate(regions):
        events = sorted(
            [(s.start_s, s.gpus) for s in segments if s.region == index]
            + [(s.end_s, -s.gpus) for s in segments if s.region == index]
        )
        running = peak = 0
        for _, delta in events:  # at equal times ends (negative) sort before starts
            running += delta
            peak = max(peak, running)
        peaks[region.name] = peak
    return peaks


def summarize(
    *,
    policy: str,
    run: EngineRun,
    segments: Sequence[RunSegment],
    regions: Sequence[Region],
    oracle_emissions_g: float | None = None,
) -> dict[str, Any]:
    """The result JSON of FORMATS.md, keys in its order."""
    jobs = [outcome.job for outcome in run.outcomes]
    energy_kwh, emitted = emissions_g(segments, regions, run.integrals)
    baseline = baseline_emissions_g(jobs, regions, run.integrals)
    finish = finish_times_s(segments)
    done = [o.job for o in run.outcomes if o.completed]
    late = [job for job in done if finish[job.id] > job.deadline_s]
    delays_h = np.array([(finish[j.id] - j.submit_s - j.duration_s) / 3600.0 for j in done])
    return {
        "policy": policy,
        "jobs": len(jobs),
        "completed": len(done),
        "missed_deadlines": len(jobs) - len(done) + len(late),
        "energy_kwh": energy_kwh,
        "emissions_g": emitted,
        "baseline_emissions_g": baseline,
        "savings_pct": 100.0 * (1.0 - emitted / baseline) if baseline > 0 else 0.0,
        "oracle_emissions_g": oracle_emissions_g,
        "oracle_efficiency": _efficiency(baseline, emitted, oracle_emissions_g),
        "mean_delay_h": float(delays_h.mean()) if len(delays_h) else 0.0,
        "p95_delay_h": float(np.percentile(delays_h, 95)) if len(delays_h) else 0.0,
        "peak_gpus": peak_gpus(segments, regions),
        "plan_time_s": _quantiles(run.plan_times_s),
    }


def _efficiency(baseline: float, emitted: float, oracle: float | None) -> float | None:
    if oracle is None or baseline == oracle:
        return None
    return (baseline - emitted) / (baseline - oracle)


def _quantiles(times: Sequence[float]) -> dict[str, float]:
    if not times:
        return {"p50": 0.0, "p95": 0.0, "max": 0.0}
    values = np.asarray(times)
    return {
        "p50": float(np.percentile(values, 50)),
        "p95": float(np.percentile(values, 95)),
        "max": float(values.max()),
    }
