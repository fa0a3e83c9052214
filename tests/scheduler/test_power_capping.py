"""Carbon-aware power capping (``scheduler.planning.power_capping``): exact, feasible, greener."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from scheduler.planning.power_capping import (
    PowerCapPlan,
    PowerLevel,
    frontier,
    plan_power_caps,
)

PERIOD_S = 3600.0
# A V100-like curve: (limit W, draw W, relative throughput)
CURVE = [
    PowerLevel(limit_w=100, power_w=98, throughput=0.52),
    PowerLevel(limit_w=150, power_w=145, throughput=0.85),
    PowerLevel(limit_w=200, power_w=185, throughput=0.95),
    PowerLevel(limit_w=250, power_w=220, throughput=1.0),
]
FULL = [CURVE[-1]]

curves = st.lists(
    st.tuples(st.floats(50, 400), st.floats(0.2, 1.0)),  # (power, throughput)
    min_size=1,
    max_size=5,
).map(
    lambda pts: [
        PowerLevel(limit_w=100 + i, power_w=p, throughput=t) for i, (p, t) in enumerate(pts)
    ]
)
intensities = st.lists(st.floats(0, 800), min_size=4, max_size=14)


def _work_done(plan: PowerCapPlan) -> float:
    return sum(p.seconds * p.throughput for p in plan.pieces)


def _assert_contiguous(plan: PowerCapPlan) -> None:
    periods = sorted({p.period for p in plan.pieces})
    assert periods == list(range(periods[0], periods[-1] + 1))
    for period in periods[:-1]:
        assert sum(p.seconds for p in plan.pieces if p.period == period) == pytest.approx(PERIOD_S)


def test_dirty_hours_run_capped_and_clean_hours_at_full_power() -> None:
    """Two dirty then two clean hours, 3.2 h of work due in 4 h: throttle early, sprint late."""
    plan = plan_power_caps(
        levels=CURVE,
        work_s=3.2 * PERIOD_S,
        intensity_g_per_kwh=[600, 600, 100, 100],
        period_s=PERIOD_S,
        deadline_period=4,
    )
    assert plan is not None
    highest = {t: max(p.limit_w for p in plan.pieces if p.period == t) for t in range(4)}
    assert highest[0] <= 150
    assert highest[1] <= 150
    assert highest[2] == highest[3] == 250
    assert _work_done(plan) == pytest.approx(3.2 * PERIOD_S)


def test_infeasible_deadline_is_none() -> None:
    """Work that does not fit even at full power is an expected outcome: None."""
    plan = plan_power_caps(
        levels=CURVE,
        work_s=5 * PERIOD_S,
        intensity_g_per_kwh=[100] * 8,
        period_s=PERIOD_S,
        deadline_period=4,
    )
    assert plan is None


def test_constant_grid_chooses_the_energy_optimal_limit() -> None:
    """With a flat intensity and time to spare, the plan runs at the least energy per work."""
    plan = plan_power_caps(
        levels=CURVE,
        work_s=2 * PERIOD_S,
        intensity_g_per_kwh=[300] * 10,
        period_s=PERIOD_S,
        deadline_period=10,
    )
    best = min(CURVE, key=lambda lv: lv.power_w / lv.throughput)
    assert plan is not None
    assert plan.energy_kwh == pytest.approx(2 * PERIOD_S * best.power_w / best.throughput / 3.6e6)


def test_frontier_drops_dominated_and_concave_levels() -> None:
    """A level slower and dearer than another, or above the hull, is never used."""
    dominated = PowerLevel(limit_w=120, power_w=150, throughput=0.6)
    above = PowerLevel(limit_w=225, power_w=215, throughput=0.96)
    hull = frontier([*CURVE, dominated, above], idle=False)
    assert dominated not in hull
    assert above not in hull
    assert hull[0] == CURVE[0]
    assert hull[-1] == CURVE[-1]


@settings(max_examples=60, deadline=None)
@given(levels=curves, intensity=intensities, work_h=st.floats(0.3, 4))
def test_capping_never_emits_more_than_time_shifting(
    levels: list[PowerLevel], intensity: list[float], work_h: float
) -> None:
    """(c) ≤ (a) and (b): every fixed-cap schedule is one of the plans (c) may choose."""
    kwargs = {
        "work_s": work_h * PERIOD_S,
        "intensity_g_per_kwh": intensity,
        "period_s": PERIOD_S,
        "deadline_period": len(intensity),
    }
    capped = plan_power_caps(levels=levels, **kwargs)  # type: ignore[arg-type]
    for level in levels:
        fixed = plan_power_caps(levels=[level], **kwargs)  # type: ignore[arg-type]
        if fixed is not None:
            assert capped is not None
            assert capped.emissions_g <= fixed.emissions_g + 1e-6


@settings(max_examples=60, deadline=None)
@given(levels=curves, intensity=intensities, work_h=st.floats(0.3, 4), inter=st.booleans())
def test_plans_do_the_work_by_the_deadline(
    levels: list[PowerLevel], intensity: list[float], work_h: float, inter: bool
) -> None:
    """A plan does exactly the work, ends by the deadline, and has no gap unless interruptible."""
    plan = plan_power_caps(
        levels=levels,
        work_s=work_h * PERIOD_S,
        intensity_g_per_kwh=intensity,
        period_s=PERIOD_S,
        deadline_period=len(intensity),
        interruptible=inter,
    )
    if plan is None:
        fastest = max(lv.throughput for lv in levels)
        assert work_h > fastest * len(intensity) - 1e-6 or not inter
        return
    assert _work_done(plan) == pytest.approx(work_h * PERIOD_S, rel=1e-6)
    assert plan.end_s(PERIOD_S) <= len(intensity) * PERIOD_S + 1e-6
    if not inter:
        _assert_contiguous(plan)


@settings(max_examples=60, deadline=None)
@given(levels=curves, intensity=intensities, work_h=st.floats(0.3, 4))
def test_interruptible_plan_matches_the_linear_programme(
    levels: list[PowerLevel], intensity: list[float], work_h: float
) -> None:
    """The greedy equals HiGHS on the same LP (fractions of each period at each level)."""
    work_s = work_h * PERIOD_S
    plan = plan_power_caps(
        levels=levels,
        work_s=work_s,
        intensity_g_per_kwh=intensity,
        period_s=PERIOD_S,
        deadline_period=len(intensity),
        interruptible=True,
    )
    periods, count = len(intensity), len(levels)
    cost = [intensity[t] * lv.power_w * PERIOD_S / 3.6e6 for t in range(periods) for lv in levels]
    work_row = [-lv.throughput * PERIOD_S for _ in range(periods) for lv in levels]
    per_period = np.kron(np.eye(periods), np.ones(count))
    result = linprog(
        cost,
        A_ub=np.vstack([work_row, per_period]),
        b_ub=[-work_s, *([1.0] * periods)],
        bounds=(0, None),
        method="highs",
    )
    if result.status == 2:  # infeasible
        assert plan is None
        return
    assert plan is not None
    assert plan.emissions_g == pytest.approx(result.fun, rel=1e-6, abs=1e-6)


def test_a_fixed_start_is_kept_and_costs_no_less_than_a_free_one() -> None:
    """``start_fixed``: the job starts in ``earliest_period`` although a later start is cleaner,
    does all its work by the deadline, and emits no less than with a free start."""
    dirty_then_clean = [600.0, 600.0, 100.0, 100.0, 100.0, 100.0]
    common = {
        "levels": CURVE,
        "work_s": 2 * PERIOD_S,
        "intensity_g_per_kwh": dirty_then_clean,
        "period_s": PERIOD_S,
        "deadline_period": 6,
    }
    fixed = plan_power_caps(**common, start_fixed=True)  # type: ignore[arg-type]
    free = plan_power_caps(**common)  # type: ignore[arg-type]
    assert fixed is not None
    assert free is not None
    assert (fixed.start_period, free.start_period) == (0, 2)
    assert _work_done(fixed) == pytest.approx(2 * PERIOD_S)
    assert fixed.end_s(PERIOD_S) <= 6 * PERIOD_S
    assert fixed.emissions_g >= free.emissions_g
