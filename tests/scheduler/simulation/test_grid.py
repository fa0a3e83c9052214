"""The slot grid and the exact step-function integral (Hypothesis properties)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from scheduler.model import IntensityTrace
from scheduler.simulation.grid import SlotGrid, StepIntegral

values = st.lists(st.floats(min_value=0, max_value=2000), min_size=1, max_size=30)


def trace_of(series: list[float], step_s: int = 900) -> IntensityTrace:
    start = np.arange(len(series), dtype=np.int64) * step_s
    return IntensityTrace(
        zone="Z", start_s=start, g_per_kwh=np.array(series), end_s=len(series) * step_s
    )


@given(values, st.data())
def test_integral_matches_a_per_second_sum_and_is_additive(
    series: list[float], data: st.DataObject
) -> None:
    """∫[a,b) equals the sum of the per-second values, and ∫[a,b) + ∫[b,c) = ∫[a,c)."""
    integral = StepIntegral(trace_of(series, step_s=60))
    end = len(series) * 60
    a, b, c = sorted(data.draw(st.lists(st.integers(0, end), min_size=3, max_size=3)))
    per_second = np.repeat(series, 60)
    assert np.isclose(integral.integral(a, c), per_second[a:c].sum(), rtol=1e-9, atol=1e-6)
    total = integral.integral(a, b) + integral.integral(b, c)
    assert np.isclose(total, integral.integral(a, c), rtol=1e-9, atol=1e-6)


@given(values)
def test_slot_means_average_the_steps(series: list[float]) -> None:
    """Hourly slots over 15-min steps are the mean of their four steps."""
    padded = series + [0.0] * (-len(series) % 4)
    integral = StepIntegral(trace_of(padded))
    grid = SlotGrid(origin_s=0, slot_s=3600, slots=len(padded) // 4)
    expected = np.array(padded).reshape(-1, 4).mean(axis=1)
    assert np.allclose(integral.slot_means(grid), expected)


def test_grid_rounds_releases_up_and_deadlines_down() -> None:
    """A job may start at the boundary at/after submission and end at the one at/before."""
    grid = SlotGrid.covering(1000, 10_000, 1800)
    assert grid.origin_s == 0
    assert (grid.ceil_slot(1000), grid.floor_slot(5000), grid.ceil_slot(3600)) == (1, 2, 2)
    assert grid.end_s >= 10_000
