"""The oracle: exact on small problems, cut into independent time components."""

from __future__ import annotations

import numpy as np
import pytest

from scheduler.errors import OracleLimitError
from scheduler.planning.lowest_window import LowestWindowPolicy
from scheduler.planning.oracle import OraclePolicy, components
from scheduler.planning.problem import plan_emissions_g
from scheduler.planning.validate import plan_violations
from tests.scheduler.planning.problems import make_job, make_problem


def test_components_split_where_no_window_crosses() -> None:
    """Jobs whose windows chain stay together; a job after a gap starts a new component."""
    jobs = [make_job("a", 0, 3), make_job("b", 2, 5), make_job("c", 5, 8)]
    assert [[j.id for j in group] for group in components(jobs)] == [["a", "b"], ["c"]]


def test_oracle_gives_the_green_slot_to_the_job_that_needs_it() -> None:
    """One GPU, one clean slot: the first-come greedy wastes it, the oracle does not.

    Job a may run in slot 0 or 1, job b only in slot 1 or 2; slot 1 is clean. Greedy gives
    slot 1 to a, leaving b the dirty slot 2; the optimum runs a in 0 and b in 1.
    """
    problem = make_problem([[100.0, 10.0, 500.0]], 1, [make_job("a", 0, 2), make_job("b", 1, 3)])
    oracle = OraclePolicy().plan(problem)
    greedy = LowestWindowPolicy().plan(problem)
    assert plan_violations(problem, oracle) == []
    best = plan_emissions_g(problem, oracle, problem.jobs)
    assert best < plan_emissions_g(problem, greedy, problem.jobs)
    assert oracle.bound_g is not None
    assert abs(best - oracle.bound_g) < 1e-6


def test_oracle_leaves_out_only_what_cannot_fit() -> None:
    """Two jobs that both need the single slot 0 of a 1-GPU region: one is unplaced."""
    problem = make_problem([[1.0, 1.0]], 1, [make_job("a", 0, 1), make_job("b", 0, 1)])
    plan = OraclePolicy().plan(problem)
    assert len(plan.unplaced) == 1
    assert len(plan.placements) == 1


def test_non_interruptible_jobs_get_one_contiguous_run() -> None:
    """The MILP places a 2-slot job in its cheapest contiguous pair."""
    problem = make_problem([[5.0, 1.0, 9.0, 1.0, 1.0]], 1, [make_job("a", 0, 5, duration=2)])
    plan = OraclePolicy().plan(problem)
    seg = plan.placements["a"]
    assert [(s.start, s.end) for s in seg] == [(3, 5)]


def test_oracle_without_any_answer_in_its_limit_says_how_to_get_one() -> None:
    """A big component whose LP relaxation HiGHS cannot solve within the time limit raises
    an error naming the jobs, the limit and the two ways out, not HiGHS's bare status."""
    rng = np.random.default_rng(0)
    starts, lengths = rng.integers(0, 60, 300), rng.integers(2, 10, 300)
    jobs = [
        make_job(f"j{i}", int(r), int(r) + 30, duration=int(d))
        for i, (r, d) in enumerate(zip(starts, lengths, strict=True))
    ]
    problem = make_problem([rng.uniform(50, 500, 96).tolist()], 40, jobs)
    with pytest.raises(OracleLimitError, match=r"LP relaxation of 300 jobs .*time_limit_s"):
        OraclePolicy(time_limit_s=1e-6, max_binaries=10).plan(problem)
