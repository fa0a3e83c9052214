"""Ledger entries from a simulated schedule (``carbonshift demo``), priced like real attempts.

Each simulated job that ran becomes one attempt: its segments with the energy the simulator
assumes (GPUs × power × time), priced by ``scheduler.accounting`` against the zone's true
intensity (the simulation's trace), and the counterfactual at submission in its home zone.
Simulated jobs carry no team or model version, so they are assigned round-robin from
``TEAMS`` and ``MODEL_VERSIONS``, which gives the reports groups to show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from scheduler.accounting import AttemptOutcome, Pricing, account, counterfactual_segments
from scheduler.model import (
    EnergySegment,
    Forecast,
    ForecastProvenance,
    IntensityPoint,
    IntensityTrace,
    Job,
    JobSpec,
    JobState,
    LedgerEntry,
    Region,
)
from scheduler.protocols import Ledger
from scheduler.simulation.accounting import RunSegment
from scheduler.simulation.scenario import Scenario, SimJob

TEAMS = ("nlp", "vision", "speech")
MODEL_VERSIONS = ("v1", "v2", "v3")
MJ_PER_WS = 1000


def _utc(epoch_s: int) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)


def forecast_from_trace(
    trace: IntensityTrace, start: datetime, end: datetime, *, provider: str
) -> Forecast:
    """The realised steps of ``trace`` covering ``[start, end)`` on its finest step."""
    diffs = np.diff(trace.start_s)
    step_s = int(diffs.min()) if len(diffs) else trace.end_s - int(trace.start_s[0])
    first = int(trace.start_s[0])
    begin = first + (int(start.timestamp()) - first) // step_s * step_s
    times = np.arange(begin, max(int(end.timestamp()), begin + 1), step_s, dtype=np.int64)
    index = np.clip(np.searchsorted(trace.start_s, times, side="right") - 1, 0, None)
    points = tuple(
        IntensityPoint(start=_utc(int(t)), g_per_kwh=float(v))
        for t, v in zip(times, trace.g_per_kwh[index], strict=True)
    )
    provenance = ForecastProvenance(
        provider=provider, zone=trace.zone, generated_at=end, fetched_at=end, horizon_s=0
    )
    return Forecast(zone=trace.zone, step_s=step_s, points=points, provenance=provenance)


def _job(sim: SimJob, index: int, job_id: str) -> Job:
    submitted = _utc(sim.submit_s)
    spec = JobSpec(
        name=sim.id,
        entrypoint=("python", "train.py", "--demo"),
        gpus=sim.gpus,
        estimated_duration_s=sim.estimated_duration_s,
        deadline=_utc(sim.deadline_s),
        zones=sim.zones,
        interruptible=sim.interruptible,
        team=TEAMS[index % len(TEAMS)],
        project="demo",
        model_version=MODEL_VERSIONS[index // len(TEAMS) % len(MODEL_VERSIONS)],
        labels={"source": "simulation"},
    )
    return Job(
        id=job_id, spec=spec, state=JobState.SUCCEEDED, submitted_at=submitted, updated_at=submitted
    )


def _home_region(scenario: Scenario, zone: str) -> Region:
    return next(r for r in scenario.regions if r.zone == zone)


def simulated_outcomes(
    scenario: Scenario,
    segments: Sequence[RunSegment],
    *,
    explanations: Mapping[str, str],
    id_prefix: str,
) -> list[AttemptOutcome]:
    """One finished attempt per simulated job that ran, in the scenario's job order."""
    by_job: dict[str, list[RunSegment]] = {}
    for seg in segments:
        by_job.setdefault(seg.job_id, []).append(seg)
    outcomes = []
    for index, sim in enumerate(scenario.jobs):
        runs = sorted(by_job.get(sim.id, []), key=lambda s: s.start_s)
        if not runs:
            continue
        region = scenario.regions[runs[0].region]
        energy = tuple(
            EnergySegment(
                start=_utc(r.start_s),
                end=_utc(r.end_s),
                energy_mj=round(r.gpus * r.power_w * (r.end_s - r.start_s) * MJ_PER_WS),
            )
            for r in runs
        )
        outcomes.append(
            AttemptOutcome(
                job=_job(sim, index, f"{id_prefix}{sim.id}"),
                attempt=1,
                region=region.name,
                zone=region.zone,
                cluster=region.name,
                home_zone=sim.home_zone,
                segments=energy,
                final_state=JobState.SUCCEEDED,
                gpus=sim.gpus,
                power_cap_w=None,
                energy_source="simulated",
                planned_start=energy[0].start,
                decision_explanation=explanations.get(sim.id, ""),
                pue=region.pue,
                home_pue=_home_region(scenario, sim.home_zone).pue,
            )
        )
    return outcomes


def price_outcome(
    outcome: AttemptOutcome, traces: Mapping[str, IntensityTrace], *, version: str
) -> LedgerEntry:
    """``outcome`` priced against the true intensities of ``traces``."""
    run, shadow = (
        outcome.segments,
        counterfactual_segments(outcome.segments, outcome.job.submitted_at),
    )
    pad = timedelta(hours=1)
    pricing = Pricing(
        intensity=forecast_from_trace(
            traces[outcome.zone], run[0].start, run[-1].end + pad, provider="simulation truth"
        ),
        home_intensity=forecast_from_trace(
            traces[outcome.home_zone],
            shadow[0].start,
            shadow[-1].end + pad,
            provider="simulation truth",
        ),
    )
    return account(outcome, pricing, version=version)


def record_simulation(
    ledger: Ledger,
    outcomes: Sequence[AttemptOutcome],
    traces: Mapping[str, IntensityTrace],
    *,
    version: str,
) -> int:
    """Append every outcome whose job is not in ``ledger`` yet; return how many were added.

    Re-running the same simulation therefore adds nothing: the ledger stays append-only.
    """
    present = {(e.job_id, e.attempt) for e in ledger.entries()}
    added = 0
    for outcome in outcomes:
        if (outcome.job.id, outcome.attempt) not in present:
            ledger.append(price_outcome(outcome, traces, version=version))
            added += 1
    return added
