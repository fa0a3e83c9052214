"""Fitting a set of slots to the segment rules of interruptible jobs.

An interruptible job split into ``s`` segments runs ``duration + (s − 1) × overhead`` slots
(each resume costs ``overhead`` slots of extra run time) in at most ``max_segments``
segments. ``fit_segments`` starts from the cheapest slots and greedily closes the gap whose
filling is cheapest, trimming the most expensive segment ends or extending segments into their
cheapest free neighbours so the slot count stays exact. Segment counts only ever fall, so it
ends after at most as many rounds as there were segments.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt

from scheduler.planning.problem import FloatArray

BoolArray = npt.NDArray[np.bool_]
INF = float("inf")


def runs(mask: BoolArray) -> list[tuple[int, int]]:
    """The maximal runs of True in ``mask`` as ``(start, end)`` pairs, end exclusive."""
    padded = np.zeros(len(mask) + 2, dtype=np.int8)
    padded[1:-1] = mask
    edges = np.flatnonzero(padded[1:] != padded[:-1]).tolist()
    return list(zip(edges[::2], edges[1::2], strict=True))


def _ends(mask: BoolArray) -> BoolArray:
    """Selected slots at either end of a run (removing one never splits a run)."""
    left = np.concatenate(([False], mask[:-1]))
    right = np.concatenate((mask[1:], [False]))
    return mask & ~(left & right)


def _neighbours(mask: BoolArray, vals: FloatArray) -> BoolArray:
    """Free unselected slots next to a run (adding one never creates a run)."""
    left = np.concatenate(([False], mask[:-1]))
    right = np.concatenate((mask[1:], [False]))
    return ~mask & (left | right) & np.isfinite(vals)


def resize(vals: FloatArray, mask: BoolArray, need: int) -> BoolArray | None:
    """``mask`` trimmed or extended at run ends to exactly ``need`` slots, or None."""
    mask = mask.copy()
    while int(mask.sum()) > need:
        ends = np.where(_ends(mask), vals, -INF)
        mask[int(np.argmax(ends))] = False
    while int(mask.sum()) < need:
        near = np.where(_neighbours(mask, vals), vals, INF)
        slot = int(np.argmin(near))
        if near[slot] == INF:
            return None
        mask[slot] = True
    return mask


def _gap_delta(vals: FloatArray, mask: BoolArray, gap: tuple[int, int], overhead: int) -> float:
    """Estimated change of cost when ``gap`` is filled and the slot count is restored."""
    a, b = gap
    filled = vals[a:b]
    if not np.isfinite(filled).all():
        return INF
    surplus = (b - a) - overhead
    selected = np.sort(vals[mask])
    if surplus > 0:
        refund = float(selected[-surplus:].sum()) if surplus <= len(selected) else INF
        return float(filled.sum()) - refund
    return float(filled.sum())


def fit_segments(
    vals: FloatArray, mask: BoolArray, duration: int, overhead: int, max_segments: int
) -> BoolArray | None:
    """A selection of slots obeying the segment rules, near the cost of ``mask``, or None.

    ``vals`` holds each slot's score, ``inf`` where the job may not run.
    """
    current: BoolArray | None = mask
    while current is not None:
        segs = runs(current)
        need = duration + (len(segs) - 1) * overhead
        if int(current.sum()) != need:
            current = resize(vals, current, need)  # may drop a segment: count again
            continue
        gaps = [(b1, a2) for (_, b1), (a2, _) in itertools.pairwise(segs)]
        deltas = [_gap_delta(vals, current, gap, overhead) for gap in gaps]
        best = int(np.argmin(deltas)) if deltas else -1
        too_many = len(segs) > max_segments
        if best < 0 or deltas[best] == INF:
            return None if too_many else current
        if not too_many and deltas[best] >= 0:
            return current
        a, b = gaps[best]
        current = current.copy()
        current[a:b] = True
    return None


__all__ = ["BoolArray", "fit_segments", "resize", "runs"]
