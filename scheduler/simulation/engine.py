"""The replay engine: reveals jobs at submission, asks a policy at each decision point,
executes the plan until the next one, and records what ran where (in slots).

What-if: with ``EngineOptions.announce_h`` every job is revealed that many hours before its
``submit_time`` and still may not start before it, as if its user had submitted it early
with an earliest start. It measures what advance notice is worth; 0 (the default) keeps
FORMATS.md's rule that a job becomes known at its ``submit_time``.

Rolling horizon. At a decision slot ``t`` the policy gets a :class:`PlanProblem` holding only
the jobs that are known and not yet fixed (queued ones, and interruptible ones that may be
re-planned), only the slots up to their latest deadline, the forecast available at ``t`` and
the capacity left by fixed (started non-interruptible) jobs. A non-interruptible job is fixed
once its planned start passes; an interruptible one keeps the region it first ran in and may
be moved in time at every later decision.

Decision points are events, never every slot: job arrivals always; with a perfect forecast
and no horizon limit that is enough (nothing new is learnt in between); otherwise also every
planned segment start (the forecast is re-issued before a job starts) and, with
``--horizon-h``, every eighth of the horizon. Offline mode (the oracle) reveals every job and
plans once.

Jobs whose true duration differs from ``estimated_duration_s`` run their true duration; a
non-interruptible overrun holds its GPUs longer, an interruptible one is re-planned.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from scheduler.errors import ConfigError, ScenarioError, ScheduleViolationError
from scheduler.model import IntensityTrace
from scheduler.planning.arrivals import RESERVE_SCALE, History, with_arrivals
from scheduler.planning.problem import Plan, PlanJob, PlanProblem, Policy, Segment
from scheduler.protocols import SignalForecaster
from scheduler.simulation.forecast_errors import ForecastModel, ForecastSpec, build_forecast_model
from scheduler.simulation.grid import FloatArray, SlotGrid, StepIntegral
from scheduler.simulation.scenario import Scenario, SimJob

UNLIMITED_SEGMENTS = 1_000_000


@dataclass(frozen=True, kw_only=True)
class EngineOptions:
    """How the engine replays time."""

    forecast: ForecastSpec = field(default_factory=lambda: ForecastSpec(kind="perfect"))
    horizon_h: float | None = None
    seed: int = 0
    offline: bool = False
    resume_overhead_slots: int = 0
    max_segments: int = UNLIMITED_SEGMENTS
    #: arrival forecast: the non-interruptible jobs submitted a week ago are expected again,
    #: their GPUs × this scale, and planners may keep them free (``planning.arrivals``); 0: off
    arrival_forecast: float = 0.0
    #: arrival reserve: every job submitted a week ago is expected again, its GPU-slots × this
    #: scale spread over its window, and planners may keep them as a priced reserve
    #: (``planning.arrivals.last_period_demand``); 0: off
    arrival_reserve: float = RESERVE_SCALE
    #: arrival insurance: last week's interruptible jobs come back as jobs × this scale,
    #: which the queue must leave room for, instead of in the reserve; needs the reserve
    #: (``planning.arrivals.with_arrivals``); 0: off
    arrival_insurance: float = 0.0
    #: what-if: every job is revealed this many hours before its submit_time and may still
    #: not start before it (see the module docstring); 0: revealed at submission
    announce_h: float = 0.0

    def __post_init__(self) -> None:
        """Refuse a negative or infinite notice, and a negative insurance or one without the
        reserve."""
        if not 0.0 <= self.announce_h < math.inf:
            raise ConfigError(
                f"announce_h {self.announce_h} must be a finite number of hours, at least 0; "
                "0 reveals each job at its submit_time"
            )
        if self.arrival_insurance < 0:
            raise ConfigError(
                f"arrival_insurance {self.arrival_insurance:g} must be at least 0; 0 turns it off"
            )
        if self.arrival_insurance > 0 and self.arrival_reserve <= 0:
            raise ConfigError(
                f"arrival_insurance {self.arrival_insurance:g} needs arrival_reserve above 0; "
                f"set the reserve to {RESERVE_SCALE:g} (the default) or the insurance to 0"
            )


@dataclass(frozen=True, kw_only=True)
class DecisionPoint:
    """What the engine tells an observer after each planning call."""

    slot: int
    time: datetime
    problem: PlanProblem
    plan: Plan
    elapsed_s: float
    revealed: int
    total: int


@dataclass(frozen=True, kw_only=True)
class JobOutcome:
    """What happened to one job, in grid slots."""

    job: SimJob
    segments: tuple[Segment, ...]
    completed: bool
    note: str
    #: a job that missed its deadline: the slot from which the plans left it out for good
    #: (None when the last plan still placed it) and the first slot from which its remaining
    #: work no longer fitted before its deadline
    left_out_at: int | None = None
    lost_at: int | None = None


@dataclass(frozen=True, kw_only=True)
class EngineRun:
    """The replay's result: the grid, every job's outcome and the policy's call times."""

    grid: SlotGrid
    integrals: Mapping[str, StepIntegral]
    outcomes: tuple[JobOutcome, ...]
    plan_times_s: tuple[float, ...]


class _State:
    """Mutable replay state of one job (engine-internal)."""

    __slots__ = (
        "deadline",
        "done",
        "done_slots",
        "est_slots",
        "executed",
        "home",
        "job",
        "known",
        "left_out_at",
        "note",
        "pending_note",
        "plan",
        "regions",
        "release",
        "true_slots",
    )

    def __init__(self, job: SimJob, grid: SlotGrid, scenario: Scenario, notice: int = 0) -> None:
        self.job = job
        self.release = grid.ceil_slot(job.submit_s)
        self.known = max(0, self.release - notice)  # the slot the policy first sees it
        self.deadline = grid.floor_slot(job.deadline_s)
        self.est_slots = -(-job.estimated_duration_s // grid.slot_s)
        self.true_slots = -(-job.duration_s // grid.slot_s)
        self.regions = scenario.region_indices(job.zones)
        self.home = scenario.region_indices((job.home_zone,))[0]
        self.executed: list[list[int]] = []
        self.done_slots = 0
        self.done = False
        self.plan: list[Segment] = []
        self.note = ""
        self.pending_note = ""
        self.left_out_at: int | None = None

    def remaining_est(self) -> int:
        return max(1, self.est_slots - self.done_slots)

    def run(self, region: int, start: int, end: int) -> None:
        """Record execution of ``[start, end)`` (clipped to the work left)."""
        end = min(end, start + self.true_slots - self.done_slots)
        if end <= start:
            return
        if not self.executed:
            self.note = self.pending_note
            self.regions = (region,)
        last = self.executed[-1] if self.executed else None
        if last is not None and last[0] == region and last[2] == start:
            last[2] = end
        else:
            self.executed.append([region, start, end])
        self.done_slots += end - start
        self.done = self.done_slots >= self.true_slots


class Simulator:
    """Replays a scenario under one policy; see the module docstring for the rules."""

    def __init__(
        self,
        scenario: Scenario,
        traces: Mapping[str, IntensityTrace],
        policy: Policy,
        *,
        options: EngineOptions | None = None,
        forecaster: SignalForecaster | None = None,
        observer: Callable[[DecisionPoint], None] | None = None,
    ) -> None:
        self.scenario = scenario
        self.policy = policy
        self.options = options or EngineOptions()
        self.observer = observer
        jobs = scenario.jobs
        end_s = max(max(j.deadline_s, j.submit_s + j.duration_s) for j in jobs)
        self.grid = SlotGrid.covering(jobs[0].submit_s, end_s, scenario.slot_s)
        self.zones = sorted({region.zone for region in scenario.regions})
        self.integrals = _integrals(self.zones, traces, self.grid)
        self.truth = np.stack([self.integrals[z].slot_means(self.grid) for z in self.zones])
        self.forecast: ForecastModel = build_forecast_model(
            self.options.forecast,
            truth=self.truth,
            integrals=[self.integrals[z] for z in self.zones],
            grid=self.grid,
            seed=self.options.seed,
            forecaster=forecaster,
        )
        self.region_zone = np.array([self.zones.index(r.zone) for r in scenario.regions])
        self.pue = np.array([r.pue for r in scenario.regions])
        self.gpus = np.array([r.gpus for r in scenario.regions], dtype=np.int64)
        slack = max(-(-j.duration_s // scenario.slot_s) for j in jobs) + 1
        self.occupied = np.zeros((len(scenario.regions), self.grid.slots + slack), np.int64)
        self.horizon_slots = _horizon_slots(self.options.horizon_h, self.grid.slot_s)
        self.refresh = not self.options.forecast.perfect or self.horizon_slots is not None
        self.plan_times: list[float] = []
        self.history = _history([])  # set in ``run`` from the jobs' states

    def run(self) -> EngineRun:
        """Replay every job; return their outcomes (``ScheduleViolationError`` on bad plans)."""
        notice = int(self.options.announce_h * 3600) // self.grid.slot_s
        states = [_State(job, self.grid, self.scenario, notice) for job in self.scenario.jobs]
        states.sort(key=lambda s: s.known)
        self.history = _history(states)
        pending, active = list(reversed(states)), []
        t: int | None = 0 if self.options.offline else states[0].known
        while t is not None:
            while pending and (self.options.offline or pending[-1].known <= t):
                active.append(pending.pop())
            active = [s for s in active if not s.done and not self._expired(s, t)]
            self._plan(t, active, len(states) - len(pending), len(states))
            t_next = self._next_decision(t, pending, active)
            self._execute(active, t_next)
            active = [s for s in active if not s.done]
            t = t_next
        outcomes = tuple(
            JobOutcome(
                job=s.job,
                segments=tuple(Segment(region=r, start=a, end=b) for r, a, b in s.executed),
                completed=s.done,
                note=s.note,
                left_out_at=None if s.done else s.left_out_at,
                lost_at=None if s.done else max(s.release, s.deadline - s.remaining_est() + 1),
            )
            for s in sorted(states, key=lambda s: s.job.id)
        )
        return EngineRun(
            grid=self.grid,
            integrals=self.integrals,
            outcomes=outcomes,
            plan_times_s=tuple(self.plan_times),
        )

    def _expired(self, state: _State, t: int) -> bool:
        """A job that can no longer meet its deadline is dropped (counted as missed)."""
        return max(t, state.release) + state.remaining_est() > state.deadline

    def _plan(self, t: int, active: Sequence[_State], revealed: int, total: int) -> None:
        if not active:
            return
        problem = self._problem(t, active)
        began = time.perf_counter()
        plan = self.policy.plan(problem)
        elapsed = time.perf_counter() - began
        self.plan_times.append(elapsed)
        for state in active:
            self._adopt(t, state, plan)
        if self.observer is not None:
            point = DecisionPoint(
                slot=t,
                time=self.grid.time(t),
                problem=problem,
                plan=plan,
                elapsed_s=elapsed,
                revealed=revealed,
                total=total,
            )
            self.observer(point)

    def _problem(self, t: int, active: Sequence[_State]) -> PlanProblem:
        length = max(s.deadline for s in active) - t
        forecasts = [self._zone_forecast(z, t, length) for z in range(len(self.zones))]
        intensity = np.stack([forecasts[z] for z in self.region_zone]) * self.pue[:, None]
        capacity = self.gpus[:, None] - self.occupied[:, t : t + length]
        jobs = [
            PlanJob(
                id=s.job.id,
                gpus=s.job.gpus,
                duration_slots=s.remaining_est(),
                release_slot=max(0, s.release - t),
                deadline_slot=s.deadline - t,
                regions=s.regions,
                interruptible=s.job.interruptible,
                power_w=s.job.power_w,
                home_region=s.home,
            )
            for s in active
        ]
        problem = PlanProblem(
            start=self.grid.time(t),
            slot_s=self.grid.slot_s,
            region_names=tuple(r.name for r in self.scenario.regions),
            intensity=intensity,
            capacity=capacity,
            jobs=jobs,
            resume_overhead_slots=self.options.resume_overhead_slots,
            max_segments=self.options.max_segments,
        )
        if self.options.offline:  # every job is known: nothing to forecast
            return problem
        return with_arrivals(
            problem,
            self.history,
            now=t,
            forecast=self.options.arrival_forecast,
            reserve=self.options.arrival_reserve,
            insurance=self.options.arrival_insurance,
        )

    def _zone_forecast(self, zone: int, t: int, length: int) -> FloatArray:
        seen = length if self.horizon_slots is None else min(length, self.horizon_slots)
        values = self.forecast.forecast(zone, t, seen)
        if seen == length:
            return values
        return np.concatenate((values, np.full(length - seen, float(values.mean()))))

    def _adopt(self, t: int, state: _State, plan: Plan) -> None:
        segments = plan.placements.get(state.job.id)
        state.pending_note = plan.notes.get(state.job.id, "")
        if segments is None:
            if state.left_out_at is None:
                state.left_out_at = t
            state.plan = []
            return
        state.left_out_at = None
        shifted = sorted(
            (Segment(region=s.region, start=s.start + t, end=s.end + t) for s in segments),
            key=lambda s: s.start,
        )
        problem = _placement_problem(state, shifted, t)
        if problem:
            raise ScheduleViolationError(
                f"policy {self.policy.name!r} at {self.grid.time(t).isoformat()} placed job "
                f"{state.job.id} badly: {problem}; fix the policy (it must never return an "
                "infeasible placement)"
            )
        state.plan = shifted

    def _next_decision(self, t: int, pending: list[_State], active: list[_State]) -> int | None:
        candidates = [pending[-1].known] if pending and not self.options.offline else []
        for state in active:
            planned = sum(seg.end - seg.start for seg in state.plan)
            if state.plan and planned < state.true_slots - state.done_slots:
                candidates.append(state.plan[-1].end)  # runs out of plan before finishing
            if self.refresh and state.plan:
                candidates.extend(s.start for s in state.plan if s.start > t)
        if self.horizon_slots is not None and active:
            candidates.append(t + max(1, self.horizon_slots // 8))
        later = [c for c in candidates if c > t]
        return min(later) if later else None

    def _execute(self, active: Sequence[_State], until: int | None) -> None:
        """Run every plan up to slot ``until`` (to the end when None)."""
        for state in active:
            if not state.plan:
                continue
            if not state.job.interruptible:
                self._start_fixed(state, until)
                continue
            keep: list[Segment] = []
            for seg in state.plan:
                stop = seg.end if until is None else min(seg.end, until)
                if seg.start < stop:
                    state.run(seg.region, seg.start, stop)
                if until is not None and seg.end > until and not state.done:
                    keep.append(
                        Segment(region=seg.region, start=max(seg.start, until), end=seg.end)
                    )
            state.plan = [] if state.done else keep

    def _start_fixed(self, state: _State, until: int | None) -> None:
        seg = state.plan[0]
        if until is not None and seg.start >= until:
            return
        state.run(seg.region, seg.start, seg.start + state.true_slots)
        self.occupied[seg.region, seg.start : seg.start + state.true_slots] += state.job.gpus
        state.plan = []


def _history(states: Sequence[_State]) -> History:
    """Every job in slots, for the arrival forecast (which reads only those already submitted)."""
    return History(
        release=np.array([s.release for s in states], dtype=np.int64),
        deadline=np.array([s.deadline for s in states], dtype=np.int64),
        duration=np.array([s.est_slots for s in states], dtype=np.int64),
        gpus=np.array([s.job.gpus for s in states], dtype=np.int64),
        region=np.array([s.home for s in states], dtype=np.int64),
        interruptible=np.array([s.job.interruptible for s in states], dtype=np.bool_),
        allowed=tuple(s.regions for s in states),
    )


def _placement_problem(state: _State, segments: Sequence[Segment], t: int) -> str:
    """Why ``segments`` cannot be the placement of ``state``'s job ("" when fine)."""
    if not segments:
        return "an empty placement (list it in Plan.unplaced instead)"
    first = max(t, state.release)
    slots = sum(seg.end - seg.start for seg in segments)
    checks = (
        (
            any(seg.region not in state.regions for seg in segments),
            f"regions {sorted({s.region for s in segments})} outside allowed {state.regions}",
        ),
        (
            segments[0].start < first or segments[-1].end > state.deadline,
            f"slots {segments[0].start}–{segments[-1].end} outside its window "
            f"{first}–{state.deadline}",
        ),
        (
            any(a.end > b.start or a.end <= a.start for a, b in itertools.pairwise(segments)),
            "overlapping or empty segments",
        ),
        (
            not state.job.interruptible and len(segments) != 1,
            f"a non-interruptible job split into {len(segments)} segments",
        ),
        (
            slots < state.remaining_est(),
            f"{slots} slots for a job that needs {state.remaining_est()}",
        ),
    )
    return next((message for failed, message in checks if failed), "")


def _integrals(
    zones: Sequence[str], traces: Mapping[str, IntensityTrace], grid: SlotGrid
) -> dict[str, StepIntegral]:
    integrals = {}
    for zone in zones:
        if zone not in traces:
            raise ScenarioError(
                f"no carbon trace for zone {zone}; the carbon files hold {sorted(traces)}: "
                "pass a file with that zone"
            )
        integral = StepIntegral(traces[zone])
        integral.check_covers(grid.origin_s, grid.end_s, "the scenario")
        integrals[zone] = integral
    return integrals


def _horizon_slots(horizon_h: float | None, slot_s: int) -> int | None:
    if horizon_h is None:
        return None
    return max(1, int(horizon_h * 3600 // slot_s))
