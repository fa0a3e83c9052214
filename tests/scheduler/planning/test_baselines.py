"""The comparison policies do what their papers describe, and re-planning is incremental."""

from __future__ import annotations

from dataclasses import replace

from scheduler.planning.carbon_time import CarbonTimePolicy
from scheduler.planning.carbonshift import CarbonshiftPolicy
from scheduler.planning.problem import PlanJob, Segment
from scheduler.planning.run_now import RunNowPolicy
from scheduler.planning.threshold import ThresholdPolicy
from scheduler.planning.validate import plan_violations
from tests.scheduler.planning.problems import make_job, make_problem


def _job(job_id: str, release: int, deadline: int, duration: int = 2) -> PlanJob:
    return make_job(job_id, release, deadline, duration)


def test_run_now_queues_when_the_region_is_full() -> None:
    """One GPU: the second job starts when the first ends, whatever the intensity."""
    problem = make_problem([[900.0, 900.0, 1.0, 1.0, 900.0]], 1, [_job("a", 0, 5), _job("b", 0, 5)])
    plan = RunNowPolicy().plan(problem)
    assert plan.placements["a"] == (Segment(region=0, start=0, end=2),)
    assert plan.placements["b"] == (Segment(region=0, start=2, end=4),)


def test_carbon_time_weighs_saving_against_delay() -> None:
    """Waiting 1 slot saves 100 in 3 slots of completion (33 a slot), waiting 4 saves 180 in 6
    (30 a slot): Carbon-Time waits 1 slot, though waiting longer would save more."""
    problem = make_problem(
        [[200.0, 100.0, 100.0, 150.0, 60.0, 60.0, 60.0]], 5, [_job("a", 0, 7, duration=2)]
    )
    plan = CarbonTimePolicy().plan(problem)
    assert plan.placements["a"] == (Segment(region=0, start=1, end=3),)


def test_threshold_starts_at_the_first_clean_enough_slot() -> None:
    """The first slot at or below the day's 30th percentile is slot 2."""
    intensity = [[500.0, 400.0, 100.0, 50.0] + [300.0] * 96]
    problem = make_problem(intensity, 5, [_job("a", 0, 50)])
    plan = ThresholdPolicy().plan(problem)
    assert plan.placements["a"][0].start == 2


def test_replan_keeps_the_queue_and_places_the_arrival() -> None:
    """After one arrival the earlier placements stay; the new job gets a valid placement."""
    jobs = [_job(f"j{i}", 0, 12) for i in range(4)]
    problem = make_problem([[float(v) for v in [5, 4, 3, 2, 1, 1, 2, 3, 4, 5, 6, 7]]], 2, jobs)
    policy = CarbonshiftPolicy()
    before = policy.plan(problem)
    grown = replace(problem, jobs=[*jobs, _job("new", 0, 12)])
    after = policy.replan(grown, before)
    assert plan_violations(grown, after) == []
    assert {k: after.placements[k] for k in before.placements} == dict(before.placements)
    assert "new" in after.placements
