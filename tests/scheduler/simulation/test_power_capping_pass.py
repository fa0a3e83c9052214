"""Carbon-aware power capping in the simulator: a separate pass over the policy's schedule
that runs jobs at lower limits while the grid is dirty, accounted with the power curve."""

from __future__ import annotations

import csv
from pathlib import Path

from forecasts.traces import read_carbon_csv
from scheduler.planning.power_capping import PowerLevel
from scheduler.simulation.output import write_schedule
from scheduler.simulation.power_capping import with_power_capping
from scheduler.simulation.runner import simulate
from tests.scheduler.simulation.helpers import job_row, scenario, write_carbon
from tests.scheduler.simulation.policies import EarliestPolicy

LEVELS = [
    PowerLevel(limit_w=100, power_w=98, throughput=0.52),
    PowerLevel(limit_w=150, power_w=145, throughput=0.85),
    PowerLevel(limit_w=250, power_w=220, throughput=1.0),
]
#: hourly: dirty and clean hours alternate
SWINGING = [500.0 if hour % 2 == 0 else 100.0 for hour in range(48)]


def test_capping_lowers_emissions_meets_deadlines_and_writes_the_caps(tmp_path: Path) -> None:
    """Against the same placements at full power, the capped schedule emits less, does all of
    each job's work (seconds × relative throughput) by its deadline, and the schedule CSV
    carries each piece's limit."""
    loaded = scenario(
        tmp_path,
        [
            job_row("a", "00:00", 2 * 3600, "10:00", power_w=300),
            job_row("b", "01:00", 3600, "09:00", gpus=2, power_w=300),
        ],
    )
    traces = read_carbon_csv(write_carbon(tmp_path / "c.csv", {"DE": SWINGING}))
    plain = simulate(loaded, traces, EarliestPolicy())
    capped = with_power_capping(plain, loaded, levels=LEVELS)

    assert capped.result["emissions_g"] < plain.result["emissions_g"]
    assert capped.result["missed_deadlines"] == 0
    by_level = {level.limit_w: level.throughput for level in LEVELS}
    for job in loaded.jobs:
        pieces = [seg for seg in capped.segments if seg.job_id == job.id]
        work_s = sum((seg.end_s - seg.start_s) * by_level[seg.power_cap_w or 0] for seg in pieces)
        assert abs(work_s - job.duration_s) <= len(pieces)  # pieces are whole seconds
        assert max(seg.end_s for seg in pieces) <= job.deadline_s
        assert {seg.power_w for seg in pieces} <= {98 * 300 / 220, 145 * 300 / 220, 300.0}
    out = tmp_path / "schedule.csv"
    write_schedule(out, capped.segments, loaded.regions)
    with out.open(encoding="utf-8") as handle:
        written = {row["power_cap_w"] for row in csv.DictReader(handle)}
    assert written <= {"100", "150", "250"}
    assert "250" in written


def test_a_job_without_slack_keeps_its_full_power_segments(tmp_path: Path) -> None:
    """No room to slow down: the job runs as placed, and no cap is written."""
    loaded = scenario(tmp_path, [job_row("tight", "00:00", 2 * 3600, "02:00", power_w=300)])
    traces = read_carbon_csv(write_carbon(tmp_path / "c.csv", {"DE": SWINGING}))
    plain = simulate(loaded, traces, EarliestPolicy())
    capped = with_power_capping(plain, loaded, levels=LEVELS)
    assert capped.result["emissions_g"] == plain.result["emissions_g"]
    assert [seg.power_cap_w for seg in capped.segments] in ([None], [250])
