"""``carbonshift demo``: runs end to end on embedded defaults, quickly, and saves a report."""

from __future__ import annotations

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
    assert (tmp_path / "demo/report.png").stat().st_size > 1000
    assert "train-00" in (tmp_path / "demo/report.html").read_text(encoding="utf-8")
