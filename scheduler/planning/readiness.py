"""What it costs to keep room, before every deadline, for work not submitted yet (HiGHS LP).

An online planner learns of a deadline's jobs as they are submitted. Suppose one deadline of
a trace (the *reference*) drew far more late submissions than usual, and the week before it
looked like any other. A planner that cannot tell that week from the others must then keep,
before every deadline like it, room for the reference's late work: at every slot ``t``
before such a deadline ``d``,

    work still to do at ``t`` of the jobs submitted by ``t`` and due in ``(t, d]``
        + ``late[d − t]``  ≤  GPU-slots of every region in ``[t, d)``,

where ``late[h]`` is the work (GPU-slots) of the reference's jobs submitted less than ``h``
slots before it. In the reference's own week that is plain feasibility; in the others it is
room kept for a crunch that does not come, and its price is carbon.

``readiness_bound_g`` adds these rows to the LP of ``scheduler.planning.bound`` (one-slot
buckets), so it bounds the emissions of any plan that places every job *and* keeps the room
(the LP relaxes the plans, and the rows relax readiness: room in any region counts, and
only the reference's own deadline's late work is counted). Where no plan can keep the room
before a deadline (its known work alone leaves too little), the rows of that deadline are
dropped and the LP solved again, so the bound covers planners that keep the room wherever it
can be kept. ``benchmarks/readiness.py`` compares it with the capacity-aware optimum.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scheduler.planning.bound import LpModel, build_model, solve_lp
from scheduler.planning.problem import FloatArray, IntArray, PlanProblem

#: grams per GPU-slot of room not kept, as a multiple of the dearest column: the LP keeps
#: every bit of room it can before it looks at carbon
SHORTFALL_PRICE = 1_000.0
#: room short by less than this (GPU-slots) counts as kept (HiGHS's tolerances)
SHORT_TOLERANCE = 1e-6


@dataclass(frozen=True, kw_only=True)
class LateWork:
    """The room to keep: ``late[h]`` GPU-slots before each of ``deadlines`` at ``h`` slots."""

    deadlines: tuple[int, ...]
    late: FloatArray  # late[h] for h = 0 … reach; late[0] = 0


@dataclass(frozen=True, kw_only=True)
class ReadyBound:
    """The bound (grams), the deadlines it kept room before, those where none can be kept."""

    emissions_g: float
    ready: tuple[int, ...]
    unready: tuple[int, ...]
    solves: int


def late_work(problem: PlanProblem, reference: int, period_slots: int) -> LateWork:
    """The reference deadline's late work, to keep before every deadline a period apart.

    ``late[h]`` sums ``gpus × duration_slots`` of the jobs due at slot ``reference`` and
    released after ``reference − h``; it reaches back to the earliest such release. Raises
    ``ValueError`` when no job is due at ``reference`` or ``period_slots`` < 1.
    """
    if period_slots < 1:
        raise ValueError(f"period_slots must be at least 1 (got {period_slots})")
    due = [j for j in problem.jobs if j.deadline_slot == reference]
    if not due:
        deadlines = sorted({j.deadline_slot for j in problem.jobs})
        raise ValueError(
            f"no job is due at slot {reference}; pick one of the problem's deadlines "
            f"(first ones: {deadlines[:5]})"
        )
    reach = reference - min(j.release_slot for j in due)
    late = np.zeros(reach + 1)
    for job in due:
        late[reference - job.release_slot + 1 :] += job.gpus * job.duration_slots
    same = {
        j.deadline_slot for j in problem.jobs if (j.deadline_slot - reference) % period_slots == 0
    }
    return LateWork(deadlines=tuple(sorted(same)), late=late)


def readiness_bound_g(
    problem: PlanProblem,
    late: LateWork,
    *,
    time_limit_s: float | None = None,
    method: str = "highs",
    progress: Callable[[str], None] | None = None,
) -> ReadyBound:
    """Grams CO2e below which no plan that places every job and keeps the room can go.

    See the module docstring. Each solve that leaves room short before some deadlines drops
    those deadlines' rows; ``progress`` hears one line per solve. Raises ``ValueError`` for
    negative or empty late work and as ``bound.build_model`` does, and ``RuntimeError`` when
    HiGHS stops before an optimum or no plan places every job.
    """
    if len(late.late) == 0 or late.late.min() < 0:
        raise ValueError(
            f"late work must be GPU-slots ≥ 0 from h = 0 on (got {late.late[:5]}…); "
            "build it with late_work and scale it by a factor ≥ 0"
        )
    dropped: set[int] = set()
    solves = 0
    while True:
        kept = tuple(d for d in late.deadlines if d not in dropped)
        model = build_model(problem, one_region=False)
        rows = _Rows.add(model, problem, LateWork(deadlines=kept, late=late.late))
        grams, x = solve_lp(model, time_limit_s, method)
        solves += 1
        shortfall = x[rows.slack]
        short = {int(d) for d in rows.deadline[shortfall > SHORT_TOLERANCE]}
        if progress is not None:
            progress(f"solve {solves}: {len(kept)} deadlines kept ready, {len(short)} short")
        if not short:
            return ReadyBound(
                emissions_g=grams - rows.price * float(shortfall.sum()),
                ready=kept,
                unready=tuple(sorted(dropped)),
                solves=solves,
            )
        dropped |= short


@dataclass(frozen=True, kw_only=True)
class _Rows:
    """The readiness rows added to a model: each one's slack column and deadline."""

    slack: IntArray
    deadline: IntArray
    price: float  # grams per GPU-slot of room not kept

    @classmethod
    def add(cls, model: LpModel, problem: PlanProblem, late: LateWork) -> _Rows:
        """Suffix columns per group of jobs due together, then one row per (deadline, slot)."""
        jobs = _Jobs.of(problem)
        suffix = _Suffix.add(model, jobs, _groups(jobs.deadline, late))
        price = SHORTFALL_PRICE * float(np.concatenate(model.cost).max(initial=1.0))
        free = np.concatenate(([0], np.cumsum(problem.capacity.sum(axis=0))))
        cols: list[IntArray] = [np.zeros(0, dtype=np.int64)]
        rows: list[IntArray] = [np.zeros(0, dtype=np.int64)]
        rhs: list[float] = []
        owner: list[int] = []
        for d in late.deadlines:
            for h in np.nonzero(late.late[1 : d + 1] > 0)[0] + 1:
                t = d - int(h)
                inside = suffix.started(t, d)
                cols.append(suffix.column(inside, t))
                rows.append(np.full(len(cols[-1]), len(rhs)))
                room = free[d] - free[t] - late.late[h]
                rhs.append(room + jobs.work_after(t, suffix.groups[inside]))
                owner.append(d)
        index = model.rows("ub", np.asarray(rhs, dtype=np.float64))
        model.ub.append(
            (index[np.concatenate(rows)], np.concatenate(cols), np.ones(sum(map(len, cols))))
        )
        slack = model.columns(np.full(len(rhs), price), np.full(len(rhs), np.inf))
        model.ub.append((index, slack, -np.ones(len(rhs))))
        return cls(slack=slack, deadline=np.asarray(owner, dtype=np.int64), price=price)


@dataclass(frozen=True, kw_only=True)
class _Jobs:
    """The jobs' deadlines, releases and work (GPU-slots) as arrays."""

    deadline: IntArray
    release: IntArray
    work: FloatArray

    @classmethod
    def of(cls, problem: PlanProblem) -> _Jobs:
        """From ``problem.jobs``, in order."""
        return cls(
            deadline=np.array([j.deadline_slot for j in problem.jobs], dtype=np.int64),
            release=np.array([j.release_slot for j in problem.jobs], dtype=np.int64),
            work=np.array([j.gpus * j.duration_slots for j in problem.jobs], dtype=np.float64),
        )

    def work_after(self, t: int, started: IntArray) -> float:
        """Work of the ``started`` groups' jobs released after ``t``.

        A group's suffix column at ``t`` counts those jobs too, though they are not known
        at ``t``; the row's right-hand side takes them back out. Groups with no job
        released by ``t`` are not in the row at all.
        """
        after = np.isin(self.deadline, started) & (self.release > t)
        return float(self.work[after].sum())


def _groups(deadline: IntArray, late: LateWork) -> IntArray:
    """The deadlines of jobs that some kept deadline's rows reach."""
    values = np.unique(deadline)
    kept = np.asarray(late.deadlines, dtype=np.int64)
    reach = len(late.late) - 1
    near = (values[:, None] > kept[None, :] - reach) & (values[:, None] <= kept[None, :])
    groups: IntArray = values[near.any(axis=1)]
    return groups


@dataclass(frozen=True, kw_only=True)
class _Suffix:
    """Columns ``Q[g, t]``: work of the jobs due at ``groups[g]`` done at slots ≥ ``t``."""

    groups: IntArray
    first: IntArray  # earliest release in the group: its first column's slot
    offset: IntArray
    start: int  # the first column's index

    @classmethod
    def add(cls, model: LpModel, jobs: _Jobs, groups: IntArray) -> _Suffix:
        """``Q[g, t] − Q[g, t + 1]`` = the group's GPU-slots in slot ``t`` (``Q[g, e] = 0``)."""
        first = np.array([jobs.release[jobs.deadline == g].min() for g in groups], dtype=np.int64)
        length = groups - first
        offset = np.concatenate(([0], np.cumsum(length)[:-1])).astype(np.int64)
        total = int(length.sum())
        cols = model.columns(np.zeros(total), np.full(total, np.inf))
        rows = model.rows("eq", np.zeros(total))
        model.eq.append((rows, cols, np.ones(total)))
        later = np.ones(total, dtype=bool)
        later[offset[length > 0]] = False  # a group's first column has no row before it
        model.eq.append((rows[later] - 1, cols[later], -np.ones(int(later.sum()))))
        job, slot, col, used = (np.concatenate([u[i] for u in model.use]) for i in range(4))
        due = jobs.deadline[job]
        g = np.clip(np.searchsorted(groups, due), 0, max(len(groups) - 1, 0))
        hit = (groups[g] == due) if len(groups) else np.zeros(len(due), dtype=bool)
        row = rows[0] + offset[g[hit]] + slot[hit] - first[g[hit]] if total else rows[:0]
        model.eq.append((row, col[hit], -used[hit]))
        return cls(groups=groups, first=first, offset=offset, start=int(cols[0]) if total else 0)

    def started(self, t: int, d: int) -> np.ndarray:
        """Mask of the groups due in ``(t, d]`` with a column at ``t``."""
        mask: np.ndarray = (self.groups > t) & (self.groups <= d) & (self.first <= t)
        return mask

    def column(self, mask: np.ndarray, t: int) -> IntArray:
        """The columns ``Q[g, t]`` of the groups in ``mask``."""
        cols: IntArray = self.start + self.offset[mask] + t - self.first[mask]
        return cols
