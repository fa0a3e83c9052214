"""Build one offline ``PlanProblem`` from a scenario of ``../shared/scenarios`` (FORMATS.md).

Every job is known at once and the forecast is perfect: this is the offline view the
quality harness compares policies with, before and beside the simulator's rolling replay.
Slots: ``release = ceil(submit)``, ``deadline = floor(deadline)``, ``duration = ceil(run)``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import yaml

from scheduler.planning.problem import PlanJob, PlanProblem

EM_TIME = "Datetime (UTC)"
EM_ZONE = "Zone Id"
EM_LCA = "Carbon Intensity gCO₂eq/kWh (LCA)"


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A problem plus what the accounting needs beside it."""

    problem: PlanProblem
    baseline_g: float


def read_carbon(paths: list[Path]) -> dict[str, list[tuple[datetime, float]]]:
    """zone → sorted (time, g/kWh) steps, from long-format or Electricity Maps files."""
    series: dict[str, list[tuple[datetime, float]]] = {}
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if EM_TIME in row:
                    stamp = datetime.fromisoformat(row[EM_TIME] + "+00:00")
                    zone, value = row[EM_ZONE], float(row[EM_LCA])
                else:
                    stamp, zone = datetime.fromisoformat(row["datetime"]), row["zone"]
                    value = float(row["g_per_kwh"])
                series.setdefault(zone, []).append((stamp, value))
    return {zone: sorted(points) for zone, points in series.items()}


def resample(
    points: list[tuple[datetime, float]], start: datetime, slot_s: int, n: int
) -> np.ndarray:
    """Slot means of a step function (each value holds until the next)."""
    fine_s = 300
    per = slot_s // fine_s
    times = np.array([(t - start).total_seconds() for t, _ in points])
    values = np.array([v for _, v in points])
    grid = np.arange(n * per) * fine_s
    idx = np.clip(np.searchsorted(times, grid, side="right") - 1, 0, len(values) - 1)
    return values[idx].reshape(n, per).mean(axis=1)


def load(jobs_csv: Path, carbon: list[Path], regions_yaml: Path) -> Scenario:
    """The scenario as one offline problem (all jobs known, perfect forecast)."""
    spec = yaml.safe_load(regions_yaml.read_text(encoding="utf-8"))
    slot_s = int(spec["slot_minutes"]) * 60
    regions = spec["regions"]
    zones = [r["zone"] for r in regions]
    with jobs_csv.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    submits = [datetime.fromisoformat(r["submit_time"]) for r in rows]
    deadlines = [datetime.fromisoformat(r["deadline"]) for r in rows]
    epoch = min(submits).replace(minute=0, second=0, microsecond=0)
    n = math.ceil((max(deadlines) - epoch).total_seconds() / slot_s) + 1
    series = read_carbon(carbon)
    pue = np.array([float(r.get("pue", 1.0)) for r in regions])
    intensity = np.stack([resample(series[z], epoch, slot_s, n) for z in zones]) * pue[:, None]
    capacity = np.stack([np.full(n, int(r["gpus"]), dtype=np.int64) for r in regions])
    jobs: list[PlanJob] = []
    baseline = 0.0
    for row, submit, deadline in zip(rows, submits, deadlines, strict=True):
        dur = math.ceil(int(row["duration_s"]) / slot_s)
        rel = math.ceil((submit - epoch).total_seconds() / slot_s)
        allowed = [z for z in row["allowed_zones"].split(";") if z] or [row["home_zone"]]
        home = zones.index(row["home_zone"])
        job = PlanJob(
            id=row["job_id"],
            gpus=int(row["gpus"]),
            duration_slots=dur,
            release_slot=rel,
            deadline_slot=math.floor((deadline - epoch).total_seconds() / slot_s),
            regions=tuple(zones.index(z) for z in allowed if z in zones),
            interruptible=row["interruptible"] == "true",
            power_w=float(row["power_w"]),
            home_region=home,
        )
        jobs.append(job)
        kwh = job.gpus * job.power_w / 1000 * slot_s / 3600
        baseline += kwh * float(intensity[home, rel : rel + dur].sum())
    problem = PlanProblem(
        start=epoch,
        slot_s=slot_s,
        region_names=tuple(r["name"] for r in regions),
        intensity=intensity,
        capacity=capacity,
        jobs=jobs,
        max_segments=10_000,
    )
    return Scenario(problem=problem, baseline_g=baseline)


__all__ = ["Scenario", "load", "read_carbon", "resample"]
