"""Refresh jobs on a real APScheduler BackgroundScheduler (started paused: nothing runs)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from forecasts.cache import MemoryForecastCache
from forecasts.refresh import first_runs, job_id, schedule_refreshes
from scheduler.clock import FakeClock
from scheduler.model import Forecast, ForecastProvenance, IntensityPoint

T0 = datetime(2026, 11, 26, 12, tzinfo=UTC)


@pytest.fixture
def scheduler() -> Iterator[BackgroundScheduler]:
    """A real scheduler, started paused so that no job ever runs during the test."""
    sched = BackgroundScheduler(timezone=UTC)
    sched.start(paused=True)
    yield sched
    sched.shutdown(wait=False)


def cached(zone: str, fetched_at: datetime) -> Forecast:
    return Forecast(
        zone=zone,
        step_s=3600,
        points=(IntensityPoint(start=fetched_at, g_per_kwh=100.0),),
        provenance=ForecastProvenance(
            provider="static",
            zone=zone,
            generated_at=fetched_at,
            fetched_at=fetched_at,
            horizon_s=3600,
        ),
    )


def refresh(zone: str) -> None:
    """Stands for ForecastChain.refresh; never called (the scheduler is paused)."""


def test_one_job_per_zone_with_the_required_options(scheduler: BackgroundScheduler) -> None:
    """Each zone gets a job: coalesce, max_instances=1, explicit misfire grace, interval."""
    zones = ["DE", "FR", "GB"]
    schedule_refreshes(
        scheduler,
        refresh,
        zones,
        clock=FakeClock(T0),
        cache=MemoryForecastCache(),
        interval=timedelta(minutes=30),
        misfire_grace=timedelta(minutes=5),
    )
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert sorted(jobs) == [job_id(z) for z in zones]
    for zone in zones:
        job = jobs[job_id(zone)]
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time == 300
        assert job.args == (zone,)
        assert job.trigger.interval == timedelta(minutes=30)


def test_first_runs_are_staggered(scheduler: BackgroundScheduler) -> None:
    """Three zones without cache start 30 s apart, not all at once."""
    schedule_refreshes(
        scheduler,
        refresh,
        ["DE", "FR", "GB"],
        clock=FakeClock(T0),
        cache=MemoryForecastCache(),
        interval=timedelta(minutes=30),
        misfire_grace=timedelta(minutes=5),
        stagger=timedelta(seconds=30),
    )
    runs = sorted(job.next_run_time for job in scheduler.get_jobs())
    assert runs == [T0, T0 + timedelta(seconds=30), T0 + timedelta(seconds=60)]


def test_restart_waits_for_recent_cache_entries(scheduler: BackgroundScheduler) -> None:
    """After a restart a zone fetched 10 min ago refreshes 20 min later; due ones are spread."""
    cache = MemoryForecastCache()
    cache.save(cached("DE", T0 - timedelta(minutes=10)))
    cache.save(cached("FR", T0 - timedelta(hours=5)))
    schedule_refreshes(
        scheduler,
        refresh,
        ["DE", "FR", "GB"],
        clock=FakeClock(T0),
        cache=cache,
        interval=timedelta(minutes=30),
        misfire_grace=timedelta(minutes=5),
    )
    jobs = {job.id: job.next_run_time for job in scheduler.get_jobs()}
    assert jobs[job_id("DE")] == T0 + timedelta(minutes=20)
    assert jobs[job_id("FR")] == T0
    assert jobs[job_id("GB")] == T0 + timedelta(seconds=30)


def test_scheduling_twice_replaces_jobs(scheduler: BackgroundScheduler) -> None:
    """Calling again (a reload) replaces each zone's job instead of duplicating it."""
    for _ in range(2):
        schedule_refreshes(
            scheduler,
            refresh,
            ["DE"],
            clock=FakeClock(T0),
            cache=MemoryForecastCache(),
            interval=timedelta(minutes=30),
            misfire_grace=timedelta(minutes=5),
        )
    assert len(scheduler.get_jobs()) == 1


def test_stagger_never_exceeds_the_interval() -> None:
    """Many zones are spread over at most one interval."""
    zones = [f"Z{i}" for i in range(100)]
    runs = first_runs(
        zones, now=T0, fetched_at={}, interval=timedelta(minutes=10), stagger=timedelta(seconds=30)
    )
    assert max(runs.values()) < T0 + timedelta(minutes=10)
    assert len(set(runs.values())) == 100


def test_non_positive_grace_is_refused(scheduler: BackgroundScheduler) -> None:
    """A zero misfire grace is a configuration mistake, refused with both values named."""
    with pytest.raises(ValueError, match="misfire_grace"):
        schedule_refreshes(
            scheduler,
            refresh,
            ["DE"],
            clock=FakeClock(T0),
            cache=MemoryForecastCache(),
            interval=timedelta(minutes=30),
            misfire_grace=timedelta(0),
        )
