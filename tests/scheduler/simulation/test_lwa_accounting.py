"""The accounting test of ../shared/scenarios: per-job optimum without capacity, to 0.01 pp."""

from __future__ import annotations

from pathlib import Path

import pytest

from forecasts.traces import read_carbon_csv
from scheduler.simulation.runner import simulate
from scheduler.simulation.scenario import load_scenario
from tests.scheduler.simulation.policies import CheapestPolicy


@pytest.mark.shared
def test_per_job_cheapest_window_hits_the_formats_optimum(shared_dir: Path) -> None:
    """3,387 LWA jobs, DE semi-weekly, no capacity: the README's FORMATS-rules optimum 14.15 %."""
    folder = shared_dir / "scenarios/lwa-ml-2020"
    scenario = load_scenario(folder / "jobs-semi-weekly-de.csv", folder / "regions-de.yaml")
    result = simulate(scenario, read_carbon_csv(folder / "carbon-de.csv"), CheapestPolicy()).result
    assert result["missed_deadlines"] == 0
    assert result["savings_pct"] == pytest.approx(14.15, abs=0.01)
