"""The lag-ridge forecaster: no future, beats the naive forecasts, clear limits."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasts.cache import MemoryForecastCache
from forecasts.chain import ChainPolicy, ForecastChain
from forecasts.forecaster import LagRidgeConfig, LagRidgeForecaster
from forecasts.naive import PersistenceForecaster, PreviousDayForecaster
from forecasts.trace_replay import TraceReplayProvider
from forecasts.traces import trace_from_series
from forecasts.validation import ValidationRules
from scheduler.clock import FakeClock
from scheduler.errors import ForecastError, ForecastUnavailable
from scheduler.protocols import IntervalForecaster, SignalForecaster

DAYS = 80
SMALL = LagRidgeConfig(min_history_h=40 * 24, residual_window_h=30 * 24)


def grid_like(days: int = DAYS, seed: int = 0) -> np.ndarray:
    """Hourly intensity with a daily and weekly cycle and persistent (AR(1)) weather noise."""
    rng = np.random.default_rng(seed)
    hours = np.arange(days * 24)
    daily = 80.0 * np.sin(2 * math.pi * hours / 24) + 30.0 * np.sin(4 * math.pi * hours / 24)
    weekly = 40.0 * (hours // 24 % 7 >= 5)
    weather = np.zeros(len(hours))
    for i in range(1, len(hours)):
        weather[i] = 0.97 * weather[i - 1] + rng.normal(0.0, 12.0)
    return 350.0 + daily - weekly + weather


def mape(forecast: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute percentage error in percent."""
    return float(100.0 * np.mean(np.abs(forecast - actual) / actual))


def test_it_is_an_interval_forecaster() -> None:
    """The forecaster implements both forecaster protocols."""
    forecaster = LagRidgeForecaster()
    assert isinstance(forecaster, SignalForecaster)
    assert isinstance(forecaster, IntervalForecaster)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut_h=st.integers(min_value=45 * 24, max_value=DAYS * 24 - 60),
    shift=st.floats(min_value=-300.0, max_value=300.0),
)
def test_predictions_never_depend_on_data_after_the_issue_time(cut_h: int, shift: float) -> None:
    """Changing every value after the issue time changes nothing issued at that time, even
    for a forecaster that was earlier shown the changed future."""
    series = grid_like()
    changed = series.copy()
    changed[cut_h:] = np.maximum(changed[cut_h:] + shift, 0.0)
    seen_future = LagRidgeForecaster(SMALL)
    seen_future.predict("DE", changed.tolist(), 3600, 48)
    expected = LagRidgeForecaster(SMALL).predict("DE", series[:cut_h].tolist(), 3600, 48)
    assert seen_future.predict("DE", changed[:cut_h].tolist(), 3600, 48) == expected


def test_walking_forward_uses_only_the_past() -> None:
    """A forecaster walked hour by hour over two series that agree up to hour t issues the
    same forecasts up to t on both."""
    series = grid_like(days=50)
    changed = series.copy()
    changed[45 * 24 :] *= 1.5
    a, b = LagRidgeForecaster(SMALL), LagRidgeForecaster(SMALL)
    for t in range(41 * 24, 45 * 24 + 1, 7):
        assert a.predict("DE", series[:t].tolist(), 3600, 24) == b.predict(
            "DE", changed[:t].tolist(), 3600, 24
        )


def test_beats_persistence_and_previous_day_on_a_periodic_noisy_series() -> None:
    """On daily + weekly cycles with weather noise, the model's MAPE is below both naive
    forecasts' at 1, 6 and 24 hours ahead over three weeks of hourly issues, after half a year."""
    series = grid_like(days=200)
    model, persistence, previous = (
        LagRidgeForecaster(),
        PersistenceForecaster(),
        PreviousDayForecaster(),
    )
    issues = range(179 * 24, 200 * 24 - 24)
    for h in (1, 6, 24):
        actual = np.array([series[t + h - 1] for t in issues])
        scores = []
        for forecaster in (model, persistence, previous):
            fc = [forecaster.predict("DE", series[:t].tolist(), 3600, h)[-1] for t in issues]
            scores.append(mape(np.array(fc), actual))
        assert scores[0] < min(scores[1:]), (h, scores)


def test_short_history_is_a_clear_forecast_unavailable() -> None:
    """With less history than it needs the forecaster says how much it has and needs."""
    forecaster = LagRidgeForecaster()
    with pytest.raises(ForecastUnavailable, match=r"zone GB has 100 h of history.*1344 h"):
        forecaster.predict("GB", [200.0] * 100, 3600, 24)


def test_intervals_bracket_the_mean_and_cover_about_the_nominal_share() -> None:
    """lower ≤ mean ≤ upper everywhere, mean equals predict(), and about 80 % of outcomes 6 h
    ahead fall inside the 80 % interval."""
    series = grid_like()
    forecaster = LagRidgeForecaster(SMALL)
    inside = []
    for t in range(55 * 24, DAYS * 24 - 6, 3):
        band = forecaster.predict_interval("DE", series[:t].tolist(), 3600, 6)
        low, mean = np.array(band.lower_g_per_kwh), np.array(band.mean_g_per_kwh)
        high = np.array(band.upper_g_per_kwh)
        assert np.all(low <= mean)
        assert np.all(mean <= high)
        inside.append(low[-1] <= series[t + 5] <= high[-1])
    assert band.mean_g_per_kwh == tuple(forecaster.predict("DE", series[:t].tolist(), 3600, 6))
    assert 0.65 <= np.mean(inside) <= 0.95


def test_sub_hourly_history_gives_one_value_per_step() -> None:
    """Half-hourly history: the forecast has one value per half hour, constant within each
    hour, and skips the half hour already observed."""
    hourly = grid_like(days=45)
    half_hourly = np.repeat(hourly, 2)
    forecaster = LagRidgeForecaster(SMALL)
    values = forecaster.predict("DE", half_hourly.tolist(), 1800, 6)
    assert len(values) == 6
    assert values[0] == values[1]
    assert values[2] == values[3]
    odd = forecaster.predict("DE", half_hourly[:-1].tolist(), 1800, 5)
    assert len(odd) == 5
    assert odd[1] == odd[2]


def test_beyond_the_model_horizon_it_repeats_the_last_forecast_day() -> None:
    """Asked for more than max_horizon_h, it continues with the last 24 forecast hours."""
    config = LagRidgeConfig(min_history_h=40 * 24, max_horizon_h=48)
    values = LagRidgeForecaster(config).predict("DE", grid_like(days=45).tolist(), 3600, 60)
    assert len(values) == 60
    assert values[48:60] == values[24:36]


def test_a_step_that_does_not_divide_an_hour_is_refused() -> None:
    """A 7-minute step is a permanent forecast error naming the step."""
    with pytest.raises(ForecastError, match="step_s is 420"):
        LagRidgeForecaster().predict("DE", [1.0] * 10, 420, 4)


def test_zero_intensity_hours_are_handled() -> None:
    """Hours at 0 g/kWh (CA-ON has them) give finite, non-negative forecasts."""
    series = grid_like(days=45)
    series[::5] = 0.0
    values = LagRidgeForecaster(SMALL).predict("CA-ON", series.tolist(), 3600, 24)
    assert all(math.isfinite(v) and v >= 0.0 for v in values)


def test_the_failover_chain_fills_past_the_provider_horizon_with_it() -> None:
    """Given 8+ weeks of history, the chain's last link forecasts past the provider's 24 h
    and says so in the provenance."""
    now = datetime(2026, 11, 26, tzinfo=UTC)
    values = grid_like(days=DAYS)
    starts = [now - timedelta(hours=len(values) - 24 - i) for i in range(len(values))]
    clock = FakeClock(now)
    replay = TraceReplayProvider(
        {"DE": trace_from_series("DE", starts, values.tolist())}, clock=clock, horizon_h=24
    )
    chain = ForecastChain(
        default=[replay],
        cache=MemoryForecastCache(),
        clock=clock,
        rules=ValidationRules(),
        policy=ChainPolicy(ttl=timedelta(hours=2), history_window=timedelta(days=60)),
        forecaster=LagRidgeForecaster(),
        history=[replay],
    )
    forecast = chain.forecast("DE", now, now + timedelta(hours=48))
    assert len(forecast.points) == 48
    assert any("lag-ridge (fallback)" in note for note in forecast.provenance.notes)
    assert [p.g_per_kwh for p in forecast.points[:24]] == pytest.approx(values[-24:].tolist())


def test_a_constant_grid_is_forecast_as_constant() -> None:
    """A flat history (all features without variance) forecasts the same flat value."""
    values = LagRidgeForecaster(SMALL).predict("FR", [55.0] * (45 * 24), 3600, 30)
    assert values == pytest.approx([55.0] * 30)
