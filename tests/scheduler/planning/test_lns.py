"""Exact re-placement of a group of jobs: the rescue of a job no time window holds."""

from __future__ import annotations

import numpy as np

from scheduler.planning.lns import reoptimise, replace_jobs, rivals
from scheduler.planning.placement import take
from scheduler.planning.problem import Segment
from tests.scheduler.planning.problems import make_job, make_problem

#: region 0 is green, region 1 brown; one GPU in each
INTENSITY = [[10.0] * 8, [100.0] * 8]


def test_a_whole_horizon_job_is_rescued_by_moving_its_rival_away() -> None:
    """A job pinned to region 0 for the whole horizon is left out because a two-region job
    sits there: no time window short of the whole horizon helps, re-placing the rivals does
    (the other job moves to region 1), and a job placed elsewhere is left alone."""
    long = make_job("long", 0, 8, 8, interruptible=True)
    mover = make_job("mover", 0, 8, 2, regions=(0, 1))
    bystander = make_job("bystander", 0, 8, 1, regions=(1,))
    problem = make_problem(INTENSITY, 1, [long, mover, bystander])
    placed = {
        "mover": (Segment(region=0, start=0, end=2),),
        "bystander": (Segment(region=1, start=7, end=8),),
    }
    free = problem.capacity.copy()
    for segs in placed.values():
        take(free, 1, segs)

    assert not reoptimise(problem, placed, free.copy(), (0, 4), max_vars=10_000, time_limit_s=5)
    group = rivals(problem, long, placed)
    assert [job.id for job in group] == ["long", "mover"]
    assert replace_jobs(problem, placed, free, group, max_vars=10_000, time_limit_s=5)

    assert placed["long"] == (Segment(region=0, start=0, end=8),)
    assert [seg.region for seg in placed["mover"]] == [1]
    assert placed["bystander"] == (Segment(region=1, start=7, end=8),)
    expected = problem.capacity.copy()
    for job in (long, mover, bystander):
        take(expected, job.gpus, placed[job.id])
    np.testing.assert_array_equal(free, expected)
    assert (free >= 0).all()


def test_a_group_over_the_model_size_limit_is_not_touched() -> None:
    """Over ``max_vars`` the plan is left as it was and the call says so."""
    long = make_job("long", 0, 8, 8, interruptible=True)
    problem = make_problem(INTENSITY, 1, [long])
    placed: dict[str, tuple[Segment, ...]] = {}
    free = problem.capacity.copy()
    assert not replace_jobs(problem, placed, free, [long], max_vars=3, time_limit_s=5)
    assert placed == {}
    np.testing.assert_array_equal(free, problem.capacity)
