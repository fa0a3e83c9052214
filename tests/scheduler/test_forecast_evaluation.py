"""Walk-forward evaluation: baselines as defined, past only, zero intensities left out."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from forecasts.naive import PersistenceForecaster, PreviousDayForecaster
from scheduler.forecast_evaluation import evaluate_zone, issue_count
from scheduler.model import IntensityTrace

START = datetime(2023, 1, 1, tzinfo=UTC)


def trace(values: list[float], *, step_s: int = 3600, zone: str = "DE") -> IntensityTrace:
    """A trace starting 2023-01-01 00:00 UTC on a uniform step."""
    start_s = int(START.timestamp()) + step_s * np.arange(len(values), dtype=np.int64)
    return IntensityTrace(
        zone=zone,
        start_s=start_s,
        g_per_kwh=np.array(values, dtype=np.float64),
        end_s=int(start_s[-1]) + step_s,
    )


def test_persistence_scores_as_the_persistence_baseline() -> None:
    """Evaluating the persistence forecaster gives exactly the persistence baseline's MAPE."""
    values = [100.0 + 50.0 * np.sin(i / 3.0) + (i % 7) for i in range(24 * 5)]
    scores = evaluate_zone(PersistenceForecaster(), trace(values), [1, 3, 24, 48])
    for score in scores:
        assert score.mape_model == score.mape_persistence


def test_previous_day_scores_as_the_previous_day_baseline() -> None:
    """Evaluating the previous-day forecaster gives exactly the previous-day baseline's MAPE,
    up to two days ahead (at 48 h: the same hour of the last observed day)."""
    values = [100.0 + 50.0 * np.sin(i / 3.0) + (i % 7) for i in range(24 * 6)]
    scores = evaluate_zone(PreviousDayForecaster(), trace(values), [1, 6, 24, 30, 48])
    for score in scores:
        assert score.mape_model == pytest.approx(score.mape_previous_day, rel=1e-12)


def test_persistence_mape_by_hand() -> None:
    """On 100, 200, 100, 200 … persistence one hour ahead is off by 100 % and 50 % in turn."""
    scores = evaluate_zone(PersistenceForecaster(), trace([100.0, 200.0] * 30), [1])
    assert scores[0].mape_persistence == pytest.approx(100.0 * (30 * 0.5 + 29 * 1.0) / 59)
    assert scores[0].scored == 59


def test_zero_intensities_are_left_out_and_counted() -> None:
    """Targets at 0 g/kWh are left out of every MAPE, which stays finite, and are counted."""
    values = [50.0, 0.0, 80.0, 60.0] * 12
    (score,) = evaluate_zone(PersistenceForecaster(), trace(values), [1])
    assert score.skipped_zero == 12
    assert score.scored == len(values) - 1 - 12
    assert np.isfinite(score.mape_model)


def test_evaluate_from_scores_only_later_issues() -> None:
    """With evaluate_from, the first scored forecast is issued at that instant (history
    through the hour before it), and everything earlier is history only."""
    values = [100.0] * 48 + [200.0] * 48
    cut = datetime(2023, 1, 3, tzinfo=UTC)
    (score,) = evaluate_zone(PersistenceForecaster(), trace(values), [1], evaluate_from=cut)
    assert score.scored == 48
    assert score.mape_persistence == pytest.approx(100.0 * 0.5 / 48)
    assert issue_count(trace(values), cut) == 48


def test_horizons_follow_the_data_step() -> None:
    """On half-hourly data a 1 h horizon is two steps ahead."""
    values = [100.0, 100.0, 300.0, 300.0] * 12
    (score,) = evaluate_zone(PersistenceForecaster(), trace(values, step_s=1800), [1])
    assert score.mape_persistence > 0.0


def test_a_gap_in_the_trace_is_refused() -> None:
    """Evaluation needs one uniform step and says where it breaks."""
    start_s = np.array([0, 3600, 7200, 14400], dtype=np.int64)
    gappy = IntensityTrace(zone="GB", start_s=start_s, g_per_kwh=np.ones(4), end_s=18000)
    expected = r"changes after 1970-01-01T02:00:00\+00:00 from 3600 s to 7200 s"
    with pytest.raises(ValueError, match=expected):
        evaluate_zone(PersistenceForecaster(), gappy, [1])
