"""The plan checker names every broken rule."""

from __future__ import annotations

from scheduler.planning.problem import Plan, PlanJob, Segment
from scheduler.planning.validate import plan_violations
from tests.scheduler.planning.problems import make_problem


def _job(job_id: str, interruptible: bool = False) -> PlanJob:
    return PlanJob(
        id=job_id,
        gpus=1,
        duration_slots=2,
        release_slot=1,
        deadline_slot=5,
        regions=(0,),
        interruptible=interruptible,
    )


def test_overcommit_window_and_split_are_reported() -> None:
    """Two jobs on one GPU in slot 2, one before its release, one split while it may not."""
    problem = make_problem([[1.0] * 6], 1, [_job("a"), _job("b")])
    plan = Plan(
        placements={
            "a": (Segment(region=0, start=0, end=2),),
            "b": (Segment(region=0, start=2, end=3), Segment(region=0, start=4, end=5)),
        }
    )
    found = "\n".join(plan_violations(problem, plan))
    assert "a: runs 0–2 outside its window 1–5" in found
    assert "b: non-interruptible job split into 2 segments" in found


def test_a_valid_plan_has_no_violation() -> None:
    """An interruptible job in two pieces inside its window, capacity respected."""
    problem = make_problem([[1.0] * 6], 1, [_job("a", interruptible=True)])
    plan = Plan(
        placements={"a": (Segment(region=0, start=1, end=2), Segment(region=0, start=3, end=4))}
    )
    assert plan_violations(problem, plan) == []


def test_overcommitted_slot_is_reported() -> None:
    """Both jobs in slots 1–3 of a one-GPU region."""
    problem = make_problem([[1.0] * 6], 1, [_job("a"), _job("b")])
    seg = (Segment(region=0, start=1, end=3),)
    assert any(
        "overcommitted" in v
        for v in plan_violations(problem, Plan(placements={"a": seg, "b": seg}))
    )
