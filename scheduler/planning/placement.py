"""Where one job fits best, given the GPUs still free: the building block of every policy.

A job's *score* of a slot is a per-GPU-kW price in the units of ``PlanProblem.intensity``
(g/kWh, or g/kWh plus a congestion price). Window and slot costs are sums of scores over the
slots a job occupies, computed with numpy over every allowed region at once:

* ``best_window``: the cheapest contiguous run of ``duration_slots`` slots, by prefix sums;
* ``best_slots``: the cheapest set of slots (interruptible jobs), by ``argpartition``, then
  fitted to the segment rules by ``segments.fit_segments``.

Nothing here mutates its inputs; the caller owns the capacity ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scheduler.planning.problem import FloatArray, IntArray, PlanJob, Segment
from scheduler.planning.segments import BoolArray, fit_segments, runs

INF = float("inf")
#: ``slot_runs`` walks lists of up to this many slots in Python, longer ones with numpy
SHORT_RUN = 32


@dataclass(frozen=True, slots=True)
class Option:
    """A feasible placement of one job and its score (sum of slot scores)."""

    score: float
    segments: tuple[Segment, ...]
    #: the same slots as flat indices into a ``[region, slot]`` ledger (``region × slots +
    #: slot``), where the option comes from a batch: ``fits_option`` and ``take_option``
    #: then check and update a many-segment option in one numpy call
    cells: IntArray | None = field(default=None, compare=False, repr=False)


def _window(job: PlanJob) -> tuple[int, int]:
    return job.release_slot, job.deadline_slot


@dataclass(frozen=True, slots=True)
class Scores:
    """Slot scores a job is placed by: ``base + price / power_kw`` (price may be absent)."""

    base: FloatArray
    price: FloatArray | None = None

    def rows(self, job: PlanJob, regs: IntArray, lo: int, hi: int) -> FloatArray:
        """Scores of ``job`` for regions ``regs`` and slots ``lo ≤ t < hi``."""
        rows = self.base[regs, lo:hi]
        if self.price is None:
            return rows
        return rows + self.price[regs, lo:hi] * (1000.0 / job.power_w)


def best_window(job: PlanJob, free: IntArray, scores: Scores) -> Option | None:
    """Cheapest contiguous window of ``job`` in any allowed region where its GPUs fit."""
    lo, hi = _window(job)
    d = job.duration_slots
    n = hi - lo - d + 1
    if n <= 0 or d <= 0:
        return None
    regs = np.asarray(job.regions, dtype=np.int64)
    blocked = (free[regs, lo:hi] < job.gpus).astype(np.int64)
    zeros = np.zeros((len(regs), 1))
    nblocked = np.concatenate((zeros, blocked.cumsum(axis=1)), axis=1)
    csum = np.concatenate((zeros, scores.rows(job, regs, lo, hi).cumsum(axis=1)), axis=1)
    win = csum[:, d:] - csum[:, :n]
    win[(nblocked[:, d:] - nblocked[:, :n]) > 0] = INF
    flat = int(np.argmin(win))
    row, start = divmod(flat, n)
    value = float(win[row, start])
    if value == INF:
        return None
    seg = Segment(region=int(regs[row]), start=lo + start, end=lo + start + d)
    return Option(score=value, segments=(seg,))


def best_slots(
    job: PlanJob,
    free: IntArray,
    scores: Scores,
    *,
    overhead_slots: int = 0,
    max_segments: int = 8,
) -> Option | None:
    """Cheapest set of slots for an interruptible ``job`` in one allowed region.

    Every region is ranked by the sum of its ``duration_slots`` cheapest free slots; the best
    region's selection is then fitted to ``max_segments`` and the resume overhead. If the
    fitting had to change the selection, the best contiguous window is computed too and the
    cheaper of the two wins.
    """
    lo, hi = _window(job)
    d = job.duration_slots
    if hi - lo < d or d <= 0:
        return None
    regs = np.asarray(job.regions, dtype=np.int64)
    ok = free[regs, lo:hi] >= job.gpus
    vals = np.where(ok, scores.rows(job, regs, lo, hi), INF)
    row = 0
    if len(regs) > 1:
        row = int(np.partition(vals, d - 1, axis=1)[:, :d].sum(axis=1).argmin())
    chosen = np.argpartition(vals[row], d - 1)[:d]
    total = float(vals[row, chosen].sum())
    if total == INF:
        return None
    segs = slot_runs(np.sort(chosen), lo, int(regs[row]))
    if len(segs) == 1 or (overhead_slots == 0 and len(segs) <= max_segments):
        return Option(score=total, segments=segs)  # the cheapest slots obey the rules: optimal
    option = _fit_row(
        vals[row],
        chosen,
        lo,
        int(regs[row]),
        overhead=overhead_slots,
        max_segments=max_segments,
    )
    if option is not None and option.score <= total * (1 + 1e-9):
        return option  # fitting kept the cost: optimal
    window = best_window(job, free, scores)
    if option is None or (window is not None and window.score < option.score):
        return window
    return option


def slot_runs(slots: IntArray, lo: int, region: int) -> tuple[Segment, ...]:
    """Sorted slot offsets (from ``lo``) in ``region`` as segments of consecutive slots."""
    if len(slots) > SHORT_RUN:  # long runs: find the breaks with numpy
        breaks = np.flatnonzero(np.diff(slots) != 1)
        starts = slots[np.concatenate(([0], breaks + 1))] + lo
        ends = slots[np.concatenate((breaks, [len(slots) - 1]))] + lo + 1
        pairs = zip(starts.tolist(), ends.tolist(), strict=True)
        return tuple(Segment(region=region, start=a, end=b) for a, b in pairs)
    segs: list[Segment] = []  # short ones: a Python loop beats numpy's per-call overhead
    listed = slots.tolist()
    first = prev = listed[0]
    for slot in listed[1:]:
        if slot != prev + 1:
            segs.append(Segment(region=region, start=lo + first, end=lo + prev + 1))
            first = slot
        prev = slot
    segs.append(Segment(region=region, start=lo + first, end=lo + prev + 1))
    return tuple(segs)


def _fit_row(
    vals: FloatArray,
    chosen: IntArray,
    lo: int,
    region: int,
    *,
    overhead: int,
    max_segments: int,
) -> Option | None:
    d = len(chosen)
    mask = np.zeros(len(vals), dtype=bool)
    mask[chosen] = True
    pieces = runs(mask)
    if overhead == 0 and len(pieces) <= max_segments:
        segs = tuple(Segment(region=region, start=lo + a, end=lo + b) for a, b in pieces)
        return Option(score=float(vals[chosen].sum()), segments=segs)
    fitted = fit_segments(vals, mask, d, overhead, max_segments)
    if fitted is None:
        return None
    return Option(score=float(vals[fitted].sum()), segments=_segments(fitted, lo, region))


def _segments(mask: BoolArray, lo: int, region: int) -> tuple[Segment, ...]:
    return tuple(Segment(region=region, start=lo + a, end=lo + b) for a, b in runs(mask))


def place(
    job: PlanJob,
    free: IntArray,
    scores: Scores,
    *,
    overhead_slots: int = 0,
    max_segments: int = 8,
) -> Option | None:
    """Best option for ``job``: a window if non-interruptible, else a set of slots."""
    if job.interruptible and job.duration_slots > 1:
        return best_slots(
            job, free, scores, overhead_slots=overhead_slots, max_segments=max_segments
        )
    return best_window(job, free, scores)


def fits(free: IntArray, gpus: int, segments: tuple[Segment, ...]) -> bool:
    """True if ``gpus`` GPUs are free in every slot of ``segments``."""
    # a plain loop: ``all`` over a generator costs more than the check for one segment
    for seg in segments:  # noqa: SIM110
        if free[seg.region, seg.start : seg.end].min() < gpus:
            return False
    return True


def fits_option(free: IntArray, gpus: int, option: Option) -> bool:
    """``fits`` for ``option``'s slots, by its ``cells`` when it has them."""
    if option.cells is None:
        return fits(free, gpus, option.segments)
    return bool(free.ravel()[option.cells].min() >= gpus)


def take_option(free: IntArray, gpus: int, option: Option) -> None:
    """``take`` for ``option``'s slots, by its ``cells`` when it has them."""
    if option.cells is None or not free.flags.c_contiguous:
        take(free, gpus, option.segments)
    else:
        free.reshape(-1)[option.cells] -= gpus


def take(free: IntArray, gpus: int, segments: tuple[Segment, ...]) -> None:
    """Subtract ``gpus`` from ``free`` over ``segments`` (in place)."""
    for seg in segments:
        free[seg.region, seg.start : seg.end] -= gpus


def give(free: IntArray, gpus: int, segments: tuple[Segment, ...]) -> None:
    """Return ``gpus`` to ``free`` over ``segments`` (in place)."""
    for seg in segments:
        free[seg.region, seg.start : seg.end] += gpus


__all__ = [
    "INF",
    "Option",
    "Scores",
    "best_slots",
    "best_window",
    "fits",
    "fits_option",
    "give",
    "place",
    "slot_runs",
    "take",
    "take_option",
]
