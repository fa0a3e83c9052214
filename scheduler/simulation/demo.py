"""``carbonshift demo`` as clear steps, so later work can extend one step at a time.

1. :func:`demo_scenario` — five regions, each in its own grid zone, and a seeded workload of
   training jobs with deadlines over a few simulated days;
2. (the CLI) the carbon truth of those zones from the built-in demo grid;
3. :func:`run_demo` — the real planner replayed on an accelerated ``FakeClock`` (rolling
   horizon, forecasts limited to ``horizon_h``), plus run-now and the offline oracle on the
   same jobs for comparison;
4. :func:`job_rows` — one line per job: where and when it ran, why, and what it saved.

Later steps (dispatch to Ray, simulated GPUs with power caps, the ledger) hook in at the
observer of step 3, which sees every decision as the fake clock reaches it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from scheduler.clock import FakeClock
from scheduler.model import IntensityTrace, Region
from scheduler.planning.arrivals import RESERVE_SCALE
from scheduler.planning.problem import Policy
from scheduler.simulation.accounting import RunSegment, baseline_emissions_g, emissions_g
from scheduler.simulation.engine import DecisionPoint, EngineOptions
from scheduler.simulation.forecast_errors import ForecastSpec
from scheduler.simulation.runner import SimulationResult, oracle_emissions_g, simulate
from scheduler.simulation.scenario import Scenario, SimJob

DEMO_REGIONS = (
    Region(name="frankfurt", zone="DE", gpus=16),
    Region(name="london", zone="GB", gpus=8),
    Region(name="toronto", zone="CA-ON", gpus=8),
    Region(name="california", zone="US-CAL-CISO", gpus=12),
    Region(name="texas", zone="US-TEX-ERCO", gpus=12),
)
_GPU_CHOICES = (1, 2, 4, 8)


@dataclass(frozen=True, kw_only=True)
class DemoOptions:
    """The embedded defaults of the demo."""

    start: datetime = datetime(2026, 6, 1, tzinfo=UTC)
    days: int = 3
    jobs: int = 36
    seed: int = 7
    slot_minutes: int = 30
    horizon_h: float = 48.0
    regions: tuple[Region, ...] = DEMO_REGIONS
    #: the planner's arrival settings (``planner.arrival_reserve`` / ``arrival_insurance``)
    arrival_reserve: float = RESERVE_SCALE
    arrival_insurance: float = 0.0

    @property
    def end(self) -> datetime:
        """End of the carbon data the demo needs (the last deadline falls before it)."""
        return self.start + timedelta(days=self.days + 2)


def demo_scenario(options: DemoOptions) -> Scenario:
    """Step 1: regions and a seeded workload of training jobs with deadlines."""
    rng = np.random.default_rng(options.seed)
    start_s = int(options.start.timestamp())
    jobs = []
    for i in range(options.jobs):
        submit_s = start_s + int(rng.integers(0, options.days * 48)) * 1800
        duration_s = int(rng.integers(2, 21)) * 1800  # 1 to 10 hours
        slack_s = int(rng.integers(8, 61)) * 1800  # 4 to 30 hours of slack
        home = options.regions[int(rng.integers(len(options.regions)))].zone
        others = [r.zone for r in options.regions if r.zone != home]
        extra = rng.choice(others, size=int(rng.integers(0, 3)), replace=False)
        jobs.append(
            SimJob(
                id=f"train-{i:02d}",
                submit_s=submit_s,
                duration_s=duration_s,
                estimated_duration_s=duration_s,
                deadline_s=submit_s + duration_s + slack_s,
                gpus=int(rng.choice(_GPU_CHOICES, p=[0.4, 0.3, 0.2, 0.1])),
                home_zone=home,
                zones=(home, *(str(z) for z in extra)),
                interruptible=bool(rng.random() < 0.4),
                power_w=float(rng.choice([300.0, 400.0, 700.0])),
            )
        )
    jobs.sort(key=lambda job: (job.submit_s, job.id))
    return Scenario(jobs=tuple(jobs), regions=options.regions, slot_s=options.slot_minutes * 60)


@dataclass(frozen=True, kw_only=True)
class DemoPolicies:
    """The planner under test and the two references."""

    planner: Policy
    run_now: Policy
    oracle: Policy | None


@dataclass(frozen=True, kw_only=True)
class DemoOutcome:
    """Step 3's results."""

    planner: SimulationResult
    run_now: SimulationResult
    oracle_emissions_g: float | None
    decisions: int
    #: decisions at which the arrival reserve kept room for last week's jobs coming back
    reserved: int
    #: of those, decisions that planned last week's rigid jobs beside the queue
    expected: int
    #: of those, decisions that planned last week's interruptible jobs beside the queue
    #: (the arrival insurance)
    insured: int
    elapsed_s: float


def run_demo(
    scenario: Scenario,
    traces: Mapping[str, IntensityTrace],
    policies: DemoPolicies,
    options: DemoOptions,
    *,
    clock: FakeClock,
    observer: Callable[[DecisionPoint], None] | None = None,
) -> DemoOutcome:
    """Step 3: replay the planner on ``clock`` (moved to each decision), then the references."""
    began = time.perf_counter()
    decisions = reserved = expected = insured = 0

    def at_decision(point: DecisionPoint) -> None:
        nonlocal decisions, reserved, expected, insured
        decisions += 1
        demand, later = point.problem.expected_demand, point.problem.expected_jobs
        reserved += (demand is not None and bool(demand.any())) or bool(later)
        expected += any(not job.interruptible for job in later)
        insured += any(job.interruptible for job in later)
        clock.set(max(point.time, clock.now()))
        if observer is not None:
            observer(point)

    engine = EngineOptions(
        forecast=ForecastSpec(kind="perfect"),
        horizon_h=options.horizon_h,
        arrival_reserve=options.arrival_reserve,
        arrival_insurance=options.arrival_insurance,
    )
    planner = simulate(scenario, traces, policies.planner, options=engine, observer=at_decision)
    run_now = simulate(scenario, traces, policies.run_now, options=engine)
    optimum = None
    if policies.oracle is not None:
        optimum = oracle_emissions_g(scenario, traces, policies.oracle)
    return DemoOutcome(
        planner=planner,
        run_now=run_now,
        oracle_emissions_g=optimum,
        decisions=decisions,
        reserved=reserved,
        expected=expected,
        insured=insured,
        elapsed_s=time.perf_counter() - began,
    )


@dataclass(frozen=True, kw_only=True)
class JobRow:
    """Step 4: one job's story in one line."""

    job_id: str
    gpus: int
    home: str
    region: str
    deferred_h: float
    segments: int
    saving_pct: float
    why: str


def job_rows(scenario: Scenario, result: SimulationResult) -> list[JobRow]:
    """Where and when each job ran, its saving against running at submission, and why."""
    by_job: dict[str, list[RunSegment]] = {}
    for seg in result.segments:
        by_job.setdefault(seg.job_id, []).append(seg)
    notes = {o.job.id: o.note for o in result.run.outcomes}
    integrals = result.run.integrals
    rows = []
    for job in scenario.jobs:
        segs = sorted(by_job.get(job.id, []), key=lambda s: s.start_s)
        if not segs:
            rows.append(_missed_row(job, scenario))
            continue
        region = scenario.regions[segs[0].region]
        used = emissions_g(segs, scenario.regions, integrals)[1]
        base = baseline_emissions_g([job], scenario.regions, integrals)
        saving = 100.0 * (1 - used / base) if base > 0 else 0.0
        deferred_h = (segs[0].start_s - job.submit_s) / 3600.0
        why = notes[job.id] or _explain(job, region, segs[0].start_s, deferred_h, saving)
        rows.append(
            JobRow(
                job_id=job.id,
                gpus=job.gpus,
                home=_region_of(scenario, job.home_zone),
                region=region.name,
                deferred_h=deferred_h,
                segments=len(segs),
                saving_pct=saving,
                why=why,
            )
        )
    return rows


def _region_of(scenario: Scenario, zone: str) -> str:
    return next(r.name for r in scenario.regions if r.zone == zone)


def _explain(job: SimJob, region: Region, start_s: int, deferred_h: float, saving: float) -> str:
    def hhmm(at_s: int) -> str:
        return datetime.fromtimestamp(at_s, tz=UTC).strftime("%a %H:%M")

    moved = "" if region.zone == job.home_zone else " (moved)"
    when = "at once" if deferred_h < 0.5 else f"deferred {deferred_h:.1f} h to {hhmm(start_s)}"
    return f"{when} in {region.zone}{moved}; {-saving:+.0f} % CO2e; due {hhmm(job.deadline_s)} UTC"


def _missed_row(job: SimJob, scenario: Scenario) -> JobRow:
    return JobRow(
        job_id=job.id,
        gpus=job.gpus,
        home=_region_of(scenario, job.home_zone),
        region="—",
        deferred_h=0.0,
        segments=0,
        saving_pct=0.0,
        why="not run: no feasible window before its deadline",
    )
