"""Where many jobs fit best at once: ``placement.place`` for a whole batch of jobs.

``placement.place`` answers "where does this job fit best among the GPUs still free" with a
dozen small numpy calls per job; for thousands of 1–16-slot jobs the per-call overhead, not
the arithmetic, is the cost. ``BatchPlacer.propose`` answers the same question for a chunk
of jobs against one capacity ledger in a few large numpy operations: one row per job and
allowed region, padded to the chunk's longest window.

A proposal computed against a ledger stays right while the ledger only loses GPUs, as long as
it still fits: the cheapest window among more free windows is the cheapest among fewer, and
the cheapest free slots of the cheapest region stay cheapest. So ``greedy.construct`` takes
a chunk's proposals in order, checks each still fits (``placement.fits_option``) and calls
``place`` only for the jobs whose proposal an earlier job of the chunk took. Interruptible
jobs whose cheapest slots break the segment rules (too many pieces, or a resume overhead to
pay) need ``segments.fit_segments``, whose answer depends on the exact ledger: their proposal
is ``ASK`` (call ``place``). ``propose_moves`` does the same for ``greedy.reinsert`` (each job
counting its own GPUs as free), ``demand`` for the congestion prices (no capacity at all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scheduler.planning.placement import Option, Scores, place, slot_runs
from scheduler.planning.problem import FloatArray, IntArray, PlanJob, Segment
from scheduler.planning.segments import BoolArray

INF = float("inf")
#: the proposal of a job that only ``placement.place`` can place (segment fitting needed)
ASK = Option(score=INF, segments=())
#: padded cells (rows × window slots) per numpy batch, to bound memory
MAX_CELLS = 1 << 21
#: jobs per chunk: larger chunks pay less numpy overhead per job, but more of their
#: proposals are taken by an earlier job of the chunk (32 to 128 were as fast at 10,000 jobs)
CHUNK = 64
#: windows of at most this many slots are batched apart from longer ones (``_groups``)
SHORT_WINDOW = 256
#: jobs of at most this many slots get their cheapest slots ranked all at once (``_slots``);
#: longer ones sort values only, which is far cheaper over month-long windows
SHORT_SLOTS = 64


@dataclass(frozen=True, slots=True)
class _Rows:
    """One row per (job, allowed region) of a batch, as arrays."""

    first: IntArray  # each job's first row (a job's rows are consecutive, in region order)
    job: IntArray  # the batch position of each row's job
    within: IntArray  # the position of each row's region in its job's regions
    most: int  # the most regions of a job of the batch
    region: IntArray
    lo: IntArray
    length: IntArray
    duration: IntArray
    gpus: IntArray
    per_kw: FloatArray
    width: int


class BatchPlacer:
    """The jobs of one planning call, as arrays, for batch proposals under any scores."""

    def __init__(
        self, jobs: Sequence[PlanJob], *, overhead_slots: int = 0, max_segments: int = 8
    ) -> None:
        self.jobs = list(jobs)
        self.index = {job.id: i for i, job in enumerate(self.jobs)}
        self._overhead = overhead_slots
        self._max_segments = max_segments
        n = len(self.jobs)
        self._lo = np.fromiter((j.release_slot for j in self.jobs), np.int64, n)
        self._length = np.fromiter(
            (j.deadline_slot - j.release_slot for j in self.jobs), np.int64, n
        )
        self._duration = np.fromiter((j.duration_slots for j in self.jobs), np.int64, n)
        self._gpus = np.fromiter((j.gpus for j in self.jobs), np.int64, n)
        self._per_kw = np.fromiter((1000.0 / j.power_w for j in self.jobs), np.float64, n)
        self._slotted = np.fromiter(
            (j.interruptible and j.duration_slots > 1 for j in self.jobs), np.bool_, n
        )
        self._count = np.fromiter((len(j.regions) for j in self.jobs), np.int64, n)
        self._first = np.concatenate(([0], np.cumsum(self._count)[:-1])).astype(np.int64)
        self._regions = np.fromiter((r for j in self.jobs for r in j.regions), dtype=np.int64)
        self._usable = (self._duration > 0) & (self._duration <= self._length) & (self._count > 0)
        cells = int((self._count * self._length).max(initial=1))
        #: jobs per batch so that a batch's padded rows stay under ``MAX_CELLS``
        self.chunk = int(np.clip(MAX_CELLS // max(1, cells), 8, CHUNK))

    def propose(
        self, jobs: Sequence[PlanJob], scores: Scores, free: IntArray | None
    ) -> list[Option | None]:
        """Each job's best option against ``free`` (None: no room, ``ASK``: call ``place``).

        ``free=None`` ignores capacity.
        """
        return self._propose(jobs, scores, free, None)[0]

    def propose_moves(
        self,
        jobs: Sequence[PlanJob],
        scores: Scores,
        free: IntArray,
        placed: Mapping[str, tuple[Segment, ...]],
    ) -> tuple[list[Option | None], list[float]]:
        """``propose`` for placed jobs, each counting the GPUs it holds as free for itself
        (the take-out-and-put-back of ``greedy.reinsert``); also the score where each is."""
        return self._propose(jobs, scores, free, placed)

    def demand(self, scores: Scores) -> FloatArray:
        """GPUs per region and slot if every job took its best option alone (no resume
        overhead), as ``placement.place`` with unlimited GPUs would choose it."""
        used = np.zeros((scores.base.shape[0], scores.base.shape[1] + 1))
        unlimited = np.full(scores.base.shape, np.iinfo(np.int64).max // 4, dtype=np.int64)
        for start in range(0, len(self.jobs), self.chunk):
            part = self.jobs[start : start + self.chunk]
            options = self._propose(part, scores, None, None)[0]
            fitted = [
                place(job, unlimited, scores, max_segments=self._max_segments)
                if option is ASK
                else option
                for job, option in zip(part, options, strict=True)
            ]
            _add(used, part, fitted)
        total: FloatArray = np.cumsum(used, axis=1)[:, :-1]
        return total

    def _propose(
        self,
        jobs: Sequence[PlanJob],
        scores: Scores,
        free: IntArray | None,
        own: Mapping[str, tuple[Segment, ...]] | None,
    ) -> tuple[list[Option | None], list[float]]:
        idx = np.fromiter((self.index[j.id] for j in jobs), dtype=np.int64, count=len(jobs))
        out: list[Option | None] = [None] * len(jobs)
        held = [0.0] * len(jobs)
        usable = self._usable[idx]
        for slotted in (False, True):
            for pos in self._groups(idx, usable & (self._slotted[idx] == slotted)):
                group = [jobs[p] for p in pos]
                found, now = self._propose_group(
                    group, idx[pos], scores, free, own, slotted=slotted
                )
                for p, option, value in zip(pos, found, now, strict=True):
                    out[p], held[p] = option, value
        return out, held

    def _groups(self, idx: IntArray, chosen: BoolArray) -> list[list[int]]:
        """Positions of the ``chosen`` jobs, those with windows of up to ``SHORT_WINDOW``
        slots apart from longer ones, so that a month-long window does not pad the rows of
        an hour-long one."""
        pos = np.flatnonzero(chosen)
        long = self._length[idx[pos]] > SHORT_WINDOW
        return [part.tolist() for part in (pos[~long], pos[long]) if len(part)]

    def _propose_group(
        self,
        jobs: Sequence[PlanJob],
        idx: IntArray,
        scores: Scores,
        free: IntArray | None,
        own: Mapping[str, tuple[Segment, ...]] | None,
        *,
        slotted: bool,
    ) -> tuple[list[Option | None], list[float]]:
        """``_propose`` for one group of jobs of one kind: options and the held scores."""
        rows = self._rows(idx)
        vals = _windows_of(scores.base, rows)
        if scores.price is not None:
            vals += _windows_of(scores.price, rows) * rows.per_kw[:, None]
        ok = np.arange(rows.width)[None, :] < rows.length[:, None]
        limit = np.full(len(jobs), INF)
        held = [0.0] * len(jobs)
        if free is not None:
            room = _windows_of(free, rows)
            if own is not None:
                mine = _own(rows, jobs, own)
                room += mine
                where = np.where(mine > 0, vals, 0.0).sum(axis=1)
                now = np.add.reduceat(where, rows.first)
                limit = now - 1e-9 * (1.0 + np.abs(now))
                held = now.tolist()
            ok &= room >= rows.gpus[:, None]
        if not slotted:
            return _windows(rows, ok, vals, limit), held
        found = _slots(
            rows,
            ok,
            vals,
            limit,
            horizon=scores.base.shape[1],
            overhead=self._overhead,
            max_segments=self._max_segments,
        )
        return found, held

    def _rows(self, idx: IntArray) -> _Rows:
        counts = self._count[idx]
        first = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        job = np.repeat(np.arange(len(idx)), counts)
        within = np.arange(int(counts.sum())) - first[job]
        length = self._length[idx][job]
        return _Rows(
            first=first,
            job=job,
            within=within,
            most=int(counts.max()),
            region=self._regions[self._first[idx][job] + within],
            lo=self._lo[idx][job],
            length=length,
            duration=self._duration[idx][job],
            gpus=self._gpus[idx][job],
            per_kw=self._per_kw[idx][job],
            width=int(length.max()),
        )


def _windows(
    rows: _Rows, ok: BoolArray, vals: FloatArray, limit: FloatArray
) -> list[Option | None]:
    """Cheapest contiguous window per job where every slot is allowed, if under ``limit``."""
    n, width = ok.shape
    csum = np.zeros((n, width + 1))
    np.cumsum(np.where(ok, vals, 0.0), axis=1, out=csum[:, 1:])
    bad = np.zeros((n, width + 1), dtype=np.int64)
    np.cumsum(~ok, axis=1, out=bad[:, 1:])
    starts = np.arange(width)[None, :]
    ends = np.minimum(starts + rows.duration[:, None], width) + (width + 1) * np.arange(n)[:, None]
    win = csum.ravel()[ends] - csum[:, :width]
    blocked = bad.ravel()[ends] - bad[:, :width]
    win[(blocked > 0) | (starts + rows.duration[:, None] > rows.length[:, None])] = INF
    start = win.argmin(axis=1)
    value = win[np.arange(n), start]
    out: list[Option | None] = []
    best = _first_best(rows, value)
    for row, under in zip(best.tolist(), (value[best] < limit).tolist(), strict=True):
        if not under:
            out.append(None)
            continue
        begin = int(rows.lo[row] + start[row])
        end = begin + int(rows.duration[row])
        seg = Segment(region=int(rows.region[row]), start=begin, end=end)
        out.append(Option(score=float(value[row]), segments=(seg,)))
    return out


def _slots(
    rows: _Rows,
    ok: BoolArray,
    vals: FloatArray,
    limit: FloatArray,
    *,
    horizon: int,
    overhead: int,
    max_segments: int,
) -> list[Option | None]:
    """Cheapest allowed slots per job in its best region, if under ``limit`` (``ASK`` if they
    need fitting to the segment rules)."""
    n = ok.shape[0]
    masked = np.where(ok, vals, INF)
    most = int(rows.duration.max())
    short = most <= SHORT_SLOTS
    if short:  # every row's slots, cheapest first, at once
        order = np.argpartition(masked, most - 1, axis=1)[:, :most]
        cheapest = np.take_along_axis(masked, order, axis=1)
        ranks = np.argsort(cheapest, axis=1)
        order = np.take_along_axis(order, ranks, axis=1)
        cheapest = np.take_along_axis(cheapest, ranks, axis=1)
    else:  # long jobs: sort the values only (far cheaper); the best rows' slots come below
        cheapest = np.partition(masked, most - 1, axis=1)[:, :most]
        cheapest.sort(axis=1)
    value = np.cumsum(cheapest, axis=1)[np.arange(n), rows.duration - 1]
    best = _first_best(rows, value)
    duration = rows.duration[best]
    if short:
        picked = np.where(np.arange(most)[None, :] < duration[:, None], order[best], horizon)
        picked.sort(axis=1)
    out: list[Option | None] = []
    for i, (row, d, under) in enumerate(
        zip(best.tolist(), duration.tolist(), (value[best] < limit).tolist(), strict=True)
    ):
        if not under:
            out.append(None)
            continue
        chosen = picked[i, :d] if short else np.sort(np.argpartition(masked[row], d - 1)[:d])
        region, lo = int(rows.region[row]), int(rows.lo[row])
        segs = slot_runs(chosen, lo, region)
        if len(segs) > 1 and (overhead > 0 or len(segs) > max_segments):
            out.append(ASK)  # the cheapest slots break the segment rules: ``place`` fits them
            continue
        many = chosen + (region * horizon + lo) if len(segs) > 1 else None
        out.append(Option(score=float(value[row]), segments=segs, cells=many))
    return out


def _windows_of(grid: np.ndarray, rows: _Rows) -> np.ndarray:
    """``grid[region, lo : lo + width]`` of every row (zero past the grid's end), a copy."""
    n_regions, horizon = grid.shape
    padded = np.zeros((n_regions, horizon + rows.width), dtype=grid.dtype)
    padded[:, :horizon] = grid
    step_r, step_t = padded.strides
    view = np.ndarray(
        (n_regions, horizon, rows.width),
        dtype=grid.dtype,
        buffer=padded,
        strides=(step_r, step_t, step_t),
    )
    return view[rows.region, rows.lo]


def _own(rows: _Rows, jobs: Sequence[PlanJob], own: Mapping[str, tuple[Segment, ...]]) -> IntArray:
    """GPUs each row's job holds itself, per window slot (zero where it holds none)."""
    change = np.zeros((len(rows.region), rows.width + 1), dtype=np.int64)
    at_rows: list[int] = []
    at_cols: list[int] = []
    amounts: list[int] = []
    for i, job in enumerate(jobs):
        segs = own.get(job.id)
        if not segs:
            continue
        first = int(rows.first[i])
        lo = job.release_slot
        for seg in segs:
            row = first + job.regions.index(seg.region)
            at_rows += (row, row)
            at_cols += (seg.start - lo, seg.end - lo)
            amounts += (job.gpus, -job.gpus)
    np.add.at(change, (at_rows, at_cols), amounts)
    held: IntArray = np.cumsum(change, axis=1)[:, :-1]
    return held


def _add(used: FloatArray, jobs: Sequence[PlanJob], options: Sequence[Option | None]) -> None:
    """Add each option's GPUs to ``used`` as +GPUs at segment starts, −GPUs at ends."""
    regions: list[int] = []
    bounds: list[int] = []
    amounts: list[int] = []
    for job, option in zip(jobs, options, strict=True):
        if option is None:
            continue
        for seg in option.segments:
            regions += (seg.region, seg.region)
            bounds += (seg.start, seg.end)
            amounts += (job.gpus, -job.gpus)
    np.add.at(used, (regions, bounds), amounts)


def _first_best(rows: _Rows, value: FloatArray) -> IntArray:
    """Per job, its first row with the least ``value`` (rows follow ``job.regions``)."""
    grid = np.full((len(rows.first), rows.most), INF)
    grid[rows.job, rows.within] = value
    best: IntArray = rows.first + grid.argmin(axis=1)
    return best


__all__ = ["ASK", "BatchPlacer"]
