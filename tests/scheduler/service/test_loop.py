"""``SchedulerService.tick`` over the in-memory store and the scripted cluster.

Time moves only through the fake clock; nothing sleeps.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from plugins.clusters.scripted import ScriptedCluster
from plugins.stores.memory import InMemoryJobStore
from scheduler.clock import FakeClock
from scheduler.model import AttemptRecord, AttemptState, ClusterCapacity, Job, JobState
from scheduler.service.loop import ServiceConfig
from scheduler.service.planning import PlanningConfig
from tests.scheduler.service.helpers import Finished, Recording, service, spec


def test_job_runs_to_success_and_is_handed_to_accounting(clock: FakeClock) -> None:
    """A job is dispatched at once, seen running, then succeeded; accounting gets it once."""
    store, finished = InMemoryJobStore(), Finished()
    cluster = ScriptedCluster(region="local", clock=clock)
    svc = service(store, {"local": cluster}, clock, finished=finished)
    job = store.submit(spec(clock.now()), now=clock.now())

    report = svc.tick()
    assert report.started == [f"{job.id}-1"]
    assert store.get(job.id).state == JobState.DISPATCHED
    clock.advance(30)
    svc.tick()
    assert store.get(job.id).state == JobState.RUNNING
    clock.advance(60)
    svc.tick()
    assert store.get(job.id).state == JobState.SUCCEEDED
    assert [(j.state, a.state) for j, a in finished.calls] == [
        (JobState.SUCCEEDED, AttemptState.SUCCEEDED)
    ]
    assert cluster.submission_ids == [f"{job.id}-1"]


def test_job_waits_for_its_earliest_start(clock: FakeClock) -> None:
    """A job that may not start yet is DEFERRED, then dispatched once its time comes."""
    store = InMemoryJobStore()
    svc = service(store, {"local": ScriptedCluster(region="local", clock=clock)}, clock)
    later = clock.now() + timedelta(hours=2)
    job = store.submit(spec(clock.now(), earliest_start=later), now=clock.now())
    svc.tick()
    assert store.get(job.id).state == JobState.DEFERRED
    clock.set(later)
    svc.tick()
    assert store.get(job.id).state == JobState.DISPATCHED


def test_capacity_is_never_overcommitted(clock: FakeClock) -> None:
    """Three 4-GPU jobs on 8 GPUs: two start, the third once one finished."""
    store = InMemoryJobStore()
    svc = service(store, {"local": ScriptedCluster(region="local", clock=clock)}, clock)
    jobs = [store.submit(spec(clock.now(), gpus=4), now=clock.now()) for _ in range(3)]
    assert len(svc.tick().started) == 2
    clock.advance(120)
    svc.tick()
    states = sorted(store.get(job.id).state for job in jobs)
    assert states == [JobState.DISPATCHED, JobState.SUCCEEDED, JobState.SUCCEEDED]


def test_users_non_zero_exit_fails_without_retry(clock: FakeClock) -> None:
    """The job's own failure is FAILED, with no second attempt."""
    store = InMemoryJobStore()
    cluster = ScriptedCluster(region="local", clock=clock)
    svc = service(store, {"local": cluster}, clock)
    job = store.submit(spec(clock.now()), now=clock.now())
    cluster.script(job.id, outcome=AttemptState.FAILED, exit_code=3)
    svc.tick()
    clock.advance(120)
    svc.tick()
    svc.tick()
    assert store.get(job.id).state == JobState.FAILED
    assert cluster.submission_ids == [f"{job.id}-1"]


def test_infrastructure_failure_starts_a_new_attempt(clock: FakeClock) -> None:
    """A dead supervisor ends the attempt; the job is planned again and attempt 2 succeeds."""
    store = InMemoryJobStore()
    cluster = ScriptedCluster(region="local", clock=clock)
    svc = service(store, {"local": cluster}, clock)
    job = store.submit(spec(clock.now()), now=clock.now())
    cluster.script(job.id, outcome=AttemptState.FAILED, infrastructure_failure=True)
    svc.tick()
    clock.advance(120)
    cluster.script(job.id, run_s=60)
    svc.tick()
    clock.advance(120)
    svc.tick()
    assert cluster.submission_ids == [f"{job.id}-1", f"{job.id}-2"]
    assert store.get(job.id).state == JobState.SUCCEEDED
    assert [a.state for a in store.attempts(job.id)] == [
        AttemptState.FAILED,
        AttemptState.SUCCEEDED,
    ]


def test_stuck_pending_attempt_is_stopped_and_replanned(clock: FakeClock) -> None:
    """An attempt PENDING on the cluster past the timeout is stopped; a new attempt follows."""
    store = InMemoryJobStore()
    cluster = ScriptedCluster(region="local", clock=clock)
    svc = service(store, {"local": cluster}, clock, pending_timeout_s=300)
    job = store.submit(spec(clock.now()), now=clock.now())
    cluster.script(job.id, pending_s=10_000)
    svc.tick()
    clock.advance(200)
    svc.tick()
    assert store.get(job.id).state == JobState.DISPATCHED
    clock.advance(200)
    cluster.script(job.id, pending_s=0)
    report = svc.tick()
    assert report.started == [f"{job.id}-2"]
    assert cluster.status(f"{job.id}-1").state == AttemptState.STOPPED  # type: ignore[union-attr]


def test_unplaceable_job_is_never_dispatched_and_expires(clock: FakeClock) -> None:
    """16 GPUs on an 8-GPU cluster: the job waits, and expires at its latest safe start."""
    store = InMemoryJobStore()
    cluster = ScriptedCluster(region="local", clock=clock)
    svc = service(store, {"local": cluster}, clock)
    job = store.submit(spec(clock.now(), gpus=16, hours=2), now=clock.now())
    svc.tick()
    assert store.get(job.id).state == JobState.DEFERRED
    clock.advance(timedelta(hours=2))
    svc.tick()
    assert store.get(job.id).state == JobState.EXPIRED
    assert cluster.submission_ids == []


def test_crash_after_intent_submits_exactly_once(clock: FakeClock) -> None:
    """An intent left by a crash is submitted if the cluster never saw it, else only confirmed."""
    store = InMemoryJobStore()
    cluster = ScriptedCluster(region="local", clock=clock)
    svc = service(store, {"local": cluster}, clock)
    now = clock.now()
    lost, landed = (store.submit(spec(now), now=now) for _ in range(2))
    for job in (lost, landed):
        intent = AttemptRecord(
            job_id=job.id, attempt=1, region="local", submission_id=f"{job.id}-1", intent_at=now
        )
        store.transition(
            job.id,
            JobState.PENDING,
            job.transition(JobState.DISPATCHED, at=now, attempt=1),
            attempt=intent,
        )
    cluster.submit(store.get(landed.id), 1)  # the crash came after Ray accepted this one

    report = svc.tick()
    assert report.resubmitted == [f"{lost.id}-1"]
    assert sorted(cluster.submission_ids) == sorted([f"{lost.id}-1", f"{landed.id}-1"])
    assert all(a.submitted for a in store.open_attempts())


def test_unreachable_cluster_is_waited_out(clock: FakeClock) -> None:
    """While the cluster is unreachable nothing is lost or started; afterwards all goes on."""
    store = InMemoryJobStore()
    cluster = ScriptedCluster(region="local", clock=clock)
    svc = service(store, {"local": cluster}, clock)
    running = store.submit(spec(clock.now()), now=clock.now())
    svc.tick()
    cluster.reachable = False
    waiting = store.submit(spec(clock.now()), now=clock.now())
    for _ in range(4):
        clock.advance(15)
        report = svc.tick()
        assert report.faults
        assert report.started == []
    assert store.get(running.id).state == JobState.DISPATCHED
    cluster.reachable = True
    svc.tick()
    clock.advance(120)
    svc.tick()
    assert store.get(running.id).state == JobState.SUCCEEDED
    assert store.get(waiting.id).state in (
        JobState.DISPATCHED,
        JobState.RUNNING,
        JobState.SUCCEEDED,
    )


def test_cancelled_job_is_stopped_on_the_cluster(clock: FakeClock) -> None:
    """Cancelling a running job (the API's move) makes the next tick stop its attempt."""
    store = InMemoryJobStore()
    cluster = ScriptedCluster(region="local", clock=clock)
    svc = service(store, {"local": cluster}, clock)
    job = store.submit(spec(clock.now()), now=clock.now())
    svc.tick()
    clock.advance(10)
    dispatched = store.get(job.id)
    store.transition(
        job.id, dispatched.state, dispatched.transition(JobState.CANCELLED, at=clock.now())
    )
    svc.tick()
    assert cluster.status(f"{job.id}-1").state == AttemptState.STOPPED  # type: ignore[union-attr]
    svc.tick()  # the cluster confirmed the stop: the attempt is closed
    assert store.open_attempts() == []
    assert [a.state for a in store.attempts(job.id)] == [AttemptState.STOPPED]


def test_jobs_go_to_a_region_of_their_zone(clock: FakeClock) -> None:
    """Two regions: each job lands in the region of the zone it asked for."""
    store = InMemoryJobStore()
    de = ScriptedCluster(region="de", clock=clock)
    fr = ScriptedCluster(region="fr", clock=clock)
    svc = service(store, {"de": de, "fr": fr}, clock, zones={"de": "DE", "fr": "FR"})
    to_fr = store.submit(spec(clock.now(), zones=("FR",)), now=clock.now())
    to_de = store.submit(spec(clock.now(), zones=("DE",)), now=clock.now())
    svc.tick()
    assert (de.submission_ids, fr.submission_ids) == ([f"{to_de.id}-1"], [f"{to_fr.id}-1"])


def test_stopped_attempt_that_starts_anyway_is_stopped_again(clock: FakeClock) -> None:
    """Ray may start a job it was asked to stop while PENDING: the service stops it again
    and closes the attempt only once the cluster reports it final."""
    store = InMemoryJobStore()
    cluster = ScriptedCluster(region="local", clock=clock)
    svc = service(store, {"local": cluster}, clock, pending_timeout_s=300)
    job = store.submit(spec(clock.now()), now=clock.now())
    cluster.script(job.id, pending_s=400, run_s=600, ignores_stop_while_pending=True)
    svc.tick()
    clock.advance(350)
    svc.tick()  # stop requested, and lost: the attempt stays open
    clock.advance(100)
    assert cluster.status(f"{job.id}-1").state == AttemptState.RUNNING  # type: ignore[union-attr]
    svc.tick()  # it started anyway: stopped again
    assert cluster.status(f"{job.id}-1").state == AttemptState.STOPPED  # type: ignore[union-attr]
    svc.tick()
    first = next(a for a in store.attempts(job.id) if a.attempt == 1)
    assert (first.state, first.open) == (AttemptState.STOPPED, False)


class CountingCluster(ScriptedCluster):
    """The scripted cluster, counting how often the service asks for its capacity."""

    capacity_calls = 0

    def capacity(self) -> ClusterCapacity:
        self.capacity_calls += 1
        return super().capacity()


def test_capacity_is_read_once_per_ttl_and_never_overcommitted(clock: FakeClock) -> None:
    """Within ``capacity_ttl_s`` ticks ask the cluster nothing and count the store's attempts."""
    store = InMemoryJobStore()
    cluster = CountingCluster(region="local", clock=clock)
    svc = service(store, {"local": cluster}, clock)
    first = [store.submit(spec(clock.now(), gpus=4), now=clock.now()) for _ in range(3)]
    assert len(svc.tick().started) == 2  # reads the capacity: 8 GPUs free
    clock.advance(5)
    later = store.submit(spec(clock.now(), gpus=4), now=clock.now())
    assert svc.tick().started == []  # cached total 8 minus the 8 GPUs of open attempts
    assert cluster.capacity_calls == 1
    clock.advance(ServiceConfig().capacity_ttl_s)
    svc.tick()
    assert cluster.capacity_calls == 2
    assert {store.get(j.id).state for j in [*first, later]} <= {
        JobState.DEFERRED,
        JobState.DISPATCHED,
        JobState.RUNNING,
        JobState.SUCCEEDED,
    }


def test_a_cluster_fault_forgets_the_cached_capacity(clock: FakeClock) -> None:
    """After the cluster fails once, the next plan asks it again instead of trusting the cache."""
    store = InMemoryJobStore()
    cluster = CountingCluster(region="local", clock=clock)
    svc = service(store, {"local": cluster}, clock)
    store.submit(spec(clock.now()), now=clock.now())
    svc.tick()
    cluster.reachable = False
    clock.advance(5)
    store.submit(spec(clock.now()), now=clock.now())
    report = svc.tick()
    assert cluster.capacity_calls == 2
    assert report.started == []


def test_the_arrival_forecasts_read_last_weeks_jobs(clock: FakeClock) -> None:
    """With ``arrival_reserve`` and ``arrival_forecast`` on, last week's jobs (not older
    ones) come back a week later: their GPU-hours as the reserve over their window, and the
    rigid one's GPUs held over its latest window; the surge compares the last two days'
    work with the same two days a week before; off, the store's history is not read."""
    now = clock.now()

    def stored() -> InMemoryJobStore:
        store = InMemoryJobStore()
        # the first comes back in 12 h; the second is too old to, but the surge counts it
        for days_ago in (6.5, 8.0):
            at = now - timedelta(days=days_ago)
            store.submit(spec(at, gpus=4, hours=6, estimated_duration_s=3 * 3600), now=at)
        store.submit(spec(now), now=now)
        return store

    hourly = PlanningConfig(
        slot_s=3600, horizon_s=24 * 3600, safety_margin=0.0, arrival_reserve=0.0
    )
    planning = replace(hourly, arrival_reserve=1.0, arrival_forecast=1.0)
    off, on = Recording(), Recording()
    for config, policy in ((hourly, off), (planning, on)):
        cluster = ScriptedCluster(region="local", clock=clock)
        service(stored(), {"local": cluster}, clock, planning=config, policy=policy).tick()

    assert off.problems[-1].expected_demand is None
    assert off.problems[-1].expected_use is None
    assert off.problems[-1].arrival_surge is None
    # 1 GPU-slot submitted now over the 4 GPUs × 3 slots of 8 days ago
    assert on.problems[-1].arrival_surge == pytest.approx(1 / 12)
    demand, held = on.problems[-1].expected_demand, on.problems[-1].expected_use
    assert demand is not None
    assert held is not None
    # 4 GPUs × 3 h spread over its 6 h window (slots 12–17): 2 GPUs each
    assert demand[0].tolist() == [0] * 12 + [2] * 6 + [0] * (demand.shape[1] - 18)
    # held over its latest 3 h (slots 15–17)
    assert held[0].tolist() == [0] * 15 + [4] * 3 + [0] * (held.shape[1] - 18)


class CountingStore(InMemoryJobStore):
    """The in-memory store, counting single-job reads."""

    gets = 0

    def get(self, job_id: str) -> Job:
        self.gets += 1
        return super().get(job_id)


def test_running_jobs_are_read_in_one_listing(clock: FakeClock) -> None:
    """Planning learns what the running jobs hold from one listing: a tick with four open
    attempts reads each job once (to follow its attempt), not twice."""
    store = CountingStore()
    svc = service(store, {"local": ScriptedCluster(region="local", clock=clock)}, clock)
    for _ in range(4):
        store.submit(spec(clock.now(), gpus=2), now=clock.now())
    assert len(svc.tick().started) == 4
    clock.advance(5)
    late = store.submit(spec(clock.now(), gpus=2), now=clock.now())
    store.gets = 0
    assert svc.tick().started == []  # the four running jobs hold all 8 GPUs
    assert store.gets == 4
    assert store.get(late.id).state == JobState.DEFERRED
