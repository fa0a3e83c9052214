"""A proven lower bound on the emissions of any plan that places every job (HiGHS LP).

For problems too big for the oracle's MILP (thousands of jobs over months of slots) this LP
relaxation is the reference a planner is measured against: a planner that reaches a share of
the bound's savings reaches at least that share of the optimum's. It drops or loosens these
rules, each of which can only lower the optimum:

* capacity holds on the GPU-slots summed over each bucket of ``bucket_slots`` slots (e.g. one
  hour), not slot by slot;
* an interruptible job, and a non-interruptible job of one slot, may run any fraction of each
  slot of its window; its use of a bucket is charged at the bucket's lowest slot intensity
  (exact when the intensity is constant within a bucket, e.g. hourly data). A longer
  interruptible job is a convex mix of single-region runs (share ``z[r]`` of the job in
  region ``r``, at most ``z[r]`` of any slot there), so it never runs in two regions at once;
  resume overheads and segment caps are dropped;
* a non-interruptible job of several slots is a convex mix of its contiguous starts (the LP
  relaxation of the start-slot model); each start costs exactly its run's emissions.

With one-slot buckets and whole runs the bound is at least the LP relaxation ``exact.solve``
gives (that one lets an interruptible job run in several regions in the same slot).

``run_slots`` gives a job's true run length in slots (``duration_s / slot_s``, at most
``duration_slots``): the last slot of a run then counts for its used fraction only, as the
simulator's accounting does. With each slot's intensity set to the lowest value within the
slot (the mean for hourly traces on 15-minute slots) the bound holds for the real-time
accounting of FORMATS.md too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_array

from scheduler.planning.problem import FloatArray, IntArray, PlanJob, PlanProblem


@dataclass(frozen=True, kw_only=True)
class _Pairs:
    """One entry per (job, allowed region), with the job's figures in slots."""

    job: IntArray  # index into the job list: the job's equality row
    region: IntArray
    release: IntArray
    deadline: IntArray
    slots: IntArray  # whole slots the job holds
    run: FloatArray  # slots it really runs (≤ slots)
    gpus: FloatArray
    g_per_slot: FloatArray  # grams for one slot at 1 g/kWh: kW × slot hours
    spread: np.ndarray  # bool: fractional slot use (interruptible, or one slot long)

    def take(self, keep: np.ndarray) -> _Pairs:
        """The entries where ``keep`` holds."""
        return _Pairs(**{f.name: getattr(self, f.name)[keep] for f in fields(self)})


@dataclass(frozen=True, kw_only=True)
class _Grid:
    """Capacity buckets: ``size`` slots each, ``count`` per region."""

    size: int
    count: int


class LpModel:
    """The LP being built: columns, and COO triplets of its equality and ``≤`` rows.

    ``use`` holds, beside each capacity triplet, what ``scheduler.planning.readiness`` needs
    to add rows of its own: (job index, slot bucket, column, GPU-slots per unit).
    """

    def __init__(self, eq_rhs: FloatArray, ub_rhs: FloatArray) -> None:
        self.cost: list[FloatArray] = []
        self.upper: list[FloatArray] = []
        self.eq: list[tuple[IntArray, IntArray, FloatArray]] = []
        self.ub: list[tuple[IntArray, IntArray, FloatArray]] = []
        self.use: list[tuple[IntArray, IntArray, IntArray, FloatArray]] = []
        self.eq_rhs, self.ub_rhs = [eq_rhs], [ub_rhs]
        self.n = 0

    def columns(self, cost: FloatArray, upper: FloatArray) -> IntArray:
        """Add columns; their indices."""
        self.cost.append(cost)
        self.upper.append(upper)
        self.n += len(cost)
        return np.arange(self.n - len(cost), self.n)

    def rows(self, kind: str, rhs: FloatArray) -> IntArray:
        """Add equality (``eq``) or ``≤`` (``ub``) rows with ``rhs``; their indices."""
        blocks = self.eq_rhs if kind == "eq" else self.ub_rhs
        first = sum(len(b) for b in blocks)
        blocks.append(rhs)
        return np.arange(first, first + len(rhs))

    def matrix(self, kind: str) -> tuple[coo_array, FloatArray]:
        """The rows of ``kind`` as a sparse matrix, and their right-hand sides."""
        parts, rhs = (self.eq, self.eq_rhs) if kind == "eq" else (self.ub, self.ub_rhs)
        rows, cols, vals = (np.concatenate([p[i] for p in parts]) for i in range(3))
        bound = np.concatenate(rhs)
        return coo_array((vals, (rows, cols)), shape=(len(bound), self.n)), bound


def lower_bound_g(
    problem: PlanProblem,
    *,
    run_slots: Mapping[str, float] | None = None,
    bucket_slots: int = 1,
    one_region: bool = True,
    time_limit_s: float | None = None,
) -> float:
    """Grams CO2e below which no plan placing every job of ``problem`` can go.

    See the module docstring for the relaxation; ``one_region=False`` drops the single-region
    mix of longer interruptible jobs (a looser bound from a much smaller LP). Raises
    ``ValueError`` for a job whose window is shorter than it, a ``run_slots`` entry outside
    ``(0, duration_slots]`` or ``bucket_slots`` < 1; ``RuntimeError`` when HiGHS proves the LP
    infeasible (no plan can place every job) or stops before optimality (raise
    ``time_limit_s``).
    """
    model = build_model(
        problem, run_slots=run_slots, bucket_slots=bucket_slots, one_region=one_region
    )
    return solve_lp(model, time_limit_s)[0]


def build_model(
    problem: PlanProblem,
    *,
    run_slots: Mapping[str, float] | None = None,
    bucket_slots: int = 1,
    one_region: bool = True,
) -> LpModel:
    """The bound's LP for ``problem`` (see ``lower_bound_g`` for the arguments and errors)."""
    if bucket_slots < 1:
        raise ValueError(f"bucket_slots must be at least 1 (got {bucket_slots})")
    pairs = _pairs(problem, run_slots or {})
    grid = _Grid(size=bucket_slots, count=-(-problem.slots // bucket_slots))
    single = pairs.spread & ((pairs.slots == 1) | (not one_region))
    rhs = np.ones(len(problem.jobs))
    rhs[pairs.job[single]] = pairs.run[single]
    model = LpModel(rhs, _bucket_capacity(problem.capacity, grid))
    _one_slot(model, pairs.take(single), problem.intensity, grid)
    _linked(model, pairs.take(pairs.spread & ~single), problem.intensity, grid)
    _starts(model, pairs.take(~pairs.spread), problem.intensity, grid)
    return model


def _pairs(problem: PlanProblem, run_slots: Mapping[str, float]) -> _Pairs:
    hours = problem.slot_s / 3600.0
    rows: list[tuple[float, ...]] = []
    for index, job in enumerate(problem.jobs):
        run = float(run_slots.get(job.id, job.duration_slots))
        _check(job, run)
        spread = float(job.interruptible or job.duration_slots == 1)
        kwh = job.gpus * job.power_w / 1000.0 * hours
        figures = (job.release_slot, job.deadline_slot, job.duration_slots, run, job.gpus)
        rows.extend((index, region, *figures, kwh, spread) for region in job.regions)
    table = np.asarray(rows, dtype=np.float64).reshape(-1, 9)
    ints = table[:, :5].astype(np.int64)
    return _Pairs(
        job=ints[:, 0],
        region=ints[:, 1],
        release=ints[:, 2],
        deadline=ints[:, 3],
        slots=ints[:, 4],
        run=table[:, 5],
        gpus=table[:, 6],
        g_per_slot=table[:, 7],
        spread=table[:, 8] > 0,
    )


def _check(job: PlanJob, run: float) -> None:
    if job.deadline_slot - job.release_slot < job.duration_slots:
        raise ValueError(
            f"job {job.id}: window {job.release_slot}–{job.deadline_slot} is shorter than its "
            f"{job.duration_slots} slots; drop the job or widen its window"
        )
    if not 0.0 < run <= job.duration_slots:
        raise ValueError(
            f"job {job.id}: run_slots {run} is outside (0, {job.duration_slots}]; "
            "give duration_s / slot_s"
        )


def _expand(counts: IntArray) -> tuple[IntArray, IntArray]:
    """For ``counts[p]`` items per entry ``p``: each item's entry and its rank within it."""
    owner = np.repeat(np.arange(len(counts)), counts)
    first = np.cumsum(counts) - counts
    return owner, np.arange(len(owner)) - first[owner]


def _spread(
    model: LpModel, pairs: _Pairs, intensity: FloatArray, grid: _Grid
) -> tuple[IntArray, IntArray, FloatArray]:
    """Columns per (pair, bucket): slots run there. (Owning pair, column, slots free there.)"""
    first = pairs.release // grid.size
    owner, rank = _expand((pairs.deadline - 1) // grid.size - first + 1)
    bucket = first[owner] + rank
    lo = np.maximum(pairs.release[owner], bucket * grid.size)
    hi = np.minimum(pairs.deadline[owner], (bucket + 1) * grid.size)
    region = pairs.region[owner]
    free = (hi - lo).astype(np.float64)
    cost = pairs.g_per_slot[owner] * _bucket_minimum(intensity, grid)[region, bucket]
    cols = model.columns(cost, free)
    model.ub.append((region * grid.count + bucket, cols, pairs.gpus[owner]))
    model.use.append((pairs.job[owner], bucket, cols, pairs.gpus[owner]))
    return owner, cols, free


def _one_slot(model: LpModel, pairs: _Pairs, intensity: FloatArray, grid: _Grid) -> None:
    """Its run spread freely over slots and regions (for a one-slot job: its start-slot LP)."""
    owner, cols, _ = _spread(model, pairs, intensity, grid)
    model.eq.append((pairs.job[owner], cols, np.ones(len(cols))))


def _linked(model: LpModel, pairs: _Pairs, intensity: FloatArray, grid: _Grid) -> None:
    """A longer interruptible job: a mix ``z`` of single-region runs.

    Region ``r`` gets the share ``z[r]`` (``Σ z = 1``) of the job: ``run × z[r]`` slots, at
    most ``z[r]`` of each slot, so the job never runs in two regions at once.
    """
    owner, cols, free = _spread(model, pairs, intensity, grid)
    share = model.columns(np.zeros(len(pairs.job)), np.ones(len(pairs.job)))
    model.eq.append((pairs.job, share, np.ones(len(share))))
    amount = model.rows("eq", np.zeros(len(share)))
    model.eq.append((amount[owner], cols, np.ones(len(cols))))
    model.eq.append((amount, share, -pairs.run))
    link = model.rows("ub", np.zeros(len(cols)))
    model.ub.append((link, cols, np.ones(len(cols))))
    model.ub.append((link, share[owner], -free))


def _starts(model: LpModel, pairs: _Pairs, intensity: FloatArray, grid: _Grid) -> None:
    """One column per (job, region, start slot): the share of the job started there."""
    owner, rank = _expand(pairs.deadline - pairs.slots - pairs.release + 1)
    start = pairs.release[owner] + rank
    region, last = pairs.region[owner], start + pairs.slots[owner] - 1
    running = np.concatenate((np.zeros((len(intensity), 1)), np.cumsum(intensity, axis=1)), 1)
    whole = running[region, last] - running[region, start]
    tail = (pairs.run[owner] - pairs.slots[owner] + 1) * intensity[region, last]
    cols = model.columns(pairs.g_per_slot[owner] * (whole + tail), np.ones(len(owner)))
    model.eq.append((pairs.job[owner], cols, np.ones(len(cols))))
    end = start + pairs.run[owner]
    first = start // grid.size
    column, step = _expand(np.ceil(end / grid.size).astype(np.int64) - first)
    bucket = first[column] + step
    used = np.minimum(end[column], (bucket + 1) * grid.size) - np.maximum(
        start[column], bucket * grid.size
    )
    row = region[column] * grid.count + bucket
    model.ub.append((row, cols[column], pairs.gpus[owner][column] * used))
    model.use.append(
        (pairs.job[owner][column], bucket, cols[column], pairs.gpus[owner][column] * used)
    )


def _padded(values: np.ndarray, grid: _Grid, fill: float) -> FloatArray:
    wide = np.full((values.shape[0], grid.count * grid.size), fill, dtype=np.float64)
    wide[:, : values.shape[1]] = values
    return wide.reshape(values.shape[0], grid.count, grid.size)


def _bucket_minimum(intensity: FloatArray, grid: _Grid) -> FloatArray:
    minimum: FloatArray = _padded(intensity, grid, np.inf).min(axis=2)
    return minimum


def _bucket_capacity(capacity: IntArray, grid: _Grid) -> FloatArray:
    """GPU-slots free per region and bucket, flattened like the capacity rows."""
    total: FloatArray = _padded(capacity, grid, 0.0).sum(axis=2).ravel()
    return total


def solve_lp(
    model: LpModel, time_limit_s: float | None, method: str = "highs-ipm"
) -> tuple[float, FloatArray]:
    """HiGHS's optimum of ``model``: its objective (grams) and column values.

    Raises ``RuntimeError`` when HiGHS proves the LP infeasible or stops before an optimum.
    """
    eq, eq_rhs = model.matrix("eq")
    ub, ub_rhs = model.matrix("ub")
    options: dict[str, float | bool] = {"disp": False}
    if time_limit_s is not None:
        options["time_limit"] = time_limit_s
    res = linprog(
        np.concatenate(model.cost),
        A_ub=ub.tocsr(),
        b_ub=ub_rhs,
        A_eq=eq.tocsr(),
        b_eq=eq_rhs,
        bounds=np.column_stack((np.zeros(model.n), np.concatenate(model.upper))),
        # interior point (with crossover) by default: on the Alibaba slack-2x bound it
        # finished in 19 min where the dual simplex had not after an hour
        method=method,
        options=options,
    )
    if res.status != 0:
        raise RuntimeError(
            f"HiGHS did not prove an optimum of the bound LP (status {res.status}: "
            f"{res.message}); infeasible means no plan places every job"
        )
    return float(res.fun), np.asarray(res.x, dtype=np.float64)


__all__ = ["LpModel", "build_model", "lower_bound_g", "solve_lp"]
