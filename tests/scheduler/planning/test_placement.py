"""Placing one job: cheapest window, cheapest slots, segment rules."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.planning.placement import Scores, best_slots, best_window
from scheduler.planning.problem import PlanJob, Segment
from scheduler.planning.segments import fit_segments, runs


def _job(**changes: object) -> PlanJob:
    fields: dict[str, object] = {
        "id": "a",
        "gpus": 1,
        "duration_slots": 2,
        "release_slot": 0,
        "deadline_slot": 6,
        "regions": (0,),
    }
    fields.update(changes)
    return PlanJob(**fields)  # type: ignore[arg-type]


def test_window_takes_the_cheapest_run_where_the_gpus_are_free() -> None:
    """The cleanest pair of slots (1, 2) is full, so the next cleanest free pair wins."""
    scores = Scores(base=np.array([[9.0, 1.0, 1.0, 5.0, 2.0, 2.0]]))
    free = np.array([[2, 2, 0, 2, 2, 2]])
    option = best_window(_job(), free, scores)
    assert option is not None
    assert (Segment(region=0, start=4, end=6),) == option.segments


def test_window_chooses_between_regions() -> None:
    """A job allowed in two regions runs in the one with the cheaper window."""
    scores = Scores(base=np.array([[5.0, 5.0, 5.0], [7.0, 1.0, 1.0]]))
    option = best_window(_job(deadline_slot=3, regions=(0, 1)), np.full((2, 3), 1), scores)
    assert option is not None
    assert (Segment(region=1, start=1, end=3),) == option.segments


def test_interruptible_job_takes_its_cheapest_slots() -> None:
    """Interruptible: the two cheapest free slots, wherever they are."""
    scores = Scores(base=np.array([[1.0, 9.0, 9.0, 9.0, 1.0, 9.0]]))
    option = best_slots(_job(interruptible=True), np.full((1, 6), 1), scores)
    assert option is not None
    expected = (Segment(region=0, start=0, end=1), Segment(region=0, start=4, end=5))
    assert expected == option.segments


def test_segment_cap_merges_pieces() -> None:
    """With at most one segment, the cheapest contiguous window is used instead."""
    scores = Scores(base=np.array([[1.0, 9.0, 9.0, 3.0, 1.0, 9.0]]))
    option = best_slots(_job(interruptible=True), np.full((1, 6), 1), scores, max_segments=1)
    assert option is not None
    assert (Segment(region=0, start=3, end=5),) == option.segments


@settings(max_examples=60, deadline=None)
@given(
    vals=st.lists(st.integers(0, 50).map(float), min_size=3, max_size=30),
    data=st.data(),
)
def test_fitted_slots_obey_the_segment_rules(vals: list[float], data: st.DataObject) -> None:
    """Fitting keeps duration + (segments − 1) × overhead slots in at most the cap."""
    duration = data.draw(st.integers(1, len(vals) // 2 + 1))
    overhead = data.draw(st.integers(0, 2))
    cap = data.draw(st.integers(1, 4))
    row = np.array(vals)
    mask = np.zeros(len(vals), dtype=bool)
    mask[np.argsort(row, kind="stable")[:duration]] = True
    fitted = fit_segments(row, mask, duration, overhead, cap)
    if fitted is not None:
        pieces = runs(fitted)
        assert len(pieces) <= cap
        assert duration + (len(pieces) - 1) * overhead == int(fitted.sum())


def test_runs_lists_maximal_true_stretches() -> None:
    """``runs`` gives start and exclusive end of each stretch of True."""
    assert runs(np.array([True, True, False, True, False])) == [(0, 2), (3, 4)]
