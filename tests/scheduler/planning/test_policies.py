"""Properties every policy keeps, and the ones only carbonshift and the oracle promise."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.errors import UnknownPluginError
from scheduler.planning.policies import POLICIES, get_policy, policy_names
from scheduler.planning.problem import PlanProblem, plan_emissions_g
from scheduler.planning.validate import plan_violations
from tests.scheduler.planning.problems import witnessed_problems

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_registry_names_every_policy_default_first() -> None:
    """The registry lists carbonshift first and every baseline and the oracle after it."""
    expected = ["carbonshift", "carbon-time", "lowest-window", "oracle", "run-now", "threshold"]
    assert expected == policy_names()
    assert all(get_policy(name).name == name for name in POLICIES)


def test_unknown_policy_lists_the_valid_names() -> None:
    """Asking for a policy that does not exist names the valid ones."""
    with pytest.raises(UnknownPluginError, match="carbonshift, carbon-time"):
        get_policy("greenest")


@pytest.mark.parametrize("name", sorted(POLICIES))
@FAST
@given(problem=witnessed_problems(overhead=True))
def test_no_policy_returns_an_infeasible_plan(name: str, problem: PlanProblem) -> None:
    """Whatever the policy, no region is overcommitted and every placement obeys its job."""
    plan = get_policy(name).plan(problem)
    assert plan_violations(problem, plan) == []


@FAST
@given(problem=witnessed_problems(overhead=True))
def test_carbonshift_places_every_job_of_a_feasible_problem(problem: PlanProblem) -> None:
    """When a plan placing every job exists, carbonshift finds one (no missed deadline)."""
    plan = get_policy("carbonshift", exact_time_limit_s=None, polish_budget_s=None).plan(problem)
    assert plan.unplaced == ()


@FAST
@given(problem=witnessed_problems(), exact=st.booleans())
def test_carbonshift_never_beats_the_oracle(problem: PlanProblem, exact: bool) -> None:
    """No policy that places every job emits less than the oracle's proven lower bound."""
    oracle = get_policy("oracle").plan(problem)
    assert oracle.bound_g is not None
    options: dict[str, object] = {"exact_time_limit_s": None, "polish_budget_s": None}
    if not exact:
        options["exact_max_vars"] = 0
    for policy in [get_policy("carbonshift", **options), *(get_policy(n) for n in POLICIES)]:
        plan = policy.plan(problem)
        if not plan.unplaced:
            assert plan_emissions_g(problem, plan, problem.jobs) >= oracle.bound_g - 1e-6


@FAST
@given(problem=witnessed_problems(), shift=st.integers(1, 1000), exact=st.booleans())
def test_adding_a_constant_to_every_intensity_changes_no_decision(
    problem: PlanProblem, shift: int, exact: bool
) -> None:
    """With no resume overhead and equal PUEs, only differences in intensity matter."""
    options: dict[str, object] = {"exact_time_limit_s": None, "polish_budget_s": None}
    if not exact:
        options["exact_max_vars"] = 0
    policy = get_policy("carbonshift", **options)
    shifted = PlanProblem(
        start=problem.start,
        slot_s=problem.slot_s,
        region_names=problem.region_names,
        intensity=problem.intensity + shift,
        capacity=problem.capacity,
        jobs=problem.jobs,
        max_segments=problem.max_segments,
    )
    assert policy.plan(problem).placements == policy.plan(shifted).placements
