"""From domain jobs to decisions: deferral, explanations, latest safe start, no forecast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.model import (
    Forecast,
    ForecastProvenance,
    IntensityPoint,
    Job,
    JobSpec,
    Region,
    Reject,
    Start,
    Wait,
)
from scheduler.planning.build import (
    PlanSettings,
    RunningJob,
    build_problem,
    history_of,
    slot_means,
)
from scheduler.planning.carbonshift import CarbonshiftPolicy
from scheduler.planning.decide import plan_tick

NOW = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)
DE = Region(name="de-1", zone="DE", gpus=4)
HOURLY = PlanSettings(slot_s=3600, horizon_s=12 * 3600, safety_margin=0.0)


def _forecast(values: list[float], zone: str = "DE", step_s: int = 3600) -> Forecast:
    points = tuple(
        IntensityPoint(start=NOW + timedelta(seconds=i * step_s), g_per_kwh=v)
        for i, v in enumerate(values)
    )
    provenance = ForecastProvenance(
        provider="test", zone=zone, generated_at=NOW, fetched_at=NOW, horizon_s=86400
    )
    return Forecast(zone=zone, step_s=step_s, points=points, provenance=provenance)


def _job(job_id: str = "j1", hours: float = 1, deadline_h: float = 8, gpus: int = 1) -> Job:
    spec = JobSpec(
        name=job_id,
        entrypoint=("python", "train.py"),
        gpus=gpus,
        estimated_duration_s=int(hours * 3600),
        deadline=NOW + timedelta(hours=deadline_h),
        zones=("DE",),
    )
    return Job(id=job_id, spec=spec, submitted_at=NOW, updated_at=NOW)


def test_a_job_waits_for_the_green_hour_and_says_why() -> None:
    """Intensity drops at 02:00: the job is deferred there, with saving and latest start."""
    forecast = _forecast([400, 400, 400, 400, 400, 100, 400, 400, 400, 400, 400, 400])
    built = build_problem(
        jobs=[_job()], regions=[DE], forecasts={"DE": forecast}, now=NOW, settings=HOURLY
    )
    _, decisions = plan_tick(CarbonshiftPolicy(), built)
    expected = (
        "deferred 5 h to 02:00 UTC in de-1; expected −75 % CO2e vs now; latest safe start 04:00 UTC"
    )
    assert [
        Wait(
            job_id="j1",
            until=NOW + timedelta(hours=5),
            region="de-1",
            expected_saving_pct=75.0,
            explanation=expected,
        )
    ] == decisions


def test_no_forecast_runs_the_job_at_once_in_deadline_safe_mode() -> None:
    """Without any forecast for its zone the job starts at the earliest free GPUs."""
    built = build_problem(jobs=[_job()], regions=[DE], forecasts={}, now=NOW, settings=HOURLY)
    _, decisions = plan_tick(CarbonshiftPolicy(), built)
    (decision,) = decisions
    assert isinstance(decision, Start)
    assert "no forecast for DE: deadline-safe mode" in decision.explanation


def test_running_jobs_hold_their_gpus() -> None:
    """All 4 GPUs are busy for 3 h: a 4-GPU job can start at 00:00 at the earliest."""
    running = [RunningJob(region="de-1", gpus=4, until=NOW + timedelta(hours=3))]
    built = build_problem(
        jobs=[_job(gpus=4)],
        regions=[DE],
        forecasts={"DE": _forecast([100.0] * 12)},
        now=NOW,
        settings=HOURLY,
        running=running,
    )
    _, decisions = plan_tick(CarbonshiftPolicy(), built)
    (decision,) = decisions
    assert isinstance(decision, Wait)
    assert NOW + timedelta(hours=3) == decision.until


def test_a_job_past_its_latest_safe_start_is_rejected() -> None:
    """A 2-hour job due in 1 hour can no longer make it: its latest safe start was 20:00."""
    job = _job(hours=2, deadline_h=3)
    late = job.spec.model_copy(update={"deadline": NOW + timedelta(hours=1)})
    built = build_problem(
        jobs=[job.model_copy(update={"spec": late})],
        regions=[DE],
        forecasts={},
        now=NOW,
        settings=HOURLY,
    )
    _, decisions = plan_tick(CarbonshiftPolicy(), built)
    assert isinstance(decisions[0], Reject)
    assert "latest safe start 2026-11-26 20:00 UTC has passed" in decisions[0].explanation


def test_history_is_on_the_grid_from_submission_or_earliest_start() -> None:
    """A past job is released at its submission, or at its earliest start when later, and
    due at its latest safe start plus duration; a job no region runs is left out."""
    at = NOW - timedelta(hours=30)
    submitted = _job("a", hours=2, deadline_h=-20).model_copy(update={"submitted_at": at})
    held_back = submitted.model_copy(
        update={
            "spec": submitted.spec.model_copy(update={"earliest_start": at + timedelta(hours=3)})
        }
    )
    nowhere = submitted.model_copy(
        update={"spec": submitted.spec.model_copy(update={"zones": ("FR",)})}
    )
    history = history_of([submitted, held_back, nowhere], [DE], NOW, HOURLY, "DE")
    assert history.release.tolist() == [-30, -27]
    assert history.deadline.tolist() == [-20, -20]
    assert history.duration.tolist() == [2, 2]
    assert history.region.tolist() == [0, 0]
    assert history.interruptible.tolist() == [False, False]


def test_slot_means_average_a_finer_forecast() -> None:
    """Four 15-minute steps become one hourly slot holding their mean."""
    forecast = _forecast([100, 200, 300, 400], step_s=900)
    assert slot_means(forecast, NOW, 3600, 1).tolist() == [250.0]


@settings(max_examples=40, deadline=None)
@given(
    values=st.one_of(st.none(), st.lists(st.integers(0, 800).map(float), min_size=1, max_size=30)),
    specs=st.lists(
        st.tuples(st.integers(1, 8), st.integers(1, 20), st.integers(1, 4), st.booleans()),
        min_size=1,
        max_size=6,
    ),
    margin=st.sampled_from([0.0, 0.1, 0.5]),
)
def test_no_job_is_ever_planned_after_its_latest_safe_start(
    values: list[float] | None, specs: list[tuple[int, int, int, bool]], margin: float
) -> None:
    """Whatever the forecast (or none), a Start happens before and a Wait ends before it."""
    jobs = []
    for i, (hours, deadline_h, gpus, interruptible) in enumerate(specs):
        job = _job(f"j{i}", hours=hours, deadline_h=max(deadline_h, hours), gpus=gpus)
        spec = job.spec.model_copy(update={"interruptible": interruptible})
        jobs.append(job.model_copy(update={"spec": spec}))
    forecasts = {} if values is None else {"DE": _forecast(values)}
    config = PlanSettings(slot_s=1800, horizon_s=24 * 3600, safety_margin=margin)
    built = build_problem(jobs=jobs, regions=[DE], forecasts=forecasts, now=NOW, settings=config)
    _, decisions = plan_tick(CarbonshiftPolicy(), built)
    assert len(jobs) == len(decisions)
    latest = {job.id: job.spec.latest_safe_start(margin) for job in jobs}
    for decision in decisions:
        if isinstance(decision, Start):
            assert latest[decision.job_id] >= NOW
        if isinstance(decision, Wait):
            assert decision.until <= latest[decision.job_id]
