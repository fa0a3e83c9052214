"""Accounting by the FORMATS.md rules, checked against small hand-computed cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from forecasts.traces import read_carbon_csv
from scheduler.simulation.runner import simulate
from tests.scheduler.simulation.helpers import job_row, scenario, write_carbon
from tests.scheduler.simulation.policies import CheapestPolicy

#: hourly DE intensity on 2024-01-01 from 00:00: the two cheapest hours are 04:00 and 06:00
HOURLY = [100.0, 200.0, 300.0, 400.0, 50.0, 90.0, 60.0, 500.0] + [700.0] * 16


def test_non_interruptible_job_hand_computed(tmp_path: Path) -> None:
    """Baseline at 00:30 for 1.5 h; the policy runs it at 04:00 (slots start on the hour).

    Power 2 GPUs × 1 kW × PUE 1.5 = 3 kW. Baseline: 0.5 h × 100 + 1 h × 200 = 250 g/kW → 750 g.
    Cheapest 2-slot window from 01:00 is 04:00–06:00; the job runs 04:00–05:30:
    1 h × 50 + 0.5 h × 90 = 95 g/kW → 285 g. Energy 3 kW × 1.5 h = 4.5 kWh.
    """
    traces = read_carbon_csv(write_carbon(tmp_path / "c.csv", {"DE": HOURLY}))
    loaded = scenario(
        tmp_path,
        [job_row("a", "00:30", 5400, "12:00", gpus=2)],
        regions=(("de-1", "DE", 4, 1.5),),
    )
    outcome = simulate(loaded, traces, CheapestPolicy())
    result = outcome.result
    assert result["baseline_emissions_g"] == pytest.approx(750.0)
    assert result["emissions_g"] == pytest.approx(285.0)
    assert result["energy_kwh"] == pytest.approx(4.5)
    assert result["savings_pct"] == pytest.approx(100 * (1 - 285 / 750))
    assert result["mean_delay_h"] == pytest.approx(3.5)  # ends 05:30 instead of 02:00
    assert result["peak_gpus"] == {"de-1": 2}
    (segment,) = outcome.segments
    assert (segment.end_s - segment.start_s) == 5400


def test_interruptible_job_runs_in_the_cheapest_slots(tmp_path: Path) -> None:
    """An interruptible 2 h job runs 04:00–05:00 and 06:00–07:00: (50 + 60) g at 1 kW."""
    traces = read_carbon_csv(write_carbon(tmp_path / "c.csv", {"DE": HOURLY}))
    loaded = scenario(tmp_path, [job_row("b", "00:00", 7200, "12:00", interruptible=True)])
    outcome = simulate(loaded, traces, CheapestPolicy())
    assert outcome.result["emissions_g"] == pytest.approx(110.0)
    assert outcome.result["baseline_emissions_g"] == pytest.approx(300.0)
    assert [(s.start_s % 86400 // 3600, s.end_s % 86400 // 3600) for s in outcome.segments] == [
        (4, 5),
        (6, 7),
    ]


def test_spatial_shift_uses_the_home_zone_for_the_baseline(tmp_path: Path) -> None:
    """A job from DE allowed in FR runs in FR (cheaper); the baseline stays in DE."""
    carbon = write_carbon(tmp_path / "c.csv", {"DE": [400.0] * 24, "FR": [40.0] * 24})
    traces = read_carbon_csv(carbon)
    loaded = scenario(
        tmp_path,
        [job_row("c", "00:00", 3600, "05:00", allowed="DE;FR")],
        regions=(("de-1", "DE", 1, 1.0), ("fr-1", "FR", 1, 1.0)),
    )
    result = simulate(loaded, traces, CheapestPolicy()).result
    assert result["baseline_emissions_g"] == pytest.approx(400.0)
    assert result["emissions_g"] == pytest.approx(40.0)
    assert result["peak_gpus"] == {"de-1": 0, "fr-1": 1}


def test_sub_hourly_steps_integrate_exactly(tmp_path: Path) -> None:
    """With 15-min data and 60-min slots, emissions integrate the 15-min steps exactly."""
    quarter = [100.0, 200.0, 300.0, 400.0] * 24
    traces = read_carbon_csv(write_carbon(tmp_path / "c.csv", {"DE": quarter}, step_min=15))
    loaded = scenario(tmp_path, [job_row("d", "00:10", 1200, "01:00")])
    result = simulate(loaded, traces, CheapestPolicy()).result
    # baseline 00:10–00:30: 5 min at 100 + 15 min at 200 = (500 + 3000) / 60 g at 1 kW
    assert result["baseline_emissions_g"] == pytest.approx(3500 / 60)
    assert result["missed_deadlines"] == 1  # no whole slot between 01:00 release and deadline
