"""The arrival forecast (last week's rigid jobs, again) and how the planner uses it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from scheduler.planning.arrivals import History, last_period_use
from scheduler.planning.carbonshift import CarbonshiftPolicy
from tests.scheduler.planning.problems import make_job, make_problem

PERIOD = 20


def history(*jobs: tuple[int, int, int, int, bool]) -> History:
    """Jobs as (release, deadline, duration, gpus, interruptible), all in region 0."""
    rows = np.array([job[:4] for job in jobs], dtype=np.int64).reshape(-1, 4)
    return History(
        release=rows[:, 0],
        deadline=rows[:, 1],
        duration=rows[:, 2],
        gpus=rows[:, 3],
        region=np.zeros(len(jobs), dtype=np.int64),
        interruptible=np.array([job[4] for job in jobs], dtype=np.bool_),
    )


def use(past: History, now: int = 30, slots: int = 16, scale: float = 1.0) -> list[int]:
    held = last_period_use(past, now=now, slots=slots, regions=1, period=PERIOD, scale=scale)
    return [int(v) for v in held[0]]


def test_last_weeks_rigid_job_is_expected_again_at_its_latest_window() -> None:
    """Released at 13 (now − period + 3), due 23: next period due at 43 = slot 13 from now."""
    held = use(history((13, 23, 4, 2, False)))
    assert held == [0] * 9 + [2] * 4 + [0] * 3


def test_scale_multiplies_the_gpus_and_rounds_down() -> None:
    assert max(use(history((13, 23, 4, 2, False)), scale=1.5)) == 3
    assert max(use(history((13, 23, 4, 1, False)), scale=0.5)) == 0


def test_interruptible_unseen_and_out_of_horizon_jobs_are_not_held() -> None:
    """A 40-slot horizon (longer than the period) would reach jobs released after now."""
    past = history(
        (13, 23, 4, 2, True),  # interruptible: runs in whatever pieces are free
        (31, 35, 2, 2, False),  # released after now (30): not known yet
        (9, 40, 4, 2, False),  # released more than a period ago
        (14, 55, 4, 2, False),  # due at slot 45 from now, past the 40-slot horizon
    )
    assert use(past, slots=40) == [0] * 40


def test_bad_period_or_scale_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="period 0 slots must be positive"):
        last_period_use(history(), now=0, slots=4, regions=1, period=0, scale=1.0)
    with pytest.raises(ValueError, match=r"scale -1\.0 at least 0"):
        last_period_use(history(), now=0, slots=4, regions=1, period=5, scale=-1.0)


def test_carbonshift_keeps_expected_gpus_free_when_known_jobs_fit_elsewhere() -> None:
    """The greenest slot is expected to be needed by an arrival: the known job moves off it."""
    job = make_job("a", 0, 4, 1, interruptible=False)
    plain = make_problem([[5.0, 4.0, 1.0, 3.0]], 1, [job])
    held = replace(plain, expected_use=np.array([[0, 0, 1, 0]], dtype=np.int64))
    policy = CarbonshiftPolicy()
    assert policy.plan(plain).placements["a"][0].start == 2
    assert policy.plan(held).placements["a"][0].start == 3


def test_carbonshift_ignores_the_forecast_when_it_would_leave_a_known_job_out() -> None:
    job = make_job("a", 0, 2, 2)
    problem = make_problem([[5.0, 4.0, 1.0]], 1, [job])
    held = replace(problem, expected_use=np.array([[1, 0, 0]], dtype=np.int64))
    plan = CarbonshiftPolicy().plan(held)
    assert plan.unplaced == ()
    assert plan.placements["a"][0].start == 0
