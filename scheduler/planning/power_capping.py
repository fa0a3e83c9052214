"""Carbon-aware power capping: the power limit per period that minimises a job's emissions.

Given a job's power–throughput curve (``PowerLevel``s measured at several limits), the work it
must do (seconds at full throughput), the intensity forecast on a uniform grid and the deadline,
``plan_power_caps`` chooses when to run and at which limit in each period: low limits while the
grid is dirty, full power while it is clean, never missing the deadline. A pure function.

Model: in period ``t`` (intensity ``I_t``) the job spends a fraction of the period at each level
``i`` (time-sharing two limits within a period is how a fractional choice is realised). Running
at level ``i`` for ``s`` seconds does ``s × throughput_i`` seconds of work and uses
``s × power_w_i × gpus`` joules. A non-interruptible job runs without a gap from its start to
its end (only its last period may be partly idle); an interruptible one may idle anywhere.

For a fixed start and length the problem is a linear programme with one work constraint over
separable piecewise-linear costs, so a greedy over the lower convex hull of each period's levels
is exact: take the cheapest work first, priced at ``I_t × Δpower/Δthroughput``. Every feasible
(start, length) is tried. With a single level this is plain time shifting at a fixed cap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

J_PER_KWH = 3.6e6
_EPS = 1e-9


@dataclass(frozen=True, kw_only=True)
class PowerLevel:
    """One power limit: the average draw there (W per GPU) and relative throughput (1 = full)."""

    limit_w: float
    power_w: float
    throughput: float


@dataclass(frozen=True, kw_only=True)
class CapPiece:
    """Run at ``limit_w`` for ``seconds`` inside period ``period`` (from its start, in order)."""

    period: int
    limit_w: float
    seconds: float
    power_w: float
    throughput: float


@dataclass(frozen=True, kw_only=True)
class PowerCapPlan:
    """Pieces in time order, with the energy (kWh, all GPUs) and emissions (g) they cost."""

    pieces: tuple[CapPiece, ...]
    energy_kwh: float
    emissions_g: float

    @property
    def start_period(self) -> int:
        """The period the job starts in."""
        return self.pieces[0].period

    def end_s(self, period_s: float) -> float:
        """When the job ends, in seconds from the grid origin."""
        last = self.pieces[-1].period
        return last * period_s + sum(p.seconds for p in self.pieces if p.period == last)


def frontier(levels: Sequence[PowerLevel], *, idle: bool) -> list[PowerLevel]:
    """The lower convex hull of the levels by (throughput, power), slowest and cheapest first.

    Levels that are slower and no cheaper than another are dropped first. With ``idle`` the
    hull starts at "not running" (0 W, no work).
    """
    efficient: list[PowerLevel] = []
    for level in sorted(levels, key=lambda lv: (-lv.throughput, lv.power_w)):
        if not efficient or level.power_w < efficient[-1].power_w:
            efficient.append(level)
    points = efficient[::-1]
    if idle:
        points.insert(0, PowerLevel(limit_w=0.0, power_w=0.0, throughput=0.0))
    hull: list[PowerLevel] = []
    for level in points:
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], level) <= 0:
            hull.pop()
        hull.append(level)
    return hull


def _cross(a: PowerLevel, b: PowerLevel, c: PowerLevel) -> float:
    """> 0 when b lies strictly below the segment a→c (keep b on the lower hull)."""
    return (b.throughput - a.throughput) * (c.power_w - a.power_w) - (
        c.throughput - a.throughput
    ) * (b.power_w - a.power_w)


@dataclass(frozen=True, kw_only=True)
class _Problem:
    """The inputs, with both hulls and their step slopes computed once."""

    work_s: float
    intensity: Sequence[float]
    period_s: float
    gpus: int
    running: list[PowerLevel]
    idle: list[PowerLevel]
    running_slopes: list[float]
    idle_slopes: list[float]


@dataclass(frozen=True, kw_only=True)
class _Choice:
    """A window's greedy outcome: hull index per period and one fractional step."""

    cost: float  # W·s·(g/kWh), proportional to emissions
    hulls: dict[int, list[PowerLevel]]
    chosen: dict[int, int]
    partial: tuple[int, float] | None


def plan_power_caps(
    *,
    levels: Sequence[PowerLevel],
    work_s: float,
    intensity_g_per_kwh: Sequence[float],
    period_s: float,
    deadline_period: int,
    gpus: int = 1,
    earliest_period: int = 0,
    interruptible: bool = False,
    start_fixed: bool = False,
) -> PowerCapPlan | None:
    """The lowest-emission plan finishing by the end of period ``deadline_period - 1``.

    ``start_fixed``: a non-interruptible job starts in ``earliest_period`` (the start was
    chosen already, e.g. by time shifting); only its length and limits are chosen.

    Returns None when the work cannot be done in time even at full power (an expected outcome).
    """
    if work_s <= 0 or not levels:
        raise ValueError(f"work_s must be > 0 and levels non-empty (got {work_s}, {len(levels)})")
    problem = _Problem(
        work_s=work_s,
        intensity=intensity_g_per_kwh,
        period_s=period_s,
        gpus=gpus,
        running=(running := frontier(levels, idle=False)),
        idle=(idle := frontier(levels, idle=True)),
        running_slopes=_slopes(running),
        idle_slopes=_slopes(idle),
    )
    deadline = min(deadline_period, len(intensity_g_per_kwh))
    if interruptible:
        best = _plan_window(problem, range(earliest_period, deadline), forced=False)
    else:
        last = earliest_period if start_fixed else None
        best = _best_contiguous(problem, earliest_period, deadline, last_start=last)
    return None if best is None else _assemble(problem, best)


def _best_contiguous(
    problem: _Problem, earliest: int, deadline: int, *, last_start: int | None = None
) -> _Choice | None:
    """Try every start (up to ``last_start``) and length; skip windows whose forced minimum
    already costs too much."""
    fastest, slowest = problem.running[-1].throughput, problem.running[0].throughput
    shortest = math.ceil(problem.work_s / (fastest * problem.period_s) - _EPS)
    longest = math.ceil(problem.work_s / (slowest * problem.period_s) - _EPS)
    floor_w = problem.running[0].power_w * problem.period_s
    best: _Choice | None = None
    final = deadline - shortest if last_start is None else min(last_start, deadline - shortest)
    for start in range(earliest, final + 1):
        for length in range(shortest, min(longest, deadline - start) + 1):
            forced = sum(problem.intensity[start : start + length - 1]) * floor_w
            if best is not None and forced >= best.cost:
                continue
            choice = _plan_window(problem, range(start, start + length), forced=True)
            if choice is not None and (best is None or choice.cost < best.cost - _EPS):
                best = choice
    return best


def _plan_window(problem: _Problem, periods: range, *, forced: bool) -> _Choice | None:
    """Greedy over hull increments in ``periods``; ``forced``: all but the last must run."""
    if not periods:
        return None
    hulls = {
        t: problem.idle if not forced or t == periods[-1] else problem.running for t in periods
    }
    slopes = {id(problem.idle): problem.idle_slopes, id(problem.running): problem.running_slopes}
    chosen = dict.fromkeys(periods, 0)  # index on each period's hull
    done = sum(hulls[t][0].throughput * problem.period_s for t in periods)
    cost = sum(problem.intensity[t] * hulls[t][0].power_w * problem.period_s for t in periods)
    steps = sorted(
        (problem.intensity[t] * slope, t, k)
        for t, h in hulls.items()
        for k, slope in enumerate(slopes[id(h)])
    )
    partial: tuple[int, float] | None = None  # (period, fraction of its next step)
    for price, t, k in steps:
        if done >= problem.work_s - _EPS:
            break
        if k != chosen[t]:
            continue  # a period's steps come in hull order: convexity keeps their prices rising
        gain = (hulls[t][k + 1].throughput - hulls[t][k].throughput) * problem.period_s
        if done + gain <= problem.work_s + _EPS:
            chosen[t], done, cost = k + 1, done + gain, cost + price * gain
        else:
            partial = (t, (problem.work_s - done) / gain)
            done, cost = problem.work_s, cost + price * (problem.work_s - done)
    if done < problem.work_s - 1e-6:
        return None
    return _Choice(cost=cost, hulls=hulls, chosen=chosen, partial=partial)


def _slopes(hull: list[PowerLevel]) -> list[float]:
    """Extra power per extra throughput along the hull (rising, by convexity)."""
    return [
        (high.power_w - low.power_w) / (high.throughput - low.throughput)
        for low, high in pairwise(hull)
    ]


def _assemble(problem: _Problem, choice: _Choice) -> PowerCapPlan:
    hulls, chosen, partial = choice.hulls, choice.chosen, choice.partial
    pieces: list[CapPiece] = []
    for t in sorted(hulls):
        share = partial[1] if partial and partial[0] == t else 0.0
        mix = [(hulls[t][chosen[t]], 1.0 - share)]
        if share > 0:
            mix.insert(0, (hulls[t][chosen[t] + 1], share))
        for level, fraction in mix:
            if level.throughput > 0 and fraction > _EPS:
                seconds = fraction * problem.period_s
                pieces.append(
                    CapPiece(
                        period=t,
                        limit_w=level.limit_w,
                        seconds=seconds,
                        power_w=level.power_w,
                        throughput=level.throughput,
                    )
                )
    energy = [p.power_w * p.seconds * problem.gpus / J_PER_KWH for p in pieces]
    emissions = sum(e * problem.intensity[p.period] for e, p in zip(energy, pieces, strict=True))
    return PowerCapPlan(pieces=tuple(pieces), energy_kwh=sum(energy), emissions_g=emissions)
