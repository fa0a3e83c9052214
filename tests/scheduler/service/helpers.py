"""Building a ``SchedulerService`` over shipped backends for tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from forecasts.static import StaticProvider
from scheduler.clock import FakeClock
from scheduler.model import AttemptRecord, Job, JobSpec, Region
from scheduler.planning.carbonshift import CarbonshiftPolicy
from scheduler.planning.problem import Plan, PlanProblem, Policy
from scheduler.protocols import Cluster, JobStore
from scheduler.service.loop import SchedulerService, ServiceConfig
from scheduler.service.planning import PlanningConfig


class Finished:
    """Records every (job, attempt) the service hands to accounting."""

    def __init__(self) -> None:
        self.calls: list[tuple[Job, AttemptRecord]] = []

    def __call__(self, job: Job, attempt: AttemptRecord) -> None:
        self.calls.append((job, attempt))


def service(
    store: JobStore,
    clusters: Mapping[str, Cluster],
    clock: FakeClock,
    *,
    zones: Mapping[str, str] | None = None,
    pending_timeout_s: float = 600,
    finished: Finished | None = None,
    planning: PlanningConfig | None = None,
    policy: Policy | None = None,
) -> SchedulerService:
    """A service over ``clusters`` (region → cluster), each region in zone DE unless given;
    15-min slots over 24 h and the ``carbonshift`` policy unless given."""
    zones = zones or dict.fromkeys(clusters, "DE")
    regions: Sequence[Region] = [Region(name=name, zone=zones[name], gpus=8) for name in clusters]
    return SchedulerService(
        store=store,
        clusters=clusters,
        regions=regions,
        forecasts=StaticProvider(dict.fromkeys(zones.values(), 300.0), clock=clock),
        policy=policy or CarbonshiftPolicy(),
        clock=clock,
        config=ServiceConfig(
            planning=planning or PlanningConfig(slot_s=900, horizon_s=24 * 3600),
            pending_timeout_s=pending_timeout_s,
        ),
        on_finished=[finished] if finished else [],
    )


class Recording:
    """The ``carbonshift`` policy, keeping every problem it is given."""

    name = "carbonshift"

    def __init__(self) -> None:
        self.problems: list[PlanProblem] = []
        self._policy = CarbonshiftPolicy()

    def plan(self, problem: PlanProblem) -> Plan:
        """Record ``problem``, then plan it."""
        self.problems.append(problem)
        return self._policy.plan(problem)


def spec(now: datetime, *argv: str, gpus: int = 1, hours: float = 12, **changes: object) -> JobSpec:
    """A job spec running ``argv`` (default ``true``) with a deadline ``hours`` ahead."""
    fields: dict[str, object] = {
        "name": "job",
        "entrypoint": argv or ("true",),
        "gpus": gpus,
        "estimated_duration_s": 600,
        "deadline": now + timedelta(hours=hours),
    }
    fields.update(changes)
    return JobSpec.model_validate(fields)


def drive(
    svc: SchedulerService,
    clock: FakeClock,
    job_ids: Sequence[str],
    *,
    timeout_s: float = 120,
    step_s: float = 5,
    poll_s: float = 0.3,
) -> dict[str, str]:
    """Tick (advancing the fake clock) until every job is final; return their states.

    Jobs on a real Ray cluster finish in real time, so between ticks this waits ``poll_s``
    (I/O, not scheduling); it fails after ``timeout_s`` of real time.
    """
    import time  # noqa: PLC0415

    give_up = time.monotonic() + timeout_s
    while True:
        svc.tick()
        states = {job_id: svc.store.get(job_id).state for job_id in job_ids}
        if all(state.terminal for state in states.values()):
            return {job_id: str(state) for job_id, state in states.items()}
        if time.monotonic() > give_up:
            raise AssertionError(f"jobs not final after {timeout_s} s: {states}")
        clock.advance(step_s)
        time.sleep(poll_s)
