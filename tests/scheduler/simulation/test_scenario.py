"""Jobs CSV and regions YAML parsing: FORMATS.md exactly, and clear errors otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler.errors import ScenarioError
from scheduler.simulation.scenario import load_jobs, load_regions
from tests.scheduler.simulation.helpers import JOBS_HEADER, job_row, scenario, write_regions


def test_jobs_parse_with_defaults(tmp_path: Path) -> None:
    """Empty allowed_zones means the home zone; estimated_duration_s defaults to duration_s."""
    loaded = scenario(
        tmp_path,
        [
            job_row("b", "02:00", 3600, "10:00", allowed="DE;GB", interruptible=True, gpus=2),
            job_row("a", "01:00", 1800, "09:00"),
        ],
        regions=(("de-1", "DE", 4, 1.0), ("gb-1", "GB", 4, 1.2)),
    )
    first, second = loaded.jobs
    assert first.id == "a"  # sorted by submission
    assert first.zones == ("DE",)
    assert first.estimated_duration_s == 1800
    assert first.submit_s == int(datetime(2024, 1, 1, 1, tzinfo=UTC).timestamp())
    assert second.zones == ("DE", "GB")
    assert second.interruptible
    assert second.gpus == 2
    assert loaded.slot_s == 3600
    assert loaded.region_indices(second.zones) == (0, 1)


def test_optional_estimated_duration(tmp_path: Path) -> None:
    """The optional estimated_duration_s column is what the scheduler is told."""
    path = tmp_path / "jobs.csv"
    path.write_text(
        JOBS_HEADER.rstrip("\n") + ",estimated_duration_s\n"
        "a,2024-01-01T00:00:00+00:00,3600,2024-01-01T05:00:00+00:00,1,DE,,false,300,7200\n",
        encoding="utf-8",
    )
    (job,) = load_jobs(path)
    assert (job.duration_s, job.estimated_duration_s) == (3600, 7200)


@pytest.mark.parametrize(
    ("row", "fragments"),
    [
        (
            "a,2024-01-01T00:00:00,60,2024-01-01T05:00:00+00:00,1,DE,,false,300\n",
            ["jobs.csv:2", "submit_time", "timezone"],
        ),
        ("a,2024-01-01T00:00Z,-5,2024-01-01T05:00Z,1,DE,,false,300\n", ["duration_s", "-5"]),
        ("a,2024-01-01T00:00Z,60,2024-01-01T05:00Z,0,DE,,false,300\n", ["gpus", "'0'"]),
        ("a,2024-01-01T00:00Z,60,2024-01-01T05:00Z,1,DE,,maybe,300\n", ["interruptible"]),
        ("a,2024-01-01T00:00Z,60,2024-01-01T05:00Z,1,DE,,false,watts\n", ["power_w"]),
        ("a,2024-01-01T05:00Z,60,2024-01-01T05:00Z,1,DE,,false,300\n", ["not after"]),
        ("a,2024-01-01T00:00Z,60,2024-01-01T05:00Z,1,XX,,false,300\n", ["XX", "add a region"]),
    ],
)
def test_bad_job_rows_are_named(tmp_path: Path, row: str, fragments: list[str]) -> None:
    """A bad row raises ScenarioError naming the file, line, column and value."""
    with pytest.raises(ScenarioError) as caught:
        scenario(tmp_path, [row])
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_bad_header_and_duplicate_ids(tmp_path: Path) -> None:
    """Missing columns and repeated job ids are errors that say how to fix them."""
    path = tmp_path / "jobs.csv"
    path.write_text("job_id,submit_time\na,2024-01-01T00:00Z\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="missing columns"):
        load_jobs(path)
    row = job_row("a", "00:00", 60, "05:00")
    path.write_text(JOBS_HEADER + row + row, encoding="utf-8")
    with pytest.raises(ScenarioError, match="appears twice"):
        load_jobs(path)


def test_regions_file_validation(tmp_path: Path) -> None:
    """slot_minutes and regions are required; names unique; unknown keys rejected."""
    good = load_regions(write_regions(tmp_path / "r.yaml", [("de-1", "DE", 4, 1.1)], 30))
    assert good.slot_minutes == 30
    assert good.regions[0].pue == 1.1
    bad = tmp_path / "bad.yaml"
    bad.write_text("slot_minutes: 30\nregions:\n  - {name: a, zone: DE, gpus: 1, color: red}\n")
    with pytest.raises(ScenarioError, match="color"):
        load_regions(bad)
    bad.write_text("slot_minutes: 30\nregions:\n  - {name: a, zone: DE, gpus: 1}\n" * 1)
    assert load_regions(bad).regions[0].pue == 1.0
    dup = write_regions(tmp_path / "dup.yaml", [("a", "DE", 1, 1.0), ("a", "GB", 1, 1.0)])
    with pytest.raises(ScenarioError, match="unique"):
        load_regions(dup)
