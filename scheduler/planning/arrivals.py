"""What jobs not yet submitted will need: last week's jobs, again.

Training workloads repeat weekly (the same teams submit before the same deadlines), and an
online planner that fills the green weekend with the jobs it knows on Wednesday has no room
left for the long jobs that arrive on Friday afternoon with hours of slack. Every forecast
here assumes that each job submitted one ``period`` ago comes back one period later, with
the same GPUs, duration and slack. Only jobs already submitted (release ≤ now) are read.

``last_period_jobs`` (the default for rigid jobs, with the reserve): last week's
non-interruptible jobs come back as jobs (``PlanProblem.expected_jobs``). The exact model
places them beside the known jobs, each in its own cheapest windows (a mix of them, as an
LP, unless ``CarbonshiftPolicy.expected_whole_windows``), and drops their placements: known
jobs leave them room where that costs less than leaving one out
(``CarbonshiftPolicy.expected_job_cost``), but keep the green hours they do not need. A
rigid arrival needs a contiguous window, which only a job-shaped forecast describes.

``last_period_use`` (opt-in, ``--arrival-forecast``): the same rigid jobs held over their
*latest* windows (``deadline − duration`` to ``deadline``), the slots they cannot do without,
× ``scale`` and rounded down (``PlanProblem.expected_use``, kept free whenever every known job
still fits). Safer in a cluster where every week is tight, and dearer: it keeps the greenest
hours from known jobs even when the arrivals could have used others.

``last_period_jobs(interruptible=True)`` (opt-in, ``--arrival-insurance``): last week's
interruptible jobs come back as jobs too, × ``scale``, instead of as the priced demand below.
Known jobs then leave them room wherever any is left, so a tight cluster keeps room for a
crunch it cannot see coming, at a price in savings (``docs/decisions/0002``, "Arrival
insurance").

``last_period_demand`` (the default for interruptible jobs, with the reserve): each job's
GPU-slots × ``scale`` spread evenly over its window. The planner keeps that many GPUs as a
*priced* reserve (``PlanProblem.expected_demand``): known jobs use them only where that saves
more than the reserve's price. Interruptible arrivals run in whatever pieces are free, so
their total is what matters.

``submission_surge`` reads the same history for a crunch in the making: the GPU-hours
submitted in the last ``window`` (two days) over those of the same two days a week before.
A crunch week announces itself that way a day or two before its last, longest jobs come: in
the LWA year the two days to Thursday 6 February 2020, before the crunch of the 10th, brought
2.4 × the work of the same two days a week earlier. The planner then runs queued work sooner
(``PlanProblem.arrival_surge``, set with the reserve), and from a surge of 2.2 on it expects
last week's rigid jobs back twice (``CRUNCH_SURGE``, ``CRUNCH_SCALE``): those long rigid
jobs come at a crunch's end. ``last_period_load`` is last week's work over the GPU-slots the
cluster offers in a week (``PlanProblem.arrival_load``): where it is high, even ordinary
weeks leave little room to defer into. Pure numpy; see ``docs/decisions/0002`` ("Arrival
forecast", "Arrival reserve", "Submission surge", "Expected rigid jobs") for what each buys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from scheduler.planning.problem import IntArray, PlanJob, PlanProblem

WEEK_S = 7 * 86400
#: the span whose submissions ``submission_surge`` compares with the same span a week before
SURGE_WINDOW_S = 2 * 86400
#: how far back planning reads submitted jobs: last week's, and the surge's week-old window
HISTORY_S = WEEK_S + SURGE_WINDOW_S
#: the default ``arrival_reserve`` scale: last week's work × 1.5 (measured best on the LWA
#: year; ``docs/decisions/0002``, "Submission surge"); 0 turns the reserve off
RESERVE_SCALE = 1.5
#: with the reserve on and no arrival forecast, from a (finite) surge of ``CRUNCH_SURGE`` on
#: last week's rigid jobs are expected back ``CRUNCH_SCALE`` times: a crunch in the making
#: brings more long rigid jobs at its end (``docs/decisions/0002``, "Expected rigid jobs")
CRUNCH_SURGE = 2.2
CRUNCH_SCALE = 2.0


@dataclass(frozen=True, kw_only=True)
class History:
    """Submitted jobs, in slots of one grid (arrays of equal length)."""

    release: IntArray
    deadline: IntArray
    duration: IntArray
    gpus: IntArray
    region: IntArray
    interruptible: npt.NDArray[np.bool_]
    #: each job's allowed regions (expected jobs may run in any of them); empty: only
    #: ``region``
    allowed: tuple[tuple[int, ...], ...] = ()


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
    history: History,
    *,
    now: int,
    slots: int,
    regions: int,
    period: int,
    scale: float,
    rigid: bool = True,
    interruptible: bool = True,
) -> IntArray:
    """GPUs per ``[region, slot]`` that last period's jobs (``rigid`` ones, ``interruptible``
    ones or both) would want again.

    Each job submitted in ``(now − period, now]`` is expected back one ``period`` later with
    its GPU-slots × ``scale`` spread evenly over its window (release to deadline), cut to the
    horizon ``[0, slots)``; rounded down. See the module docstring.
    """
    _check(period, scale)
    if scale == 0 or slots <= 0:
        return np.zeros((regions, max(slots, 0)), dtype=np.int64)
    recent = (history.release > now - period) & (history.release <= now)
    seen = recent & np.where(history.interruptible, interruptible, rigid)
    release = history.release[seen] + period - now
    deadline = history.deadline[seen] + period - now
    rate = history.gpus[seen] * scale * history.duration[seen] / np.maximum(1, deadline - release)
    delta = np.zeros((regions, slots + 1), dtype=np.float64)
    np.add.at(delta, (history.region[seen], np.clip(release, 0, slots)), rate)
    np.add.at(delta, (history.region[seen], np.clip(deadline, 0, slots)), -rate)
    wanted: IntArray = np.floor(np.cumsum(delta[:, :slots], axis=1) + 1e-9).astype(np.int64)
    return wanted


def last_period_jobs(
    history: History,
    *,
    now: int,
    slots: int,
    period: int,
    scale: float,
    interruptible: bool = False,
) -> tuple[PlanJob, ...]:
    """Last period's rigid (or ``interruptible``) jobs, one period later, as jobs to plan
    beside the known ones.

    Each job of that kind submitted in ``(now − period, now]`` comes back one ``period``
    later with the same GPUs, duration, regions and window; only those whose whole window
    falls inside ``[0, slots)``. ``scale`` ≥ 0 sets how many come back: the ``i``-th job
    ``⌊(i + 1)·scale⌋ − ⌊i·scale⌋`` times (1.0: each once; 1.5: every other one twice).
    Their ids (``expected:<row>.<copy>``) are only for reading; a policy tells them from
    submitted jobs by where it got them (``PlanProblem.expected_jobs``).
    """
    _check(period, scale)
    recent = (history.release > now - period) & (history.release <= now)
    seen = np.flatnonzero(recent & (history.interruptible == interruptible))
    release = history.release[seen] + period - now
    deadline = history.deadline[seen] + period - now
    duration = history.duration[seen]
    inside = (release >= 0) & (deadline <= slots) & (duration > 0)
    inside &= deadline - release >= duration
    kept = seen[inside]
    rows = zip(  # plain ints (``tolist``): a week of 10,000 jobs takes 45 ms, not 61
        kept.tolist(),
        release[inside].tolist(),
        deadline[inside].tolist(),
        duration[inside].tolist(),
        history.gpus[kept].tolist(),
        history.region[kept].tolist(),
        strict=True,
    )
    expected: list[PlanJob] = []
    for i, (k, first, due, slots_needed, gpus, home) in enumerate(rows):
        copies = math.floor((i + 1) * scale + 1e-9) - math.floor(i * scale + 1e-9)
        regions = history.allowed[k] if history.allowed else (home,)
        expected += [
            PlanJob(
                id=f"expected:{k}.{copy}",
                gpus=gpus,
                duration_slots=slots_needed,
                release_slot=first,
                deadline_slot=due,
                regions=regions,
                home_region=home,
                interruptible=interruptible,
            )
            for copy in range(copies)
        ]
    return tuple(expected)


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
    problem: PlanProblem,
    history: History,
    *,
    now: int,
    forecast: float,
    reserve: float,
    insurance: float = 0.0,
) -> PlanProblem:
    """``problem`` with what last week's jobs say about the jobs still to come.

    ``forecast`` > 0 (opt-in): last week's rigid jobs held at their latest windows as
    ``expected_use`` (``last_period_use`` × ``forecast``). ``reserve`` > 0 (the default):
    the ``submission_surge`` as ``arrival_surge``, ``last_period_load`` as ``arrival_load``,
    and ``expected_demand`` (``last_period_demand`` × ``reserve``). Without a forecast, the
    reserve expects last week's rigid jobs back as ``expected_jobs`` (``last_period_jobs``;
    ``CRUNCH_SCALE`` times from a finite surge of ``CRUNCH_SURGE``), and its
    demand covers last week's interruptible jobs only; with one, it covers both kinds.
    ``insurance`` > 0 (opt-in, with the reserve): last week's interruptible jobs come back
    as expected jobs × ``insurance`` instead, and the demand leaves them out.
    A scale of 0 leaves its part empty. ``now``: the slot of ``history``'s grid that is the
    problem's slot 0. The cluster's GPUs are taken as the most free in any slot of the
    horizon, per region."""
    shape = {
        "now": now,
        "slots": problem.slots,
        "regions": len(problem.region_names),
        "period": WEEK_S // problem.slot_s,
    }
    if insurance < 0:
        raise ValueError(f"arrival insurance {insurance} must be at least 0; 0 turns it off")
    if insurance > 0 and reserve <= 0:
        raise ValueError(
            f"arrival insurance {insurance} needs the arrival reserve (reserve {reserve}); "
            f"set the reserve ({RESERVE_SCALE} by default) or the insurance to 0"
        )
    use = last_period_use(history, scale=forecast, **shape) if forecast > 0 else None
    if reserve <= 0:
        return replace(problem, expected_use=use, expected_demand=None, expected_jobs=())
    period = shape["period"]
    window = SURGE_WINDOW_S // problem.slot_s
    gpus = int(problem.capacity.max(axis=1).sum()) if problem.capacity.size else 0
    surge = submission_surge(history, now=now, period=period, window=window)
    expected: tuple[PlanJob, ...] = ()
    if use is None:
        crunch = CRUNCH_SURGE <= surge < math.inf
        scale = CRUNCH_SCALE if crunch else 1.0
        expected = last_period_jobs(
            history, now=now, slots=problem.slots, period=period, scale=scale
        )
    if insurance > 0:
        expected += last_period_jobs(
            history,
            now=now,
            slots=problem.slots,
            period=period,
            scale=insurance,
            interruptible=True,
        )
    rigid, interruptible = use is not None, insurance <= 0
    return replace(
        problem,
        expected_use=use,
        expected_jobs=expected,
        expected_demand=last_period_demand(
            history, scale=reserve, rigid=rigid, interruptible=interruptible, **shape
        )
        if rigid or interruptible
        else None,
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
    "CRUNCH_SCALE",
    "CRUNCH_SURGE",
    "HISTORY_S",
    "RESERVE_SCALE",
    "SURGE_WINDOW_S",
    "WEEK_S",
    "History",
    "last_period_demand",
    "last_period_jobs",
    "last_period_load",
    "last_period_use",
    "submission_surge",
    "with_arrivals",
]
