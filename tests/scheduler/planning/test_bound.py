"""The LP lower bound: never above a feasible plan, equal to the optimum when integral."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scheduler.planning.bound import lower_bound_g
from scheduler.planning.exact import Window, solve
from scheduler.planning.oracle import OraclePolicy
from scheduler.planning.problem import PlanProblem, plan_emissions_g
from tests.scheduler.planning.problems import make_job, make_problem, witnessed_problems

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KWH_PER_SLOT = 0.3 * 0.25  # one 300 W GPU for one 15-minute slot


def _relaxation_g(problem: PlanProblem) -> float:
    """The oracle's own LP relaxation of the whole problem (``exact.solve``)."""
    window = Window(
        t0=0,
        t1=problem.slots,
        intensity=problem.intensity,
        capacity=problem.capacity,
        slot_h=problem.slot_s / 3600.0,
    )
    return solve(problem.jobs, window, None, relax=True).objective_g


def test_bound_is_the_optimum_when_the_relaxation_is_integral() -> None:
    """One GPU, one clean slot wanted by two jobs: the bound is the oracle's optimum."""
    problem = make_problem([[100.0, 10.0, 500.0]], 1, [make_job("a", 0, 2), make_job("b", 1, 3)])
    plan = OraclePolicy().plan(problem)
    expected = plan_emissions_g(problem, plan, problem.jobs)
    assert lower_bound_g(problem) == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(110.0 * KWH_PER_SLOT)


def test_last_slot_counts_for_the_fraction_really_run() -> None:
    """A 1.5-slot rigid job: whole first slot, half the second, at the cheapest start."""
    problem = make_problem([[10.0, 1.0, 100.0]], 1, [make_job("a", 0, 3, duration=2)])
    expected = (10.0 + 0.5 * 1.0) * KWH_PER_SLOT  # start 1 would cost 1 + 50
    assert lower_bound_g(problem, run_slots={"a": 1.5}) == pytest.approx(expected)


def test_buckets_let_capacity_average_over_slots() -> None:
    """Two 1-slot jobs want the clean slot 0 of a 1-GPU region: only buckets of 2 allow it."""
    problem = make_problem([[1.0, 50.0]], 1, [make_job("a", 0, 2), make_job("b", 0, 2)])
    assert lower_bound_g(problem) == pytest.approx(51.0 * KWH_PER_SLOT)
    assert lower_bound_g(problem, bucket_slots=2) == pytest.approx(2.0 * KWH_PER_SLOT)


def test_no_plan_placing_every_job_is_an_error() -> None:
    """Two jobs need the only slot of a 1-GPU region: the LP is infeasible."""
    problem = make_problem([[1.0]], 1, [make_job("a", 0, 1), make_job("b", 0, 1)])
    with pytest.raises(RuntimeError, match="infeasible"):
        lower_bound_g(problem)


def test_bad_arguments_name_the_fix() -> None:
    """Buckets under one slot and runs longer than the job are refused."""
    problem = make_problem([[1.0, 2.0]], 1, [make_job("a", 0, 2)])
    with pytest.raises(ValueError, match="bucket_slots"):
        lower_bound_g(problem, bucket_slots=0)
    with pytest.raises(ValueError, match="run_slots"):
        lower_bound_g(problem, run_slots={"a": 1.5})


@FAST
@given(problem=witnessed_problems(overhead=True), bucket=st.integers(1, 3))
def test_bound_never_exceeds_a_plan_that_places_every_job(
    problem: PlanProblem, bucket: int
) -> None:
    """Whatever the buckets, the oracle's full plan emits at least the bound."""
    plan = OraclePolicy().plan(problem)
    assume(not plan.unplaced)  # rounding with resume overheads may leave one out
    emitted = plan_emissions_g(problem, plan, problem.jobs)
    assert lower_bound_g(problem, bucket_slots=bucket) <= emitted + 1e-6 * max(1.0, emitted)


def test_an_interruptible_job_never_runs_in_two_regions_at_once() -> None:
    """Two regions share one clean slot: the job still needs a dirty one (the MILP's LP
    relaxation would run both halves in the clean slot, one per region)."""
    job = make_job("a", 0, 3, duration=2, regions=(0, 1), interruptible=True)
    problem = make_problem([[1.0, 100.0, 100.0], [1.0, 100.0, 100.0]], 1, [job])
    assert _relaxation_g(problem) == pytest.approx(2.0 * KWH_PER_SLOT)
    assert lower_bound_g(problem) == pytest.approx(101.0 * KWH_PER_SLOT)
    assert lower_bound_g(problem, one_region=False) == pytest.approx(2.0 * KWH_PER_SLOT)


@FAST
@given(problem=witnessed_problems(), bucket=st.integers(2, 3))
def test_bound_lies_above_the_oracle_relaxation_and_wider_buckets_lower_it(
    problem: PlanProblem, bucket: int
) -> None:
    """With 1-slot buckets the bound is at least ``exact.solve``'s LP; wider ones relax it."""
    tight = lower_bound_g(problem)
    assert tight >= _relaxation_g(problem) - 1e-6 * max(1.0, tight)
    assert lower_bound_g(problem, bucket_slots=bucket) <= tight + 1e-6 * max(1.0, tight)
