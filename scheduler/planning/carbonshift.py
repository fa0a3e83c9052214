"""The default policy: capacity-aware joint time and region shifting.

**Small problems** (at most ``exact_max_vars`` HiGHS variables: a service tick with a few
hundred jobs) are solved exactly by ``exact.solve`` (LP for interruptible jobs, MILP for the
rest), then rounded; when not every job fits, a MILP leaves out the fewest.

**Room for jobs not yet submitted.** When the queue's work fills more than ``load_low`` of
the GPU-slots before its last deadline, every day of delay costs up to
``busy_lateness_cost`` × the intensity spread (reached at ``load_high``), so a crowded queue
runs sooner and a later crunch of arrivals still fits. On by default; the other robustness
knobs (a fixed lateness cost, a soft GPU reserve, keeping part of each job's slack) are off.
See the decision record for what each costs.

**Expected arrivals.** When the problem carries an arrival forecast
(``PlanProblem.expected_use``, from ``arrivals.last_period_use``: last week's rigid jobs held
at their latest windows), the jobs are planned in the capacity it leaves, and in all of it
only if that would leave one out. The simulator supplies it with ``--arrival-forecast``.
With the arrival reserve (``--arrival-reserve``, on by default) last week's rigid jobs come
back as jobs (``PlanProblem.expected_jobs``): the exact model places them beside the known
ones and then drops them, and leaving one out costs ``expected_job_cost`` × the intensity
spread per kWh, so known jobs take their room only where nothing else is left. An expected
job's room is a mix of its windows (an LP) unless ``expected_whole_windows``. They are
bounded: the soonest released are kept while the model fits ``exact_max_vars``, and when
HiGHS stops at ``exact_time_limit_s`` beside them with a known job left out, the queue is
planned alone, so last week's jobs add at most about that limit to a plan
(``benchmarks/expected_jobs.py``). Last week's
interruptible jobs come back as a demand spread over their windows
(``PlanProblem.expected_demand``, ``arrivals.last_period_demand``), a soft reserve of the
exact model: using one of those GPUs costs ``arrival_reserve_cost`` × the intensity spread
per GPU-slot, so the green hours that arrivals will want are given to known jobs only where
that saves more. With the arrival insurance (``--arrival-insurance``, opt-in) they come back
as expected jobs instead, like the rigid ones: a hedge for a cluster that is often nearly
full, paid for in savings. The heuristic path for large problems ignores all of these.
The reserve comes with a submission surge (``PlanProblem.arrival_surge``): the lateness
cost then starts lower (``surge_lateness_cost``, unless last week's work filled the cluster)
and grows with the surge, so quiet weeks defer more and a week whose submissions run ahead
of last week's runs its queue sooner. A forecast with white noise (``denoise.noise_share``)
starts it less low (``noisy_surge_lateness_cost``): its promised savings are less sure.
On such a forecast a rigid job with days of slack does not start yet (``noisy_hold_h``).

**Large problems** go through:

1. *Congestion prices.* Every job picks its cheapest option alone; where those choices
   overcommit a region and slot a per-GPU price rises (projected subgradient steps on the
   capacity rows of the LP relaxation), telling each job which green slots others need more.
2. *Construction.* Jobs are placed one by one, earliest latest-start first, each at its
   cheapest option under intensity + price among the GPUs still free.
3. *Repair.* Jobs left out go first in a rebuilt order, then flexible jobs in their way are
   moved (eject repair); an earliest-slot plan is built too and wins if it places more jobs.
   With under ``PACKING_BELOW`` placements per job in ``work_budget`` (about 7,500 jobs and
   more) the moved jobs go back at their earliest free slots instead (packing repair).
4. *Local search.* Each job in turn is taken out and put back at its cheapest option at
   true intensity given everyone else, while a pass still saves something (only on the
   candidates that place the most jobs).
5. *Exact windows.* Half-overlapping time windows whose jobs fit ``exact_max_vars`` are
   re-solved by HiGHS with everything else fixed (first around jobs still left out). A job
   left out that no window holds (one whose window spans the horizon) is re-solved with its
   rivals instead: the jobs confined to its regions or placed there (``lns.rivals``).

Steps 1–4 evaluate jobs a chunk at a time with ``batch.BatchPlacer`` (a few numpy calls for
64 jobs instead of a dozen per job); the result is the job-by-job one (up to ties), except
that large problems' local search skips one exactness check (see ``greedy.reinsert``).

A forecast with slot-to-slot white noise is first averaged over a few slots (``denoise``,
width by Stein's unbiased risk estimate); a clean one is planned as it is. Then the
intensities are shifted to a minimum of zero (plus a tiny earliness slope),
so adding a constant to every intensity changes no decision when there is no resume
overhead. See ``docs/decisions/0002-planner-algorithm.md`` for the variants compared.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import accumulate

import numpy as np

from scheduler.planning.batch import BatchPlacer
from scheduler.planning.denoise import denoise, noise_share
from scheduler.planning.exact import Window, solve
from scheduler.planning.extract import placements_from
from scheduler.planning.greedy import (
    Budget,
    Overlaps,
    Placements,
    construct,
    eject_repair,
    reinsert,
    segments_score,
)
from scheduler.planning.lns import (
    default_width,
    model_size,
    reoptimise,
    replace_jobs,
    rivals,
    sliding_spans,
    spans_around,
)
from scheduler.planning.placement import Scores, fits, take
from scheduler.planning.problem import FloatArray, IntArray, Plan, PlanJob, PlanProblem, Segment

#: below this many placements per job (``work_budget`` / jobs), repair packs (see ``_candidate``)
PACKING_BELOW = 4


def latest_start_order(jobs: Sequence[PlanJob]) -> list[PlanJob]:
    """Jobs by latest start (deadline − duration), then by deadline and id."""
    return sorted(jobs, key=lambda j: (j.deadline_slot - j.duration_slots, j.deadline_slot, j.id))


def congestion_prices(
    problem: PlanProblem, base: FloatArray, rounds: int, batch: BatchPlacer | None = None
) -> FloatArray | None:
    """Per-GPU-slot prices (score units × kW) that discourage overcommitted slots.

    Each round, every job takes its cheapest slots alone (``batch.demand``, all jobs at once);
    where they overcommit a region and slot the price rises.
    """
    if rounds <= 0 or not problem.jobs:
        return None
    if batch is None:
        batch = BatchPlacer(
            problem.jobs,
            overhead_slots=problem.resume_overhead_slots,
            max_segments=problem.max_segments,
        )
    spread = float(np.percentile(base, 90) - np.percentile(base, 10)) or 1.0
    kw = float(np.mean([job.power_w for job in problem.jobs])) / 1000.0
    cap = np.maximum(problem.capacity, 1).astype(np.float64)
    price = np.zeros_like(base)
    for k in range(rounds):
        used = batch.demand(Scores(base=base, price=price))
        excess = (used - problem.capacity) / cap
        if k > 0 and not (excess > 0).any():
            break
        price = np.maximum(0.0, price + spread * kw * excess / np.sqrt(k + 1.0))
    return price


@dataclass(frozen=True, kw_only=True)
class CarbonshiftPolicy:
    """Near-optimal, capacity-aware planner (the default)."""

    name: str = field(default="carbonshift", init=False)
    price_rounds: int = 6
    repair_rounds: int = 2
    max_improve_passes: int = 4
    #: exact window re-optimisation (LNS): windows over this many HiGHS variables are skipped
    exact_max_vars: int = 40_000
    #: HiGHS time limit per window, seconds (the greedy plan stands if it runs out)
    exact_time_limit_s: float | None = 2.0
    #: HiGHS time limit of the MILP that leaves out the fewest jobs when not all fit (rare)
    fewest_time_limit_s: float | None = 10.0
    #: HiGHS limit when a job no time window holds would be left out and is re-placed with
    #: its rivals (``lns.rivals``): the four-region replay's month-long pod needed ~10 s
    rescue_time_limit_s: float | None = 30.0
    #: also polish feasible plans window by window (repairing misses is always on)
    polish: bool = True
    #: wall-clock seconds polishing may take (None: every window); the plan is valid and
    #: complete before polishing starts, so stopping early only leaves savings unclaimed
    polish_budget_s: float | None = 1.0
    #: online robustness: each day of delay costs this share of the intensity spread
    #: (p90 − p10), so work is not deferred for savings smaller than that
    lateness_cost: float = 0.0
    #: extra lateness cost per day when the queue is crowded (see ``_lateness``): on by
    #: default, as online it is what keeps room for a crunch of arrivals (LWA DE / GB / FR at
    #: 34 GPUs: 9 / 9 / 13 missed deadlines without it, none with it; see decision 0002)
    busy_lateness_cost: float = 1.0
    load_low: float = 0.5
    load_high: float = 0.8
    #: with a submission surge (``PlanProblem.arrival_surge``, given with the arrival
    #: reserve) the load-driven cost is a base × surge ** ``surge_power`` (from 1 to
    #: ``surge_cap`` ×) instead of ``busy_lateness_cost``: a quiet week defers more, a crunch
    #: in the making runs sooner. The base is ``surge_lateness_cost`` on a cluster last week's
    #: work filled up to ``tight_low`` (``PlanProblem.arrival_load``), ``busy_lateness_cost``
    #: from ``tight_high``, as a tight cluster has little room to defer into (see decision
    #: 0002, "Submission surge")
    surge_lateness_cost: float = 0.4
    #: the surge's base rises to ``noisy_surge_lateness_cost`` as the forecast's white noise
    #: (``denoise.noise_share``) goes from ``noise_low`` to ``noise_high`` of its spread: a
    #: noisy forecast's savings are less sure, so deferring must promise more
    noisy_surge_lateness_cost: float = 0.6
    noise_low: float = 0.06
    noise_high: float = 0.09
    #: with a forecast at least ``noise_high`` noisy, a rigid job with more than this many
    #: hours of slack does not start yet (0: off): the forecast cannot tell its windows
    #: apart, and a long job started early holds GPUs that later arrivals need (LWA DE rigid,
    #: 45 GPUs, ``gauss:0.10``: no deadline missed instead of one; decision 0002)
    noisy_hold_h: float = 48.0
    surge_power: float = 1.5
    surge_cap: float = 4.0
    tight_low: float = 0.6
    tight_high: float = 0.75
    #: online robustness: the last ``tail_share`` of each job's slack costs ``tail_cost`` ×
    #: the intensity spread (p90 − p10) more, so plans keep slack for jobs not yet submitted
    tail_share: float = 0.0
    tail_cost: float = 0.5
    #: share of every region's GPUs kept for jobs not yet submitted, growing from 0 now to
    #: ``reserve_fraction`` at ``reserve_ramp_h`` ahead, at ``reserve_cost`` × spread per GPU-slot
    reserve_fraction: float = 0.0
    reserve_ramp_h: float = 48.0
    reserve_cost: float = 1.0
    #: price of the arrival reserve (``PlanProblem.expected_demand``) per GPU-slot, as a share
    #: of the intensity spread (LWA, 34 GPUs: 0.25 beat 0.1 and 0.5; see decision 0002)
    arrival_reserve_cost: float = 0.25
    #: what leaving out a job expected later (``PlanProblem.expected_jobs``) costs per kWh it
    #: needs, as a share of the intensity spread: at 4 known jobs take their room only where
    #: no other placement is left (LWA rigid, 45 GPUs; see decision 0002, "Expected rigid
    #: jobs"). The heuristic path for large problems ignores them
    expected_job_cost: float = 4.0
    #: hold each expected rigid job's room as one whole window (a MILP) instead of a mix of
    #: its windows (an LP, the default: half of it starting at one slot, half at another).
    #: Every job planned for is still placed whole; the mix only shapes the room left
    #: (LWA rigid, 45 GPUs: FR 97.3 % of the optimum against 96.6 %; decision 0002)
    expected_whole_windows: bool = False
    #: job placements the optional steps (prices, local-search passes) may spend in total;
    #: large problems get fewer price rounds and passes, and a packing repair (see
    #: ``_candidate``), so a call stays fast
    work_budget: int = 30_000
    #: average out white noise in the intensity forecast first (``denoise``): rows whose
    #: slot-to-slot noise is small against their spread are left as they are
    denoise_forecast: bool = True

    def __post_init__(self) -> None:
        """Refuse surge settings that would make the lateness cost meaningless, and a negative
        price for leaving out an expected job."""
        if self.surge_lateness_cost < 0 or self.surge_power < 0 or self.surge_cap < 1:
            raise ValueError(
                f"surge_lateness_cost {self.surge_lateness_cost} and surge_power "
                f"{self.surge_power} must be at least 0 and surge_cap {self.surge_cap} at "
                "least 1; the defaults are 0.4, 1.5 and 4"
            )
        if self.noisy_surge_lateness_cost < 0 or not 0 <= self.noise_low < self.noise_high:
            raise ValueError(
                f"noisy_surge_lateness_cost {self.noisy_surge_lateness_cost} must be at least 0 "
                f"and noise_low {self.noise_low} at least 0 and under noise_high "
                f"{self.noise_high}; the defaults are 0.6, 0.06 and 0.09"
            )
        if not 0 <= self.noisy_hold_h < np.inf:
            raise ValueError(
                f"noisy_hold_h {self.noisy_hold_h} must be a finite number of hours, at least "
                "0; the default is 48, 0 turns the hold off"
            )
        if not 0 <= self.tight_low < self.tight_high:
            raise ValueError(
                f"tight_low {self.tight_low} must be at least 0 and under tight_high "
                f"{self.tight_high}; the defaults are 0.6 and 0.75"
            )
        if self.expected_job_cost < 0:
            raise ValueError(
                f"expected_job_cost {self.expected_job_cost} must be at least 0 (a share of "
                "the intensity spread per kWh); the default is 4, 0 ignores expected jobs"
            )

    def plan(self, problem: PlanProblem) -> Plan:
        """Place every job it can; see the module docstring for the steps.

        On a noisy forecast, rigid jobs with over ``noisy_hold_h`` of slack are first held
        back (``_held``); if that leaves any job out, nothing is held. With an arrival
        forecast (``problem.expected_use``) the jobs are first planned in the
        capacity it leaves; if that leaves any job out, they are planned in all of it. That
        first try is tentative: it skips the costly rescue of a left-out job (and the polish
        of a plan that leaves one out), since the plan in all the capacity has both.
        """
        held = self._held(problem)
        if held is not None:
            plan = self._plan_expecting(held)
            if not plan.unplaced:
                return plan
        return self._plan_expecting(problem)

    def _plan_expecting(self, problem: PlanProblem) -> Plan:
        """``_plan`` in the capacity the arrival forecast leaves, then in all of it if need be."""
        expected = problem.expected_use
        if expected is not None and expected.any():
            kept = np.maximum(problem.capacity - expected[:, : problem.slots], 0)
            plan = self._plan(replace(problem, capacity=kept, expected_use=None), tentative=True)
            if not plan.unplaced:
                return plan
        return self._plan(problem)

    def _held(self, problem: PlanProblem) -> PlanProblem | None:
        """``problem`` with its rigid jobs of over ``noisy_hold_h`` of slack released at slot 1
        when the forecast is noisy (``noise_share`` at least ``noise_high``); None when no job
        is held."""
        far = self.noisy_hold_h * 3600.0 / problem.slot_s

        def held(job: PlanJob) -> bool:
            slack = job.deadline_slot - job.duration_slots
            return not job.interruptible and job.release_slot == 0 and slack > far

        if far <= 0 or not any(map(held, problem.jobs)):
            return None
        if noise_share(problem.intensity) < self.noise_high:
            return None
        jobs = [replace(job, release_slot=1) if held(job) else job for job in problem.jobs]
        return replace(problem, jobs=jobs)

    def _plan(self, problem: PlanProblem, *, tentative: bool = False) -> Plan:
        per_slot = self._lateness(problem) * problem.slot_s / 86400.0
        problem = replace(problem, intensity=_normalised(self._forecast(problem), per_slot))
        if 0 < model_size(problem.jobs) <= self.exact_max_vars:
            exact = self._whole(problem)
            if exact is not None:
                return exact
        return self._heuristic(problem, tentative=tentative)

    def _forecast(self, problem: PlanProblem) -> FloatArray:
        """The intensities to plan with: ``denoise``d unless ``denoise_forecast`` is off."""
        return denoise(problem.intensity) if self.denoise_forecast else problem.intensity

    def _lateness(self, problem: PlanProblem) -> float:
        """Lateness cost per day: ``lateness_cost`` plus the load-driven share.

        Load is the GPU-slots the jobs need over the GPU-slots the grid offers until their
        last deadline; from ``load_low`` to ``load_high`` the extra cost ramps up to
        ``busy_lateness_cost`` (to the surge's cost when the problem has a surge), so a
        crowded queue runs sooner and keeps room for arrivals.
        """
        busy = self.busy_lateness_cost
        if problem.arrival_surge is not None:
            scale = float(np.clip(problem.arrival_surge**self.surge_power, 1.0, self.surge_cap))
            noise = noise_share(problem.intensity)
            busy = self._surge_base(problem.arrival_load, noise) * scale
        if not problem.jobs or busy <= 0:
            return self.lateness_cost
        load = _total_load(problem)
        ramp = (load - self.load_low) / max(1e-9, self.load_high - self.load_low)
        return self.lateness_cost + busy * float(np.clip(ramp, 0.0, 1.0))

    def _surge_base(self, load: float | None, noise: float) -> float:
        """The surge's base cost: ``surge_lateness_cost`` up to ``tight_low`` of last week's
        load, ramping to ``busy_lateness_cost`` at ``tight_high``. A noisy forecast (white
        noise ``noise`` of its spread) first raises the low end to
        ``noisy_surge_lateness_cost``."""
        low, high = self.surge_lateness_cost, self.busy_lateness_cost
        noisy = (noise - self.noise_low) / max(1e-9, self.noise_high - self.noise_low)
        low += (self.noisy_surge_lateness_cost - low) * float(np.clip(noisy, 0.0, 1.0))
        if load is None:
            return low
        ramp = (load - self.tight_low) / max(1e-9, self.tight_high - self.tight_low)
        return low + (high - low) * float(np.clip(ramp, 0.0, 1.0))

    def replan(self, problem: PlanProblem, previous: Plan) -> Plan:
        """Incremental re-plan: keep ``previous`` placements that still hold, place the rest.

        For a tick where little changed (one arrival, one forecast refresh of one zone): the
        kept placements are not improved, only new or displaced jobs are placed (best option,
        then moving flexible jobs out of the way). Falls back to ``plan`` if any job is left
        out, so it never misses a job that ``plan`` would place.
        """
        held = self._held(problem) or problem
        intensity = self._forecast(held)
        base = intensity - _lowest(intensity)
        placed, free = _kept(held, previous)
        rest = latest_start_order([job for job in held.jobs if job.id not in placed])
        scores = Scores(base=base)
        more, missed = construct(held, rest, scores, free)
        placed.update(more)
        if any(not eject_repair(held, job, placed, scores, free) for job in missed):
            return self.plan(problem)
        return Plan(placements=placed)

    def _whole(self, problem: PlanProblem) -> Plan | None:
        """The whole problem solved by HiGHS; None when it gives no clean answer.

        The LP relaxation of interruptible jobs is tried first; when rounding it loses a job,
        the exact model (whole slots, one region per job) is solved within the same limit.
        """
        slot_h = problem.slot_s / 3600.0
        spread = float(np.percentile(problem.intensity, 90) - np.percentile(problem.intensity, 10))
        kw = float(np.mean([job.power_w for job in problem.jobs])) / 1000.0
        reserve, reserve_cost = self._reserve(problem)
        window = Window(
            t0=0,
            t1=problem.slots,
            intensity=problem.intensity,
            capacity=problem.capacity,
            slot_h=slot_h,
            reserve=reserve,
            reserve_g_per_gpu_slot=reserve_cost * spread * kw * slot_h,
            tail_share=self.tail_share,
            tail_g_per_kwh=self.tail_cost * spread,
        )
        if problem.max_segments == 1:
            # one segment allowed: an interruptible job is a contiguous one, and the exact
            # model (which relaxes segment caps) must see it so
            rigid = [replace(job, interruptible=False) for job in problem.jobs]
            problem = replace(problem, jobs=rigid)
        expected = self._expected(problem)
        if expected:
            plan = self._solve_whole(problem, window, spread, expected)
            if plan is not None:
                return plan
            # no clean answer beside last week's jobs (HiGHS stopped, or rounding lost a
            # job): plan the queue alone
        return self._solve_whole(problem, window, spread, ())

    def _expected(self, problem: PlanProblem) -> tuple[PlanJob, ...]:
        """The jobs expected later (last week's) to plan beside the queue: none when
        ``expected_job_cost`` is 0, else the soonest released first while the model stays
        within ``exact_max_vars`` (kept in the problem's order)."""
        if self.expected_job_cost <= 0 or not problem.expected_jobs:
            return ()
        room = self.exact_max_vars - model_size(problem.jobs)
        by_release = sorted(enumerate(problem.expected_jobs), key=lambda ij: ij[1].release_slot)
        used = accumulate(model_size([job]) for _, job in by_release)
        kept = {i for (i, _), size in zip(by_release, used, strict=True) if size <= room}
        return tuple(job for i, job in enumerate(problem.expected_jobs) if i in kept)

    def _solve_whole(
        self,
        problem: PlanProblem,
        window: Window,
        spread: float,
        expected: tuple[PlanJob, ...],
    ) -> Plan | None:
        """``_whole``'s models with ``expected`` jobs placed beside the known ones (so these
        leave them room; the solution's blocks are the known jobs' only). None when there is
        no clean answer, and with expected jobs also when HiGHS stops at its time limit with
        a known job left out: the fewest-left-out model beside them could take its own limit
        too, and room for jobs that may never come is not worth a slow plan
        (``benchmarks/expected_jobs.py``)."""
        crowded = False
        place = partial(
            solve,
            problem.jobs,
            window,
            expected=expected,
            expected_g_per_kwh=self.expected_job_cost * spread,
            whole_expected=self.expected_whole_windows,
        )
        for whole in (False, True):
            try:
                sol = place(self.exact_time_limit_s, whole_interruptible=whole)
                left_out = any(sol.values[b.u] > 1e-6 for b in sol.blocks)
                if expected and left_out and not sol.optimal:
                    return None  # stopped before it fitted the queue beside them
                crowded = crowded or left_out
                if crowded:
                    # not every job fits: leave out as few as possible, not a little of many
                    sol = place(
                        self.fewest_time_limit_s, fewest_left_out=True, whole_interruptible=whole
                    )
            except RuntimeError:
                return None
            placed, missed = placements_from(problem, sol, problem.capacity)
            unplaced = sum(1 for b in sol.blocks if sol.values[b.u] > 0.5)
            if missed and not sol.optimal:
                return None  # a stopped solver left some out: the heuristic may place them
            if len(missed) <= unplaced:
                return Plan(
                    placements=_canonical(problem.jobs, placed),
                    unplaced=tuple(sorted(missed)),
                    mip_gap=sol.mip_gap,
                )
            # rounding the LP lost a job: solve interruptible jobs exactly (whole slots)
        return None

    def _reserve(self, problem: PlanProblem) -> tuple[np.ndarray | None, float]:
        """GPUs held back per region and slot for arrivals and their price (share of spread).

        The forecast demand of arrivals when the problem has one, else ``reserve_fraction``
        of the capacity (None when that is 0).
        """
        if problem.expected_demand is not None and problem.expected_demand.any():
            wanted = problem.expected_demand[:, : problem.slots]
            return np.minimum(wanted, problem.capacity).astype(np.int64), self.arrival_reserve_cost
        if self.reserve_fraction <= 0:
            return None, 0.0
        ramp_slots = max(1.0, self.reserve_ramp_h * 3600.0 / problem.slot_s)
        share = self.reserve_fraction * np.minimum(1.0, np.arange(problem.slots) / ramp_slots)
        return np.floor(problem.capacity * share[None, :]).astype(np.int64), self.reserve_cost

    def _heuristic(self, problem: PlanProblem, *, tentative: bool = False) -> Plan:
        """Prices, greedy construction, repair, local search and window polishing.

        Local search runs only on candidates that can still win (fewest jobs left out), as
        it never changes which jobs are placed.
        """
        base = problem.intensity
        batch = BatchPlacer(
            problem.jobs,
            overhead_slots=problem.resume_overhead_slots,
            max_segments=problem.max_segments,
        )
        spare = self.work_budget // max(1, len(problem.jobs))
        price = congestion_prices(problem, base, min(self.price_rounds, spare - 3), batch)
        candidates = [self._candidate(problem, batch, price)]
        if candidates[0].missed:
            candidates.append(self._candidate(problem, batch, None, asap=True))
        fewest = min(len(c.missed) for c in candidates)
        candidates = [c for c in candidates if len(c.missed) == fewest]
        for candidate in candidates:
            self._improve(problem, candidate, batch)
        best = (
            min(candidates, key=lambda c: _cost(problem, c.placed))
            if len(candidates) > 1
            else candidates[0]
        )
        missed = self._exact(problem, best, tentative=tentative)
        return Plan(placements=best.placed, unplaced=tuple(sorted(j.id for j in missed)))

    def _exact(
        self, problem: PlanProblem, best: _Candidate, *, tentative: bool = False
    ) -> list[PlanJob]:
        """Repair misses, then polish, by exact re-optimisation of windows; ``tentative``:
        no rescue with rivals, and no polish once a job is left out (see ``plan``)."""
        if self.exact_max_vars <= 0:
            return best.missed
        width = default_width(problem)
        for job in best.missed:
            spans = spans_around(job, problem.slots, (width // 4, width // 2, width))
            if job.id in best.placed or any(self._reoptimise(problem, best, s) for s in spans):
                continue
            if tentative:  # ``plan`` drops this plan for one in all the capacity
                return _left_out(problem, best)
            # no window small enough holds it (a month-long job): re-place its rivals with it
            replace_jobs(
                problem,
                best.placed,
                best.free,
                rivals(problem, job, best.placed),
                max_vars=self.exact_max_vars,
                time_limit_s=self.rescue_time_limit_s,
            )
        if self.polish:
            began = time.perf_counter()
            for span in sliding_spans(problem, width):
                spent = time.perf_counter() - began
                if self.polish_budget_s is not None and spent > self.polish_budget_s:
                    break
                self._reoptimise(problem, best, span)
        return _left_out(problem, best)

    def _candidate(
        self,
        problem: PlanProblem,
        batch: BatchPlacer,
        price: FloatArray | None,
        asap: bool = False,
    ) -> _Candidate:
        """One plan: construction under ``price`` (or earliest slots), then repair.

        Repair moves the most flexible jobs out of a left-out job's way (``eject_repair``).
        When the work budget leaves under ``PACKING_BELOW`` placements per job, the moved jobs
        go back at their earliest free slots (packing) and larger groups are moved, up to
        ``work_budget`` placements in all: on
        ``plan_scale.py``'s 10,000 jobs the repair at true intensity left 63 of 157 jobs out
        in 3.6 s, the packing one none in 0.3 s; local search then moves jobs back to green
        slots.
        """
        base = problem.intensity
        order = latest_start_order(problem.jobs)
        scores = _asap_scores(base) if asap else Scores(base=base, price=price)
        placed, missed, free = self._construct(problem, order, scores, batch)
        if missed:
            spare = self.work_budget // max(1, len(order))
            packing = spare < PACKING_BELOW
            repair = _asap_scores(base) if packing else Scores(base=base)
            sizes = (2, 8, 32, 128, 512, 4096) if packing else (2, 8, 32, 128)
            budget = Budget(left=self.work_budget) if packing else None
            overlaps = Overlaps(problem.jobs, placed)
            missed = [
                job
                for job in missed
                if not eject_repair(
                    problem,
                    job,
                    placed,
                    repair,
                    free,
                    sizes=sizes,
                    batch=batch,
                    overlaps=overlaps,
                    budget=budget,
                )
            ]
        return _Candidate(placed=placed, missed=missed, free=free)

    def _improve(self, problem: PlanProblem, candidate: _Candidate, batch: BatchPlacer) -> None:
        """Local search at true intensity: a few passes of ``reinsert``, while they save.

        Below ``PACKING_BELOW`` placements per job the passes skip ``reinsert``'s exactness
        check (see there).
        """
        order = latest_start_order(problem.jobs)
        true = Scores(base=problem.intensity)
        spare = self.work_budget // max(1, len(order))
        for _ in range(min(self.max_improve_passes, max(1, spare - 1))):
            saved = reinsert(
                problem,
                order,
                candidate.placed,
                true,
                candidate.free,
                batch=batch,
                exact=spare >= PACKING_BELOW,
            )
            if saved <= 0.0:
                break

    def _reoptimise(self, problem: PlanProblem, best: _Candidate, span: tuple[int, int]) -> bool:
        return reoptimise(
            problem,
            best.placed,
            best.free,
            span,
            max_vars=self.exact_max_vars,
            time_limit_s=self.exact_time_limit_s,
        )

    def _construct(
        self,
        problem: PlanProblem,
        order: list[PlanJob],
        scores: Scores,
        batch: BatchPlacer | None = None,
    ) -> tuple[Placements, list[PlanJob], np.ndarray]:
        """Greedy in ``order``; jobs it leaves out go first in the next of a few tries."""
        best: tuple[Placements, list[PlanJob], np.ndarray] | None = None
        spare = self.work_budget // max(1, len(order))
        for _ in range(min(self.repair_rounds, max(0, spare - 3)) + 1):
            free = problem.capacity.astype(np.int64).copy()
            placed, missed = construct(problem, order, scores, free, batch=batch)
            if best is None or len(missed) < len(best[1]):
                best = (placed, missed, free)
            if not missed:
                break
            first = {job.id for job in missed}
            order = [*missed, *(job for job in order if job.id not in first)]
        assert best is not None
        return best


def _kept(problem: PlanProblem, previous: Plan) -> tuple[Placements, IntArray]:
    """The placements of ``previous`` that still hold, in job order, and the GPUs left free.

    A placement holds if it fits its job's window, regions and length, and the GPUs still
    free after the placements kept before it. When all the placements that pass the first
    checks fit together (the usual tick), they are summed at once instead of job by job.
    """
    fitting = [
        (job, segs)
        for job in problem.jobs
        if (segs := previous.placements.get(job.id)) is not None
        and _still_valid(problem, job, segs)
    ]
    change = np.zeros((problem.capacity.shape[0], problem.capacity.shape[1] + 1), np.int64)
    regions: list[int] = []
    bounds: list[int] = []
    gpus: list[int] = []
    for job, segs in fitting:
        for seg in segs:
            regions += (seg.region, seg.region)
            bounds += (seg.start, seg.end)
            gpus += (job.gpus, -job.gpus)
    np.add.at(change, (regions, bounds), gpus)
    free = problem.capacity.astype(np.int64) - np.cumsum(change, axis=1)[:, :-1]
    if (free >= 0).all():
        return {job.id: segs for job, segs in fitting}, free
    free = problem.capacity.astype(np.int64).copy()
    placed: Placements = {}
    for job, segs in fitting:
        if fits(free, job.gpus, segs):
            take(free, job.gpus, segs)
            placed[job.id] = segs
    return placed, free


def _total_load(problem: PlanProblem) -> float:
    """GPU-slots the jobs need over the GPU-slots the grid offers until the last deadline."""
    end = max(job.deadline_slot for job in problem.jobs)
    offered = float(problem.capacity[:, :end].sum())
    needed = float(sum(job.gpus * job.duration_slots for job in problem.jobs))
    return needed / offered if offered > 0 else 1.0


def _canonical(jobs: Sequence[PlanJob], placed: Placements) -> Placements:
    """``placed`` with placements that two jobs could swap at no cost handed out in id order.

    Jobs of equal GPUs, power, length and kind may swap placements when each lies in the
    other's window and regions: the cost and every slot's GPUs stay the same, and which way
    a solver breaks that tie hangs on rounding noise. Giving the earlier placement to the
    smaller id makes the plan depend on the problem only.
    """
    groups: dict[tuple[object, ...], list[PlanJob]] = {}
    for job in sorted(jobs, key=lambda j: j.id):
        if job.id in placed:
            split = job.interruptible and job.duration_slots > 1  # one slot: never split
            key = (job.gpus, job.power_w, job.duration_slots, split)
            groups.setdefault(key, []).append(job)
    out = dict(placed)
    for group in groups.values():
        swapped = True
        while swapped:
            swapped = False
            for i, first in enumerate(group):
                for second in group[i + 1 :]:
                    a, b = out[first.id], out[second.id]
                    if _order(b) < _order(a) and _fits_window(first, b) and _fits_window(second, a):
                        out[first.id], out[second.id] = b, a
                        swapped = True
    return out


def _order(segments: tuple[Segment, ...]) -> list[tuple[int, int]]:
    return [(seg.start, seg.region) for seg in segments]


def _fits_window(job: PlanJob, segments: tuple[Segment, ...]) -> bool:
    return (
        segments[0].start >= job.release_slot
        and segments[-1].end <= job.deadline_slot
        and all(seg.region in job.regions for seg in segments)
    )


def _still_valid(problem: PlanProblem, job: PlanJob, segs: tuple[Segment, ...]) -> bool:
    """``segs`` fits ``job``'s window, regions and length (GPUs are checked by ``_kept``)."""
    need = job.duration_slots + (len(segs) - 1) * problem.resume_overhead_slots
    return not (
        segs[0].start < job.release_slot
        or segs[-1].end > job.deadline_slot
        or segs[0].region not in job.regions
        or sum(seg.end - seg.start for seg in segs) != need
        or len(segs) > (problem.max_segments if job.interruptible else 1)
    )


@dataclass(frozen=True, slots=True)
class _Candidate:
    placed: Placements
    missed: list[PlanJob]
    free: np.ndarray


def _cost(problem: PlanProblem, placed: Placements) -> float:
    """Score × kW of every placed job."""
    base = problem.intensity
    return sum(_kw(j) * segments_score(base, placed[j.id]) for j in problem.jobs if j.id in placed)


def _left_out(problem: PlanProblem, best: _Candidate) -> list[PlanJob]:
    """The jobs of ``problem`` that ``best`` does not place, in problem order."""
    return [job for job in problem.jobs if job.id not in best.placed]


def _normalised(intensity: FloatArray, lateness_per_slot: float = 0.0) -> FloatArray:
    """Intensity minus its minimum, plus a per-slot slope that favours earlier slots.

    Subtracting the minimum makes decisions independent of a constant offset. The slope is
    ``lateness_per_slot`` of the p90 − p10 spread per slot, at least 10⁻⁵ of it: equal
    intensities then favour the earlier slot, so a job runs at once when waiting saves
    nothing and leaves later room to jobs not yet submitted.
    """
    base = intensity - _lowest(intensity)
    spread = float(np.percentile(base, 90) - np.percentile(base, 10)) if base.size else 0.0
    per_slot = max(1e-5, lateness_per_slot) * max(spread, 1.0)
    slope = per_slot * np.arange(base.shape[1], dtype=np.float64)
    shifted: FloatArray = base + slope[None, :]
    return shifted


def _lowest(intensity: FloatArray) -> float:
    """The smallest intensity (0 for an empty grid); ``min(initial=0)`` would cap it at 0."""
    return float(intensity.min()) if intensity.size else 0.0


def _kw(job: PlanJob) -> float:
    return job.gpus * job.power_w / 1000.0


def _asap_scores(base: FloatArray) -> Scores:
    """Scores that make every job take its earliest feasible slots."""
    slots = np.arange(base.shape[1], dtype=np.float64)
    return Scores(base=np.ascontiguousarray(np.broadcast_to(slots, base.shape)))


__all__ = ["CarbonshiftPolicy", "congestion_prices", "latest_start_order"]
