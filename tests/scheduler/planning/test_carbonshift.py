"""carbonshift and the exact model when not every job fits or the LP relaxation cheats."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.planning.carbonshift import CarbonshiftPolicy
from scheduler.planning.exact import Window, solve
from scheduler.planning.problem import PlanProblem
from scheduler.planning.validate import plan_violations
from tests.scheduler.planning.problems import make_job, make_problem, witnessed_problems

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _crowded() -> PlanProblem:
    """One GPU for 4 slots and 5 slots of work: leaving out job c (1 slot) is enough."""
    return make_problem(
        [[10.0, 20.0, 30.0, 40.0]],
        1,
        [
            make_job("a", 0, 4, 2, interruptible=True),
            make_job("b", 0, 4, 2, interruptible=True),
            make_job("c", 0, 4, 1, interruptible=True),
        ],
    )


def test_the_per_kwh_penalty_alone_leaves_out_a_share_of_several_jobs_or_one() -> None:
    """Baseline of the next test: the plain LP leaves out one slot of work, spread or not."""
    problem = _crowded()
    window = Window(t0=0, t1=4, intensity=problem.intensity, capacity=problem.capacity, slot_h=0.25)
    sol = solve(problem.jobs, window, None)
    left_out = [sol.values[b.u] * b.job.duration_slots for b in sol.blocks]
    assert abs(sum(left_out) - 1.0) < 1e-6


def test_fewest_left_out_leaves_out_one_whole_job() -> None:
    """With ``fewest_left_out`` the only job left out is c, whole, and a and b fit."""
    problem = _crowded()
    window = Window(t0=0, t1=4, intensity=problem.intensity, capacity=problem.capacity, slot_h=0.25)
    sol = solve(problem.jobs, window, None, fewest_left_out=True)
    left_out = {b.job.id: round(float(sol.values[b.u]), 6) for b in sol.blocks}
    assert left_out == {"a": 0.0, "b": 0.0, "c": 1.0}


def test_carbonshift_misses_only_the_job_that_cannot_fit() -> None:
    """The policy's plan: a and b placed in the four slots, c listed as unplaced."""
    problem = _crowded()
    plan = CarbonshiftPolicy().plan(problem)
    assert plan_violations(problem, plan) == []
    assert sorted(plan.placements) == ["a", "b"]
    assert plan.unplaced == ("c",)


@st.composite
def squeezed_problems(draw: st.DrawFn) -> PlanProblem:
    """A witnessed problem with some capacity taken away: often not every job fits."""
    problem = draw(witnessed_problems())
    cut = draw(st.integers(0, 3))
    capacity = np.maximum(problem.capacity - cut, 0)
    return make_problem(problem.intensity.tolist(), capacity.tolist(), problem.jobs)


@FAST
@given(problem=squeezed_problems(), exact=st.booleans())
def test_every_job_is_placed_or_listed_as_unplaced(problem: PlanProblem, exact: bool) -> None:
    """No job silently disappears from a plan, on the exact path or the heuristic one."""
    policy = CarbonshiftPolicy(exact_max_vars=40_000 if exact else 0)
    plan = policy.plan(problem)
    assert plan_violations(problem, plan) == []
    assert set(plan.placements).isdisjoint(plan.unplaced)
    assert set(plan.placements) | set(plan.unplaced) == {job.id for job in problem.jobs}


def test_whole_interruptible_jobs_do_not_split_gpus_across_regions() -> None:
    """A 2-GPU job cannot run on one free GPU in each of two regions; the LP lets it.

    Slot 0 is clean but has one GPU free per region; slot 1 is dirty with two GPUs free in
    region 0. The LP runs half the job in each region in slot 0; the exact model (used by the
    oracle on small problems) must pay for slot 1.
    """
    job = make_job("a", 0, 2, gpus=2, regions=(0, 1), interruptible=True)
    problem = make_problem([[1.0, 100.0], [1.0, 100.0]], [[1, 2], [1, 0]], [job])
    window = Window(t0=0, t1=2, intensity=problem.intensity, capacity=problem.capacity, slot_h=0.25)
    kwh = 2 * 0.3 * 0.25
    relaxed = solve(problem.jobs, window, None)
    whole = solve(problem.jobs, window, None, whole_interruptible=True)
    assert abs(relaxed.objective_g - kwh * 1.0) < 1e-6
    assert abs(whole.objective_g - kwh * 100.0) < 1e-6
