"""Small scenario files for simulator tests, written the way FORMATS.md defines them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from scheduler.simulation.scenario import Scenario, load_scenario

JOBS_HEADER = (
    "job_id,submit_time,duration_s,deadline,gpus,home_zone,allowed_zones,interruptible,power_w\n"
)


def job_row(
    job_id: str,
    submit: str,
    duration_s: int,
    deadline: str,
    *,
    gpus: int = 1,
    home: str = "DE",
    allowed: str = "",
    interruptible: bool = False,
    power_w: float = 1000.0,
    day: int = 1,
    deadline_day: int | None = None,
) -> str:
    """One jobs-file row; times are ``HH:MM`` on January ``day`` (``deadline_day``) 2024, UTC."""
    flag = "true" if interruptible else "false"
    due = day if deadline_day is None else deadline_day
    return (
        f"{job_id},2024-01-{day:02d}T{submit}:00+00:00,{duration_s},"
        f"2024-01-{due:02d}T{deadline}:00+00:00,{gpus},{home},{allowed},{flag},{power_w}\n"
    )


def write_carbon(path: Path, values: Mapping[str, Sequence[float]], step_min: int = 60) -> Path:
    """Long-format carbon file: ``values[zone][i]`` holds from 00:00 + i × step on 2024-01-01."""
    lines = ["datetime,zone,g_per_kwh\n"]
    for zone, series in values.items():
        for i, value in enumerate(series):
            minutes = i * step_min
            day, rest = divmod(minutes, 1440)
            stamp = f"2024-01-{1 + day:02d}T{rest // 60:02d}:{rest % 60:02d}:00+00:00"
            lines.append(f"{stamp},{zone},{value}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def write_regions(
    path: Path, regions: Sequence[tuple[str, str, int, float]], slot_minutes: int = 60
) -> Path:
    """Regions YAML from (name, zone, gpus, pue) tuples."""
    lines = [f"slot_minutes: {slot_minutes}\n", "regions:\n"]
    for name, zone, gpus, pue in regions:
        lines.append(f"  - {{name: {name}, zone: {zone}, gpus: {gpus}, pue: {pue}}}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def scenario(
    tmp_path: Path,
    rows: Sequence[str],
    regions: Sequence[tuple[str, str, int, float]] = (("de-1", "DE", 10, 1.0),),
    slot_minutes: int = 60,
) -> Scenario:
    """A scenario from job rows and regions, through the real file parsers."""
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(JOBS_HEADER + "".join(rows), encoding="utf-8")
    return load_scenario(jobs, write_regions(tmp_path / "regions.yaml", regions, slot_minutes))
