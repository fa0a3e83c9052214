"""Room kept for late work: its price, where none can be kept; it never lowers the bound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.planning.bound import lower_bound_g
from scheduler.planning.problem import PlanJob, PlanProblem
from scheduler.planning.readiness import LateWork, late_work, readiness_bound_g
from tests.scheduler.planning.problems import make_job, make_problem, witnessed_problems

KWH_PER_SLOT = 0.3 * 0.25  # one 300 W GPU for one 15-minute slot
# two "weeks" of 10 slots on one GPU: dear first halves, clean second halves
WEEKS = [[100.0] * 5 + [10.0] * 5 + [100.0] * 5 + [10.0] * 5]


def _two_weeks(first_release: int, *extra: PlanJob) -> PlanProblem:
    """Week one: job a (3 slots). Week two, the reference: b1 early, b2 (3 slots) late."""
    jobs = [
        make_job("a", first_release, 10, 3, interruptible=True),
        make_job("b1", 10, 20, 2, interruptible=True),
        make_job("b2", 16, 20, 3, interruptible=True),
        *extra,
    ]
    return make_problem(WEEKS, 1, jobs)


def test_late_work_counts_what_is_submitted_within_h_slots_of_the_reference() -> None:
    """b2 (3 GPU-slots) comes 4 slots before slot 20; b1 10 slots before: beyond h = 10."""
    late = late_work(_two_weeks(0), reference=20, period_slots=10)
    assert late.deadlines == (10, 20)
    assert late.late.tolist() == [0, 0, 0, 0, 0, 3, 3, 3, 3, 3, 3]


def test_keeping_room_moves_work_into_dear_slots() -> None:
    """Week one must leave 3 GPU-slots free from slot 5: a runs one slot early, at 100."""
    problem = _two_weeks(0)
    late = late_work(problem, reference=20, period_slots=10)
    bound = readiness_bound_g(problem, late)
    assert lower_bound_g(problem) == pytest.approx(80.0 * KWH_PER_SLOT)
    assert bound.emissions_g == pytest.approx(170.0 * KWH_PER_SLOT)
    assert (bound.ready, bound.unready, bound.solves) == ((10, 20), (), 1)


def test_work_submitted_after_a_slot_is_not_known_there() -> None:
    """c (due 9) comes at slot 7: the room kept at slot 5 counts a's work only.

    Counting c there would make a run two slots at 100 instead of one.
    """
    problem = _two_weeks(0, make_job("c", 7, 9, 1, interruptible=True))
    bound = readiness_bound_g(problem, late_work(problem, reference=20, period_slots=10))
    assert bound.emissions_g == pytest.approx(180.0 * KWH_PER_SLOT)
    assert bound.unready == ()


def test_room_no_plan_can_keep_is_dropped_and_named() -> None:
    """Released at slot 5, a cannot leave 3 of the 5 slots free: deadline 10 is unready."""
    problem = _two_weeks(5)
    lines: list[str] = []
    bound = readiness_bound_g(problem, late_work(problem, 20, 10), progress=lines.append)
    assert bound.emissions_g == pytest.approx(lower_bound_g(problem))
    assert (bound.ready, bound.unready, bound.solves) == ((20,), (10,), 2)
    assert lines == [
        "solve 1: 2 deadlines kept ready, 1 short",
        "solve 2: 1 deadlines kept ready, 0 short",
    ]


def test_a_deadline_with_no_job_due_is_refused_with_the_choices() -> None:
    """The reference must be a deadline of the problem (the message lists some); the
    period positive and the late work never negative."""
    with pytest.raises(ValueError, match=r"no job is due at slot 7.*\[10, 20\]"):
        late_work(_two_weeks(0), reference=7, period_slots=10)
    with pytest.raises(ValueError, match="period_slots"):
        late_work(_two_weeks(0), reference=20, period_slots=0)
    negative = LateWork(deadlines=(10,), late=np.array([0.0, -1.0]))
    with pytest.raises(ValueError, match="late work must be GPU-slots ≥ 0"):
        readiness_bound_g(_two_weeks(0), negative)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=witnessed_problems(), late=st.lists(st.integers(0, 3), min_size=1, max_size=6))
def test_room_never_lowers_the_bound_and_none_changes_nothing(
    problem: PlanProblem, late: list[int]
) -> None:
    """More rows can only raise the LP's optimum; with no late work it is the plain bound."""
    deadlines = tuple(sorted({j.deadline_slot for j in problem.jobs}))
    plain = lower_bound_g(problem, one_region=False)
    profile = np.cumsum([0, *late]).astype(np.float64)
    ready = readiness_bound_g(problem, LateWork(deadlines=deadlines, late=profile))
    none = readiness_bound_g(problem, LateWork(deadlines=deadlines, late=np.zeros(3)))
    assert ready.emissions_g >= plain - 1e-6 * max(1.0, plain)
    assert none.emissions_g == pytest.approx(plain, rel=1e-6, abs=1e-9)
    assert set(ready.ready) | set(ready.unready) == set(deadlines)
