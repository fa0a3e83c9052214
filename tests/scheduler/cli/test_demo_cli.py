"""``carbonshift demo``: runs end to end on embedded defaults, quickly, and saves a report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scheduler.cli.main import app


@pytest.mark.slow
def test_demo_prints_decisions_and_savings_and_writes_report(tmp_path: Path) -> None:
    """With the real planner, run-now and oracle, the demo explains every job, reports the
    savings vs run-now and the oracle, and saves its report (12 jobs keep it quick)."""
    outcome = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path), "demo", "--jobs", "12", "--no-ray"]
    )
    assert outcome.exit_code == 0, outcome.output
    assert "What the planner decided" in outcome.output
    assert "train-11" in outcome.output
    assert "saved vs run-now" in outcome.output
    assert "share of the oracle" in outcome.output
    # three days of jobs: none a week old to expect back
    assert "idle: no job was submitted a week before" in outcome.output
    assert (tmp_path / "demo/report.png").stat().st_size > 1000
    assert "train-00" in (tmp_path / "demo/report.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_demo_shows_the_arrival_reserve_once_jobs_are_a_week_old(tmp_path: Path) -> None:
    """Ten days of submissions: from day eight on the planner expects the first week's jobs
    back and keeps room for them, and the savings table says at how many decisions."""
    outcome = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path), "demo", "--jobs", "12", "--days", "10", "--no-ray"]
    )
    assert outcome.exit_code == 0, outcome.output
    kept = re.search(r"kept room at (\d+) of (\d+) decisions", outcome.output)
    assert kept is not None, outcome.output
    assert 0 < int(kept[1]) < int(kept[2])


@pytest.mark.slow
def test_demo_plans_with_the_configured_arrival_insurance(tmp_path: Path) -> None:
    """``planner.arrival_insurance`` from the configuration reaches the demo's planner: once
    jobs are a week old, last week's interruptible jobs are planned beside the queue."""
    config = tmp_path / "carbonshift.yaml"
    config.write_text("planner: {arrival_insurance: 1.5}\n", encoding="utf-8")
    demo = ["demo", "--jobs", "40", "--days", "10", "--no-ray"]
    outcome = CliRunner().invoke(app, ["--config", str(config), "--data-dir", str(tmp_path), *demo])
    assert outcome.exit_code == 0, outcome.output
    insured = re.search(r"interruptible jobs beside the queue at (\d+) of", outcome.output)
    assert insured is not None, outcome.output
    assert int(insured[1]) > 0
