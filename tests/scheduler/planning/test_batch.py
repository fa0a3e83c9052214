"""Batch proposals: the same answers as placing each job alone, for many jobs at once."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.planning.batch import ASK, BatchPlacer
from scheduler.planning.carbonshift import latest_start_order
from scheduler.planning.greedy import construct, reinsert
from scheduler.planning.placement import Scores, place
from scheduler.planning.problem import Plan, PlanProblem
from scheduler.planning.validate import plan_violations
from tests.scheduler.planning.problems import witnessed_problems

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _batch(problem: PlanProblem) -> BatchPlacer:
    return BatchPlacer(
        problem.jobs,
        overhead_slots=problem.resume_overhead_slots,
        max_segments=problem.max_segments,
    )


@FAST
@given(problem=witnessed_problems(max_jobs=8, overhead=True), seed=st.integers(0, 2**16))
def test_a_proposal_scores_what_place_finds(problem: PlanProblem, seed: int) -> None:
    """Against any ledger, each proposal is absent exactly when ``place`` finds nothing, and
    otherwise costs what ``place``'s option costs (``ASK`` defers to ``place``)."""
    free = np.random.default_rng(seed).integers(0, 4, problem.capacity.shape).astype(np.int64)
    scores = Scores(base=problem.intensity)
    proposals = _batch(problem).propose(problem.jobs, scores, free)
    for job, proposal in zip(problem.jobs, proposals, strict=True):
        alone = place(
            job,
            free,
            scores,
            overhead_slots=problem.resume_overhead_slots,
            max_segments=problem.max_segments,
        )
        if proposal is ASK:
            continue
        assert (proposal is None) == (alone is None)
        if proposal is not None and alone is not None:
            assert abs(proposal.score - alone.score) <= 1e-9 * (1.0 + abs(alone.score))


@FAST
@given(problem=witnessed_problems(max_jobs=40, overhead=True), seed=st.integers(0, 2**16))
def test_batched_construction_equals_job_by_job(problem: PlanProblem, seed: int) -> None:
    """With no two options of equal score (a little noise on every intensity), construction
    with a batch places every job exactly where job-by-job construction does."""
    noise = np.random.default_rng(seed).random(problem.intensity.shape) * 1e-3
    scores = Scores(base=problem.intensity + noise)
    order = latest_start_order(problem.jobs)
    alone, alone_missed = construct(problem, order, scores, problem.capacity.copy())
    batch_free = problem.capacity.copy()
    batched, batch_missed = construct(problem, order, scores, batch_free, batch=_batch(problem))
    assert (alone, [j.id for j in alone_missed]) == (batched, [j.id for j in batch_missed])
    unplaced = tuple(j.id for j in batch_missed)
    assert plan_violations(problem, Plan(placements=batched, unplaced=unplaced)) == []


@FAST
@given(problem=witnessed_problems(max_jobs=40, overhead=True), exact=st.booleans())
def test_batched_local_search_keeps_the_plan_feasible(problem: PlanProblem, exact: bool) -> None:
    """A batched local-search pass never overcommits and never raises the plan's score."""
    scores = Scores(base=problem.intensity)
    order = latest_start_order(problem.jobs)
    free = problem.capacity.copy()
    placed, missed = construct(problem, order, scores, free)
    saved = reinsert(problem, order, placed, scores, free, batch=_batch(problem), exact=exact)
    assert saved >= 0.0
    unplaced = tuple(j.id for j in missed)
    assert plan_violations(problem, Plan(placements=placed, unplaced=unplaced)) == []
    expected_free = problem.capacity.copy()
    for job in problem.jobs:
        for seg in placed.get(job.id, ()):
            expected_free[seg.region, seg.start : seg.end] -= job.gpus
    assert (expected_free == free).all()
