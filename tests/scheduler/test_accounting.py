"""Accounting of finished attempts: realised emissions, counterfactual, savings, corrections."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.accounting import (
    Pricing,
    account,
    correct,
    counterfactual_segments,
    effective_entries,
    needs_correction,
)
from scheduler.errors import ForecastUnavailable
from scheduler.model import EnergySegment
from tests.scheduler.ledger_factories import HOUR, MJ_PER_KWH, T0, job, outcome, series

values_st = st.lists(st.floats(min_value=0, max_value=1500), min_size=12, max_size=12)


def test_deferred_job_is_priced_at_the_window_it_ran_in() -> None:
    """1 kWh run in hour 2 (100 g/kWh) instead of hour 0 (400 g/kWh) saves 300 g, 75 %."""
    grid = series("DE", [400, 250, 100, 100])
    attempt = outcome(job(), start=T0 + 2 * HOUR)
    entry = account(attempt, Pricing(intensity=grid, home_intensity=grid), version="t")
    assert entry.emissions_g == pytest.approx(100.0)
    assert entry.counterfactual_emissions_g == pytest.approx(400.0)
    assert entry.savings_g == pytest.approx(300.0)
    assert entry.savings_pct == pytest.approx(75.0)
    assert entry.deferral_s == 2 * 3600


def test_run_straddling_steps_is_priced_per_step() -> None:
    """A run over half of a 400 step and half of a 200 step averages 300 g/kWh."""
    grid = series("DE", [400, 200, 100])
    attempt = outcome(job(), start=T0 + HOUR / 2, energy_mj=2 * MJ_PER_KWH)
    entry = account(attempt, Pricing(intensity=grid, home_intensity=grid), version="t")
    assert entry.intensity_g_per_kwh == pytest.approx(300.0)
    assert entry.emissions_g == pytest.approx(600.0)


def test_region_shift_prices_counterfactual_in_the_home_zone() -> None:
    """Run in FR at 50 g/kWh; the counterfactual ran at submission at home in DE (500)."""
    home, away = series("DE", [500, 500]), series("FR", [50, 50])
    attempt = outcome(job(), start=T0, zone="FR", home_zone="DE", region="fr-1")
    entry = account(attempt, Pricing(intensity=away, home_intensity=home), version="t")
    assert (entry.emissions_g, entry.counterfactual_emissions_g) == pytest.approx((50, 500))
    assert entry.home_zone == "DE"


def test_forecast_error_is_realised_minus_forecast() -> None:
    """The decision expected 120 g/kWh over the run; 100 was realised: error −20."""
    grid, forecast = series("DE", [100, 100]), series("DE", [120, 120])
    attempt = outcome(job(), start=T0)
    pricing = Pricing(intensity=grid, home_intensity=grid, decision_forecast=forecast)
    entry = account(attempt, pricing, version="t")
    assert entry.forecast_intensity_g_per_kwh == pytest.approx(120)
    assert entry.forecast_error_g_per_kwh == pytest.approx(-20)


def test_series_not_covering_the_run_is_a_forecast_fault() -> None:
    """History that ends before the run is reported naming the zone and the run."""
    grid = series("DE", [100])
    with pytest.raises(ForecastUnavailable, match="DE covers"):
        account(
            outcome(job(), start=T0 + HOUR),
            Pricing(intensity=grid, home_intensity=grid),
            version="t",
        )


@given(values=values_st, hours=st.integers(1, 6), energy=st.integers(0, 10 * MJ_PER_KWH))
def test_no_savings_when_run_at_submission_in_home_zone(
    values: list[float], hours: int, energy: int
) -> None:
    """Running at once at home costs exactly the counterfactual."""
    grid = series("DE", values)
    attempt = outcome(job(), start=T0, hours=hours, energy_mj=energy)
    entry = account(attempt, Pricing(intensity=grid, home_intensity=grid), version="t")
    assert entry.savings_g == pytest.approx(0.0, abs=1e-6)


@given(
    values=values_st,
    delay_min=st.integers(0, 300),
    energy=st.integers(1, 5 * MJ_PER_KWH),
    factor=st.integers(1, 50),
)
def test_emissions_are_linear_in_energy(
    values: list[float], delay_min: int, energy: int, factor: int
) -> None:
    """Scaling the energy by k scales emissions, counterfactual and savings by k."""
    grid = series("DE", values)
    start = T0 + timedelta(minutes=delay_min)
    pricing = Pricing(intensity=grid, home_intensity=grid)
    one = account(outcome(job(), start=start, energy_mj=energy), pricing, version="t")
    many = account(outcome(job(), start=start, energy_mj=energy * factor), pricing, version="t")
    assert many.emissions_g == pytest.approx(factor * one.emissions_g, rel=1e-9, abs=1e-9)
    assert many.savings_g == pytest.approx(factor * one.savings_g, rel=1e-9, abs=1e-6)


@given(spans=st.lists(st.tuples(st.integers(0, 120), st.integers(0, 120)), min_size=1, max_size=5))
def test_counterfactual_keeps_the_energy_profile_back_to_back(
    spans: list[tuple[int, int]],
) -> None:
    """The counterfactual has the same durations and energies, with no gaps, from submission."""
    cursor, segments = T0, []
    for gap, length in spans:
        start = cursor + timedelta(minutes=gap)
        end = start + timedelta(minutes=length)
        segments.append(EnergySegment(start=start, end=end, energy_mj=length * 1000))
        cursor = end
    shadow = counterfactual_segments(segments, T0)
    assert shadow[0].start == T0
    assert [s.end - s.start for s in shadow] == [s.end - s.start for s in segments]
    assert [s.energy_mj for s in shadow] == [s.energy_mj for s in segments]
    assert all(a.end == b.start for a, b in itertools.pairwise(shadow))


def test_correction_references_original_and_replaces_it_in_reports() -> None:
    """A forecast-priced entry gets a correction with realised values; reports use the latter."""
    forecast, realised = series("DE", [200, 200]), series("DE", [300, 300])
    pricing = Pricing(intensity=forecast, home_intensity=forecast, basis="forecast")
    original = account(outcome(job(), start=T0), pricing, version="t").model_copy(
        update={"sequence": 1}
    )
    assert needs_correction([original]) == [original]
    fixed = correct(original, intensity=realised, home_intensity=realised)
    assert (fixed.corrects_entry, fixed.intensity_basis) == (1, "realised")
    assert fixed.emissions_g == pytest.approx(300.0)
    assert original.emissions_g == pytest.approx(200.0)
    appended = fixed.model_copy(update={"sequence": 2})
    assert needs_correction([original, appended]) == []
    assert effective_entries([original, appended]) == [appended]
