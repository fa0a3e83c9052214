"""Builders of jobs, intensity series and ledger entries for the ledger and report tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from scheduler.accounting import AttemptOutcome, Pricing, account
from scheduler.model import (
    EnergySegment,
    Forecast,
    ForecastProvenance,
    IntensityPoint,
    Job,
    JobSpec,
    JobState,
    LedgerEntry,
)

T0 = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
MJ_PER_KWH = 3_600_000_000


def series(
    zone: str, values: Sequence[float], *, start: datetime = T0, step_s: int = 3600
) -> Forecast:
    """A realised series for ``zone`` with one value per step from ``start``."""
    points = tuple(
        IntensityPoint(start=start + timedelta(seconds=step_s * i), g_per_kwh=value)
        for i, value in enumerate(values)
    )
    provenance = ForecastProvenance(
        provider="test",
        zone=zone,
        generated_at=start,
        fetched_at=start,
        horizon_s=step_s * len(values),
    )
    return Forecast(zone=zone, step_s=step_s, points=points, provenance=provenance)


def job(
    *,
    job_id: str = "job-1",
    submitted_at: datetime = T0,
    team: str = "nlp",
    project: str = "llm",
    model_version: str = "v1",
    deadline_h: float = 24,
    duration_h: float = 1,
) -> Job:
    """A submitted job."""
    spec = JobSpec(
        name=job_id,
        entrypoint=("python", "train.py"),
        gpus=1,
        estimated_duration_s=int(duration_h * 3600),
        deadline=submitted_at + timedelta(hours=deadline_h),
        team=team,
        project=project,
        model_version=model_version,
    )
    return Job(id=job_id, spec=spec, submitted_at=submitted_at, updated_at=submitted_at)


def outcome(
    the_job: Job,
    *,
    start: datetime,
    hours: float = 1.0,
    energy_mj: int = MJ_PER_KWH,
    zone: str = "DE",
    home_zone: str = "DE",
    region: str = "de-1",
) -> AttemptOutcome:
    """One attempt of ``the_job`` that ran ``hours`` from ``start`` drawing ``energy_mj``."""
    segment = EnergySegment(start=start, end=start + timedelta(hours=hours), energy_mj=energy_mj)
    return AttemptOutcome(
        job=the_job,
        attempt=1,
        region=region,
        zone=zone,
        cluster=region,
        home_zone=home_zone,
        segments=(segment,),
        final_state=JobState.SUCCEEDED,
        gpus=1,
        power_cap_w=None,
        energy_source="simulated",
        decision_explanation=f"deferred to {start.isoformat()}",
    )


def entry(
    *,
    job_id: str = "job-1",
    team: str = "nlp",
    model_version: str = "v1",
    deferral_h: float = 2,
    energy_kwh: float = 1.0,
    values: Sequence[float] = (400, 300, 200, 100, 100, 100, 100, 100),
) -> LedgerEntry:
    """A realised ledger entry for a job submitted at ``T0`` that waited ``deferral_h``."""
    grid = series("DE", values)
    the_job = job(job_id=job_id, team=team, model_version=model_version)
    attempt = outcome(
        the_job, start=T0 + timedelta(hours=deferral_h), energy_mj=int(energy_kwh * MJ_PER_KWH)
    )
    return account(attempt, Pricing(intensity=grid, home_intensity=grid), version="test")
