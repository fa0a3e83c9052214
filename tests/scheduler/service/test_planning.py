"""The service's planning adapter decides like the planner: regressions for its old copy.

Each test calls ``decide`` directly on a ``FakeClock`` instant (no sleeping) with the shipped
in-memory store, the carbonshift policy and hand-written forecasts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from plugins.stores.memory import InMemoryJobStore
from scheduler.clock import FakeClock
from scheduler.model import (
    ClusterCapacity,
    Decision,
    Forecast,
    ForecastProvenance,
    IntensityPoint,
    Job,
    JobSpec,
    Region,
    Start,
    Wait,
)
from scheduler.planning.carbonshift import CarbonshiftPolicy
from scheduler.service.planning import PlanningConfig, decide
from tests.scheduler.service.helpers import spec

CONFIG = PlanningConfig(slot_s=900, horizon_s=24 * 3600)


def forecast(clock: FakeClock, zone: str, values: Sequence[float], step_s: int = 3600) -> Forecast:
    """``values`` from now on, one per ``step_s``."""
    now = clock.now()
    return Forecast(
        zone=zone,
        step_s=step_s,
        points=tuple(
            IntensityPoint(start=now + timedelta(seconds=i * step_s), g_per_kwh=value)
            for i, value in enumerate(values)
        ),
        provenance=ForecastProvenance(
            provider="test",
            zone=zone,
            generated_at=now,
            fetched_at=now,
            horizon_s=len(values) * step_s,
        ),
    )


def submit(clock: FakeClock, job_spec: JobSpec) -> Job:
    """``job_spec`` as a stored job."""
    return InMemoryJobStore().submit(job_spec, now=clock.now())


def decide_one(
    clock: FakeClock, job: Job, regions: Sequence[Region], forecasts: dict[str, Forecast | None]
) -> Decision:
    """The service's decision for ``job`` alone, every region with 8 free GPUs."""
    (decision,) = decide(
        jobs=[job],
        regions=regions,
        forecasts=forecasts,
        capacity={r.name: ClusterCapacity(total_gpus=8, free_gpus=8) for r in regions},
        running=(),
        now=clock.now(),
        policy=CarbonshiftPolicy(),
        config=CONFIG,
        default_zone="DE",
    )
    return decision


def test_zone_without_forecast_is_not_preferred(clock: FakeClock) -> None:
    """A job allowed in DE (forecast 300 g/kWh) and FR (no forecast) runs in DE: a missing
    forecast is not a free zero-carbon zone."""
    regions = [Region(name="de-1", zone="DE", gpus=8), Region(name="fr-1", zone="FR", gpus=8)]
    job = submit(clock, spec(clock.now(), zones=("DE", "FR")))
    decision = decide_one(clock, job, regions, {"DE": forecast(clock, "DE", [300.0] * 30)})
    assert isinstance(decision, Start)
    assert decision.region == "de-1"


def test_job_only_in_unforecast_zones_runs_deadline_safe(clock: FakeClock) -> None:
    """A job whose only zone has no forecast starts now and says it is in deadline-safe mode."""
    regions = [Region(name="de-1", zone="DE", gpus=8), Region(name="fr-1", zone="FR", gpus=8)]
    job = submit(clock, spec(clock.now(), zones=("FR",)))
    decision = decide_one(
        clock, job, regions, {"DE": forecast(clock, "DE", [300.0] * 30), "FR": None}
    )
    assert isinstance(decision, Start)
    assert decision.region == "fr-1"
    assert "deadline-safe" in decision.explanation


def test_forecast_end_is_not_held_as_its_last_value(clock: FakeClock) -> None:
    """A 2-hour forecast ending low (300 then 250 g/kWh) does not make the unforecast hours
    look like 250: a 4-hour job starts now rather than waiting an hour for them."""
    regions = [Region(name="de-1", zone="DE", gpus=8)]
    job = submit(clock, spec(clock.now(), estimated_duration_s=4 * 3600))
    decision = decide_one(clock, job, regions, {"DE": forecast(clock, "DE", [300.0, 250.0])})
    assert isinstance(decision, Start)


def test_grid_starts_now_so_a_tight_window_mid_slot_is_met(clock: FakeClock) -> None:
    """Mid-slot (12:05), a job that may start from 12:20 and must start by 12:25 (its latest
    safe start) waits until 12:20: never later than its latest safe start, never before its
    earliest start, and not lost to a slot grid aligned on 12:00."""
    clock.advance(timedelta(minutes=5))
    now = clock.now()
    regions = [Region(name="de-1", zone="DE", gpus=8)]
    # latest safe start = deadline − 600 s × 1.1 = 12:25
    job_spec = spec(
        now, earliest_start=now + timedelta(minutes=15), deadline=now + timedelta(minutes=31)
    )
    latest = job_spec.latest_safe_start(CONFIG.safety_margin)
    job = submit(clock, job_spec)
    decision = decide_one(clock, job, regions, {"DE": forecast(clock, "DE", [300.0] * 30)})
    assert isinstance(decision, Wait)
    assert job_spec.earliest_start is not None
    assert job_spec.earliest_start <= decision.until <= latest


def test_explanation_names_saving_and_latest_safe_start(clock: FakeClock) -> None:
    """A job deferred from 400 to 100 g/kWh explains the expected CO2e change and its latest
    safe start."""
    regions = [Region(name="de-1", zone="DE", gpus=8)]
    job = submit(clock, spec(clock.now(), hours=12))
    values = [400.0, 400.0, 100.0] + [400.0] * 27
    decision = decide_one(clock, job, regions, {"DE": forecast(clock, "DE", values)})
    assert isinstance(decision, Wait)
    assert decision.until == clock.now() + timedelta(hours=2)
    assert "% CO2e" in decision.explanation
    latest = job.spec.latest_safe_start(CONFIG.safety_margin)
    assert f"latest safe start {latest:%H:%M} UTC" in decision.explanation
