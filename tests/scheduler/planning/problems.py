"""Small random planning problems for property tests, and a helper to build one by hand.

``witnessed_problems`` draws problems that are feasible by construction: each job is first
given a placement (the witness), its window is widened around it, and every slot's capacity
is at least what the witnesses use there, so a plan that places every job exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
from hypothesis import strategies as st

from scheduler.planning.problem import PlanJob, PlanProblem

START = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)


def make_job(
    job_id: str,
    release: int,
    deadline: int,
    duration: int = 1,
    *,
    gpus: int = 1,
    regions: tuple[int, ...] = (0,),
    interruptible: bool = False,
) -> PlanJob:
    """A job by hand: by default one GPU in region 0, non-interruptible."""
    return PlanJob(
        id=job_id,
        gpus=gpus,
        duration_slots=duration,
        release_slot=release,
        deadline_slot=deadline,
        regions=regions,
        interruptible=interruptible,
    )


def make_problem(
    intensity: Sequence[Sequence[float]],
    capacity: Sequence[Sequence[int]] | int,
    jobs: Sequence[PlanJob],
    *,
    resume_overhead_slots: int = 0,
    max_segments: int = 8,
) -> PlanProblem:
    """A problem on a 15-minute grid starting at ``START``."""
    grid = np.asarray(intensity, dtype=np.float64)
    caps = (
        np.full(grid.shape, capacity, dtype=np.int64)
        if isinstance(capacity, int)
        else np.asarray(capacity, dtype=np.int64)
    )
    return PlanProblem(
        start=START,
        slot_s=900,
        region_names=tuple(f"r{i}" for i in range(grid.shape[0])),
        intensity=grid,
        capacity=caps,
        jobs=list(jobs),
        resume_overhead_slots=resume_overhead_slots,
        max_segments=max_segments,
    )


@st.composite
def witnessed_problems(
    draw: st.DrawFn, *, max_jobs: int = 6, overhead: bool = False
) -> PlanProblem:
    """A small problem with a known feasible plan (see the module docstring)."""
    regions = draw(st.integers(1, 3))
    slots = draw(st.integers(4, 16))
    intensity = draw(
        st.lists(
            st.lists(st.integers(0, 500).map(float), min_size=slots, max_size=slots),
            min_size=regions,
            max_size=regions,
        )
    )
    used = np.zeros((regions, slots), dtype=np.int64)
    jobs = []
    for i in range(draw(st.integers(1, max_jobs))):
        gpus = draw(st.integers(1, 3))
        duration = draw(st.integers(1, min(4, slots)))
        start = draw(st.integers(0, slots - duration))
        region = draw(st.integers(0, regions - 1))
        used[region, start : start + duration] += gpus
        others = draw(st.sets(st.integers(0, regions - 1), max_size=regions))
        jobs.append(
            PlanJob(
                id=f"j{i}",
                gpus=gpus,
                duration_slots=duration,
                release_slot=draw(st.integers(0, start)),
                deadline_slot=draw(st.integers(start + duration, slots)),
                regions=tuple(sorted(others | {region})),
                interruptible=draw(st.booleans()),
                power_w=float(draw(st.sampled_from([200, 300, 400]))),
                home_region=region,
            )
        )
    extra = np.asarray(
        draw(
            st.lists(
                st.lists(st.integers(0, 2), min_size=slots, max_size=slots),
                min_size=regions,
                max_size=regions,
            )
        )
    )
    return make_problem(
        intensity,
        (used + extra).tolist(),
        jobs,
        resume_overhead_slots=draw(st.integers(0, 1)) if overhead else 0,
        max_segments=draw(st.integers(1, 4)),
    )
