"""The exact model HiGHS solves for the oracle (and for local repairs).

Variables per job, over its allowed regions and its window ``[release, deadline)``:

* interruptible job: ``x[r, t] ∈ [0, 1]``, the fraction of slot ``t`` it runs in region ``r``,
  with ``Σ x = duration × (1 − u)``: an LP (resume overhead and segment caps are relaxed);
* non-interruptible job: ``C[r, s] ∈ {0, 1}``, "started in ``r`` at or before ``s``",
  nondecreasing in ``s``, with ``Σ_r C[r, last] = 1 − u``. It runs at ``t`` in ``r`` exactly
  when ``C[r, t] − C[r, t − duration] = 1``, so every capacity row has two entries per job
  instead of ``duration`` (the start-variable model would have 30 M entries on a year of jobs);
* ``u ∈ [0, 1]``: the job is left out, at a penalty above any placement's cost.

Capacity: ``Σ gpus × running ≤ free`` for every region and slot. The objective is grams CO2e.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from scheduler.planning.problem import FloatArray, IntArray, PlanJob


@dataclass(frozen=True, slots=True)
class Block:
    """Where one job's variables sit in the model."""

    job: PlanJob
    offset: int  # first x/C variable
    width: int  # slots per region: window (x) or starts (C)
    u: int  # index of the job's left-out variable


@dataclass(frozen=True, kw_only=True)
class Solution:
    """HiGHS's answer for one model."""

    values: FloatArray
    blocks: tuple[Block, ...]
    objective_g: float
    bound_g: float
    mip_gap: float | None
    optimal: bool

    def integral(self, tolerance: float = 1e-6) -> bool:
        """True when every non-interruptible job's start indicators are whole numbers."""
        for b in self.blocks:
            if not b.job.interruptible:
                part = self.values[b.offset : b.offset + b.width * len(b.job.regions)]
                if np.abs(part - np.round(part)).max(initial=0.0) > tolerance:
                    return False
        return True

    def restricted(self, job_ids: set[str]) -> Solution:
        """The same answer, keeping only the blocks of ``job_ids``."""
        blocks = tuple(b for b in self.blocks if b.job.id in job_ids)
        return Solution(
            values=self.values,
            blocks=blocks,
            objective_g=self.objective_g,
            bound_g=self.bound_g,
            mip_gap=self.mip_gap,
            optimal=self.optimal,
        )


class _Rows:
    """COO triplets of a constraint block."""

    def __init__(self) -> None:
        self.rows: list[IntArray] = []
        self.cols: list[IntArray] = []
        self.vals: list[FloatArray] = []

    def add(self, rows: IntArray, cols: IntArray, vals: FloatArray) -> None:
        self.rows.append(rows)
        self.cols.append(cols)
        self.vals.append(vals)

    def matrix(self, n_rows: int, n_cols: int) -> coo_array:
        def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        data = (cat(self.vals, np.float64), (cat(self.rows, np.int64), cat(self.cols, np.int64)))
        return coo_array(data, shape=(n_rows, n_cols))


def _layout(jobs: Sequence[PlanJob]) -> tuple[tuple[Block, ...], int]:
    blocks: list[Block] = []
    cursor = 0
    for job in jobs:
        window = job.deadline_slot - job.release_slot
        width = window if job.interruptible else window - job.duration_slots + 1
        blocks.append(Block(job=job, offset=cursor, width=width, u=-1))
        cursor += width * len(job.regions)
    final = tuple(
        Block(job=b.job, offset=b.offset, width=b.width, u=cursor + i) for i, b in enumerate(blocks)
    )
    return final, cursor + len(blocks)


@dataclass(frozen=True, kw_only=True)
class Window:
    """The slot range ``[t0, t1)`` a model covers, its intensities and free GPUs there."""

    t0: int
    t1: int
    intensity: FloatArray  # [R, T] of the whole problem
    capacity: IntArray  # [R, t1 - t0]
    slot_h: float
    #: GPUs per region and slot held back for jobs not yet known (``[R, t1 - t0]``): using
    #: them costs ``reserve_g_per_gpu_slot`` each, so the plan dips into them only for a
    #: real saving and leaves room for arrivals (soft capacity; None = no reserve)
    reserve: IntArray | None = None
    reserve_g_per_gpu_slot: float = 0.0
    #: the last ``tail_share`` of each job's slack costs ``tail_g_per_kwh`` more: a plan
    #: keeps part of every job's slack for later surprises unless using it clearly pays
    tail_share: float = 0.0
    tail_g_per_kwh: float = 0.0

    def job_intensity(self, job: PlanJob, region: int) -> FloatArray:
        """Intensity ``job`` pays in ``region`` over its window, tail surcharge included."""
        lo, hi = job.release_slot, job.deadline_slot
        row = self.intensity[region, lo:hi]
        slack = hi - lo - job.duration_slots
        tail = int(self.tail_share * slack)
        if tail <= 0 or self.tail_g_per_kwh <= 0:
            return row
        extra = np.zeros(hi - lo)
        extra[hi - lo - tail :] = self.tail_g_per_kwh
        return row + extra


def _cap_row(window: Window, region: int, slots: IntArray) -> IntArray:
    return region * (window.t1 - window.t0) + (slots - window.t0)


def _interruptible(
    job: PlanJob, b: Block, w: Window, *, cap: _Rows, eq: _Rows, cost: FloatArray
) -> None:
    lo, hi = job.release_slot, job.deadline_slot
    slots = np.arange(lo, hi)
    kwh = job.gpus * job.power_w / 1000.0 * w.slot_h
    for k, region in enumerate(job.regions):
        cols = b.offset + k * b.width + np.arange(b.width)
        cap.add(_cap_row(w, region, slots), cols, np.full(b.width, float(job.gpus)))
        cost[cols] = kwh * w.job_intensity(job, region)
        eq.add(np.full(b.width, b.u), cols, np.ones(b.width))
    eq.add(np.array([b.u]), np.array([b.u]), np.array([float(job.duration_slots)]))


def _contiguous(
    job: PlanJob,
    b: Block,
    w: Window,
    *,
    cap: _Rows,
    mono: _Rows,
    eq: _Rows,
    cost: FloatArray,
) -> None:
    lo, hi, d = job.release_slot, job.deadline_slot, job.duration_slots
    kwh = job.gpus * job.power_w / 1000.0 * w.slot_h
    slots = np.arange(lo, hi)
    last = lo + b.width - 1
    for k, region in enumerate(job.regions):
        first = b.offset + k * b.width
        csum = np.concatenate(([0.0], np.cumsum(w.job_intensity(job, region))))
        win = kwh * (csum[d : d + b.width] - csum[: b.width])
        cost[first : first + b.width] = win - np.concatenate((win[1:], [0.0]))
        on = first + np.minimum(slots, last) - lo
        cap.add(_cap_row(w, region, slots), on, np.full(len(slots), float(job.gpus)))
        off_slots = slots[slots - d >= lo]
        cap.add(
            _cap_row(w, region, off_slots),
            first + off_slots - d - lo,
            np.full(len(off_slots), -float(job.gpus)),
        )
        mono.add(
            np.arange(first + 1, first + b.width),
            np.arange(first + 1, first + b.width),
            np.ones(b.width - 1),
        )
        mono.add(
            np.arange(first + 1, first + b.width),
            np.arange(first, first + b.width - 1),
            -np.ones(b.width - 1),
        )
        eq.add(np.array([b.u]), np.array([first + b.width - 1]), np.array([1.0]))
    eq.add(np.array([b.u]), np.array([b.u]), np.array([1.0]))


def solve(
    jobs: Sequence[PlanJob],
    window: Window,
    time_limit_s: float | None,
    *,
    relax: bool = False,
    fewest_left_out: bool = False,
    whole_interruptible: bool = False,
    expected: Sequence[PlanJob] = (),
    expected_g_per_kwh: float = 0.0,
    whole_expected: bool = False,
) -> Solution:
    """Minimum-emission placement of ``jobs`` inside ``window`` (HiGHS via SciPy).

    ``relax`` drops integrality: the LP relaxation, whose value bounds the optimum.
    ``fewest_left_out`` makes every ``u`` binary and leaving out one more job costlier than
    all placements together: when not every job fits, the fewest jobs miss their deadline
    (by default the penalty is per kWh, so the LP may leave out a little of many jobs). Among
    equally few it prefers those with the least slack, the hardest to fit.
    ``whole_interruptible`` makes interruptible jobs exact too (a MILP, for small models):
    whole slots, and a binary region choice per job with several regions (it runs only where
    chosen), as placements do. Without it the LP may run a multi-GPU job in half a slot beside
    another, or split it across regions, which rounding then pays for (5 % on the demo).
    ``expected`` jobs (not yet submitted) are planned beside ``jobs`` and left out at
    ``expected_g_per_kwh``, and a known job only at more than that, so none is left out to
    keep room for them; the solution holds ``jobs``' blocks only. Their room is an LP, a
    mix of windows, unless ``whole_expected``: it shapes where the known jobs run, and a
    rigid job's room as a mix of windows leaves them more of the green hours.
    """
    blocks, n_jobs = _layout([*jobs, *expected])
    n_cap = window.capacity.size
    n = n_jobs + (n_cap if window.reserve is not None else 0)
    cost = np.zeros(n)
    integral = np.zeros(n, dtype=np.int8)
    cap, mono, eq = _Rows(), _Rows(), _Rows()
    top = float(window.intensity.max(initial=1.0)) * 2.0 + 1.0
    known = blocks[: len(jobs)]
    for i, b in enumerate(blocks):
        job = b.job
        if job.interruptible:
            _interruptible(job, b, window, cap=cap, eq=eq, cost=cost)
            if whole_interruptible:
                integral[b.offset : b.offset + b.width * len(job.regions)] = 1
        else:
            _contiguous(job, b, window, cap=cap, mono=mono, eq=eq, cost=cost)
            # whole start indicators, except in the LP and for expected jobs' room (a mix)
            integral[b.offset : b.offset + b.width * len(job.regions)] = not relax and (
                i < len(jobs) or whole_expected
            )
        kwh = job.gpus * job.power_w / 1000.0 * window.slot_h
        # a known job left out costs more than leaving out any job that may never come
        cost[b.u] = kwh * job.duration_slots * (expected_g_per_kwh + (top if i < len(jobs) else 0))
    if fewest_left_out:
        per_job = float(cost[[b.u for b in blocks]].sum())
        slack = np.array([_slack(b.job) for b in known], dtype=np.float64)
        tie = 0.005 * slack / max(1.0, float(slack.max(initial=0.0)))
        for b, extra in zip(known, tie, strict=True):
            cost[b.u] += per_job * (1.0 + extra)
            integral[b.u] = 1
    rhs = np.array([float(b.job.duration_slots if b.job.interruptible else 1) for b in blocks])
    choices = [
        b for b in blocks if whole_interruptible and b.job.interruptible and len(b.job.regions) > 1
    ]
    n_model = n
    n += sum(len(b.job.regions) for b in choices)
    cost = np.concatenate((cost, np.zeros(n - n_model)))
    integral = np.concatenate((integral, np.ones(n - n_model, dtype=np.int8)))
    upper = np.ones(n)
    limit = window.capacity.ravel().astype(np.float64)
    if window.reserve is not None:
        held = np.minimum(window.reserve.ravel(), window.capacity.ravel()).astype(np.float64)
        spill = np.arange(n_jobs, n_model)
        cap.add(np.arange(n_cap), spill, -np.ones(n_cap))
        cost[spill] = window.reserve_g_per_gpu_slot
        upper[spill] = held
        limit = limit - held
    constraints = [
        LinearConstraint(cap.matrix(n_cap, n).tocsr(), -np.inf, limit),
        LinearConstraint(_remap(eq, blocks).matrix(len(blocks), n).tocsr(), rhs, rhs),
    ]
    if mono.rows:
        constraints.append(LinearConstraint(_dense_rows(mono, n), 0.0, np.inf))
    if choices:
        constraints += _region_choice(choices, n_model, n)
        integral[[b.u for b in choices]] = 1
    options: dict[str, float | bool] = {"disp": False}
    if time_limit_s is not None:
        options["time_limit"] = time_limit_s
    res = milp(
        cost,
        constraints=constraints,
        integrality=integral,
        bounds=Bounds(0.0, upper),
        options=options,
    )
    return _solution(res, known, integral)


def _region_choice(blocks: Sequence[Block], first: int, n: int) -> list[LinearConstraint]:
    """``x[r, t] ≤ z[r]`` and ``Σ_r z[r] + u = 1`` for each block (``z`` from ``first`` on)."""
    link, choose = _Rows(), _Rows()
    row, z = 0, first
    for i, b in enumerate(blocks):
        for k in range(len(b.job.regions)):
            xs = b.offset + k * b.width + np.arange(b.width)
            rows = row + np.arange(b.width)
            link.add(rows, xs, np.ones(b.width))
            link.add(rows, np.full(b.width, z), -np.ones(b.width))
            choose.add(np.array([i]), np.array([z]), np.array([1.0]))
            row += b.width
            z += 1
        choose.add(np.array([i]), np.array([b.u]), np.array([1.0]))
    return [
        LinearConstraint(link.matrix(row, n).tocsr(), -np.inf, 0.0),
        LinearConstraint(choose.matrix(len(blocks), n).tocsr(), 1.0, 1.0),
    ]


def _slack(job: PlanJob) -> int:
    return job.deadline_slot - job.release_slot - job.duration_slots


def _remap(eq: _Rows, blocks: Sequence[Block]) -> _Rows:
    """Demand rows are keyed by each job's ``u`` index; number them 0, 1, … instead."""
    first = blocks[0].u if blocks else 0
    out = _Rows()
    for rows, cols, vals in zip(eq.rows, eq.cols, eq.vals, strict=True):
        out.add(rows - first, cols, vals)
    return out


def _dense_rows(rows: _Rows, n_cols: int) -> coo_array:
    """Monotonicity rows are keyed by a variable index; compress them to 0, 1, …"""
    keys = np.concatenate(rows.rows)
    unique, dense = np.unique(keys, return_inverse=True)
    data = np.concatenate(rows.vals), (dense, np.concatenate(rows.cols))
    return coo_array(data, shape=(len(unique), n_cols)).tocsr()


def _solution(res: object, blocks: tuple[Block, ...], integral: np.ndarray) -> Solution:
    x = getattr(res, "x", None)
    status = int(getattr(res, "status", 4))
    if x is None:
        raise RuntimeError(
            f"HiGHS found no solution (status {status}): {getattr(res, 'message', '')}"
        )
    objective = float(getattr(res, "fun", 0.0))
    bound = getattr(res, "mip_dual_bound", None)
    gap = getattr(res, "mip_gap", None)
    has_int = bool(integral.any())
    return Solution(
        values=np.asarray(x, dtype=np.float64),
        blocks=blocks,
        objective_g=objective,
        bound_g=float(bound) if has_int and bound is not None else objective,
        mip_gap=float(gap) if has_int and gap is not None and status != 0 else None,
        optimal=status == 0,
    )


__all__ = ["Block", "Solution", "Window", "solve"]
