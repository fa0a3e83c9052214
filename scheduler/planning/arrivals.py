"""A forecast of the GPUs that jobs not yet submitted will need: last week's jobs, again.

Training workloads repeat weekly (the same teams submit before the same deadlines), and an
online planner that fills the green weekend with the jobs it knows on Wednesday has no room
left for the long jobs that arrive on Friday afternoon with hours of slack. The forecast here
assumes that every job submitted one ``period`` ago comes back one period later, with the
same GPUs, duration and slack, and expects it to hold its GPUs over its *latest* window
(``deadline − duration`` to ``deadline``), the slots it cannot do without. Multiplied by
``scale`` (a crunch week can bring half as much work again as the week before) and rounded
down, that is the ``PlanProblem.expected_use`` a policy may keep free.

Only non-interruptible jobs already submitted (release ≤ now) are used, and only those whose
whole latest window falls inside the planning horizon. Interruptible arrivals are not held:
they run in whatever pieces are free, and known interruptible jobs can still make room for
them later (on the LWA interruptible year holding them cost 0.6 pp of savings at 34 GPUs and
saved no deadline the load-driven lateness cost had not).

``last_period_demand`` is the soft counterpart for every job kind: each job of the last
period comes back, its GPU-slots (GPUs × duration × ``scale``) spread evenly over its whole
window. The planner keeps that many GPUs as a *priced* reserve (``PlanProblem
.expected_demand``): known jobs use them only where that saves more than the reserve's price,
so the green hours a later arrival will want are not all given away before it comes.

``submission_surge`` reads the same history for a crunch in the making: the GPU-hours
submitted in the last ``window`` (two days) over those of the same two days a week before.
A crunch week announces itself that way a day or two before its last, longest jobs come: in
the LWA year the two days to Thursday 6 February 2020, before the crunch of the 10th, brought
2.4 × the work of the same two days a week earlier. The planner then runs queued work sooner
(``PlanProblem.arrival_surge``, set with the reserve), and from a surge of 1.7 on it also
holds last week's rigid jobs' latest windows as the arrival forecast does (the crunch hold:
those long rigid jobs come at a crunch's end). ``last_period_load`` is last week's
work over the GPU-slots the cluster offers in a week (``PlanProblem.arrival_load``): where it
is high, even ordinary weeks leave little room to defer into. Pure numpy; see
``docs/decisions/0002`` ("Arrival forecast", "Arrival reserve", "Submission surge", "Crunch
hold") for what each buys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from scheduler.planning.problem import IntArray, PlanProblem

WEEK_S = 7 * 86400
#: the span whose submissions ``submission_surge`` compares with the same span a week before
SURGE_WINDOW_S = 2 * 86400
#: how far back planning reads submitted jobs: last week's, and the surge's week-old window
HISTORY_S = WEEK_S + SURGE_WINDOW_S
#: the default ``arrival_reserve`` scale: last week's work × 1.5 (measured best on the LWA
#: year; ``docs/decisions/0002``, "Submission surge"); 0 turns the reserve off
RESERVE_SCALE = 1.5
#: with the reserve on and no arrival forecast, a surge from this (finite) value on also holds
#: last week's rigid jobs' latest windows, × ``CRUNCH_HOLD``: a crunch in the making brings
#: long rigid jobs at its end (``docs/decisions/0002``, "Crunch hold")
CRUNCH_SURGE = 1.7
CRUNCH_HOLD = 1.5


@dataclass(frozen=True, kw_only=True)
class History:
    """Submitted jobs, in slots of one grid (arrays of equal length)."""

    release: IntArray
    deadline: IntArray
    duration: IntArray
    gpus: IntArray
    region: IntArray
    interruptible: npt.NDArray[np.bool_]


def last_period_use(
    history: History, *, now: int, slots: int, regions: int, period: int, scale: float
) -> IntArray:
    """GPUs per ``[region, slot]`` (slot 0 = ``now``) that last period's jobs would hold again.

    ``period`` is in slots (one week by default at the caller), ``scale`` ≥ 0 multiplies the
    expected GPUs. See the module docstring.
    """
    _check(period, scale)
    if scale == 0 or slots <= 0:
        return np.zeros((regions, max(slots, 0)), dtype=np.int64)
    seen = ~history.interruptible & (history.release > now - period) & (history.release <= now)
    seen &= history.release <= now - period + slots
    due = history.deadline[seen] + period - now
    first = due - history.duration[seen]
    inside = (first >= 0) & (due <= slots)
    due, first = due[inside], first[inside]
    gpus = history.gpus[seen][inside].astype(np.float64) * scale
    region = history.region[seen][inside]
    # difference array: +gpus at the first slot, −gpus at the end, summed along slots
    delta = np.zeros((regions, slots + 1), dtype=np.float64)
    np.add.at(delta, (region, first), gpus)
    np.add.at(delta, (region, due), -gpus)
    held: IntArray = np.floor(np.cumsum(delta[:, :slots], axis=1) + 1e-9).astype(np.int64)
    return held


def last_period_demand(
    history: History, *, now: int, slots: int, regions: int, period: int, scale: float
) -> IntArray:
    """GPUs per ``[region, slot]`` that last period's jobs of both kinds would want again.

    Each job submitted in ``(now − period, now]`` is expected back one ``period`` later with
    its GPU-slots × ``scale`` spread evenly over its window (release to deadline), cut to the
    horizon ``[0, slots)``; rounded down. See the module docstring.
    """
    _check(period, scale)
    if scale == 0 or slots <= 0:
        return np.zeros((regions, max(slots, 0)), dtype=np.int64)
    seen = (history.release > now - period) & (history.release <= now)
    release = history.release[seen] + period - now
    deadline = history.deadline[seen] + period - now
    rate = history.gpus[seen] * scale * history.duration[seen] / np.maximum(1, deadline - release)
    delta = np.zeros((regions, slots + 1), dtype=np.float64)
    np.add.at(delta, (history.region[seen], np.clip(release, 0, slots)), rate)
    np.add.at(delta, (history.region[seen], np.clip(deadline, 0, slots)), -rate)
    wanted: IntArray = np.floor(np.cumsum(delta[:, :slots], axis=1) + 1e-9).astype(np.int64)
    return wanted


def submission_surge(history: History, *, now: int, period: int, window: int) -> float:
    """GPU-slots submitted in ``(now − window, now]`` over those of the same span a period ago.

    1.0 when neither span saw a job; infinity when only the recent one did (a workload with no
    history yet: the caller caps it). ``period`` and ``window`` are in slots.
    """
    _check(period)
    if window <= 0:
        raise ValueError(f"window {window} slots must be positive; use two days in slots")
    recent = _work_between(history, now - window, now)
    before = _work_between(history, now - period - window, now - period)
    if before > 0:
        return recent / before
    return math.inf if recent > 0 else 1.0


def last_period_load(history: History, *, now: int, period: int, gpus: int) -> float:
    """GPU-slots submitted in ``(now − period, now]`` over the ``gpus`` × ``period`` offered.

    How tight the cluster is for this workload: about 0.52 for the LWA year at 34 GPUs and
    0.66 at 27. 0 when there are no GPUs.
    """
    _check(period)
    return _work_between(history, now - period, now) / (gpus * period) if gpus > 0 else 0.0


def _work_between(history: History, after: int, until: int) -> float:
    """GPU-slots of the jobs released in ``(after, until]``."""
    seen = (history.release > after) & (history.release <= until)
    return float((history.gpus[seen] * history.duration[seen]).sum())


def with_arrivals(
    problem: PlanProblem, history: History, *, now: int, forecast: float, reserve: float
) -> PlanProblem:
    """``problem`` with last week's jobs as its ``expected_use`` (``last_period_use`` × the
    ``forecast`` scale) and ``expected_demand`` (``last_period_demand`` × ``reserve``, with
    the ``submission_surge`` as its ``arrival_surge`` and ``last_period_load`` as its
    ``arrival_load``); a scale of 0 leaves those None. With the reserve but no forecast, a
    surge of at least ``CRUNCH_SURGE`` (finite: there is a week to compare with) sets
    ``expected_use`` at ``CRUNCH_HOLD``. ``now``: the slot of ``history``'s grid that is the
    problem's slot 0. The cluster's GPUs are taken as the most free in any slot of the
    horizon, per region."""
    shape = {
        "now": now,
        "slots": problem.slots,
        "regions": len(problem.region_names),
        "period": WEEK_S // problem.slot_s,
    }
    use = last_period_use(history, scale=forecast, **shape) if forecast > 0 else None
    if reserve <= 0:
        return replace(problem, expected_use=use, expected_demand=None)
    period = shape["period"]
    window = SURGE_WINDOW_S // problem.slot_s
    gpus = int(problem.capacity.max(axis=1).sum()) if problem.capacity.size else 0
    surge = submission_surge(history, now=now, period=period, window=window)
    if use is None and CRUNCH_SURGE <= surge < math.inf:
        use = last_period_use(history, scale=CRUNCH_HOLD, **shape)
    return replace(
        problem,
        expected_use=use,
        expected_demand=last_period_demand(history, scale=reserve, **shape),
        arrival_surge=surge,
        arrival_load=last_period_load(history, now=now, period=period, gpus=gpus),
    )


def _check(period: int, scale: float = 0.0) -> None:
    if period <= 0 or scale < 0:
        raise ValueError(
            f"period {period} slots must be positive and scale {scale} at least 0; "
            "use one week (7 × 86400 s / slot_s) and a scale such as 1.5"
        )


__all__ = [
    "CRUNCH_HOLD",
    "CRUNCH_SURGE",
    "HISTORY_S",
    "RESERVE_SCALE",
    "SURGE_WINDOW_S",
    "WEEK_S",
    "History",
    "last_period_demand",
    "last_period_load",
    "last_period_use",
    "submission_surge",
    "with_arrivals",
]
