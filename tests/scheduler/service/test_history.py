"""``RecentJobs``: the planner's nine days of history, read from the store incrementally."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from plugins.clusters.scripted import ScriptedCluster
from plugins.stores.memory import InMemoryJobStore
from scheduler.clock import FakeClock
from scheduler.model import Job, JobSpec
from scheduler.planning.problem import PlanProblem
from scheduler.service.history import RecentJobs
from scheduler.service.planning import PlanningConfig
from tests.scheduler.service.helpers import Recording, service, spec

DAY = timedelta(days=1)


class CountingStore(InMemoryJobStore):
    """An in-memory store that counts the rows each ``list`` call returns."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[datetime | None, int]] = []

    def list(self, **filters: Any) -> Sequence[Job]:
        rows = super().list(**filters)
        self.reads.append((filters.get("submitted_after"), len(rows)))
        return rows


def submit(store: InMemoryJobStore, at: datetime, name: str = "job") -> Job:
    body: JobSpec = spec(at, name=name)
    return store.submit(body, now=at)


def test_later_reads_fetch_only_new_submissions(clock: FakeClock) -> None:
    """The first read fetches the whole span; the next only what came since (less the
    overlap), and still returns every job of the span, oldest first."""
    store, now = CountingStore(), clock.now()
    for hours in (50, 30, 10):
        submit(store, now - timedelta(hours=hours))
    recent = RecentJobs(store, span=3 * DAY, overlap=timedelta(minutes=10))
    assert len(recent.read(now)) == 3
    submit(store, now + timedelta(hours=1), "new")
    jobs = recent.read(now + timedelta(hours=2))
    assert [j.spec.name for j in jobs] == ["job", "job", "job", "new"]
    # from 10 minutes before the newest job read: that one again, and the new one
    assert store.reads[-1] == (now - timedelta(hours=10, minutes=10), 2)


def test_jobs_older_than_the_span_drop_out(clock: FakeClock) -> None:
    """As time passes, jobs submitted before ``now − span`` are no longer returned."""
    store, now = CountingStore(), clock.now()
    old = submit(store, now - timedelta(hours=60))
    submit(store, now - timedelta(hours=1))
    recent = RecentJobs(store, span=3 * DAY)
    assert old.id in {j.id for j in recent.read(now)}
    later = recent.read(now + timedelta(hours=13))
    assert old.id not in {j.id for j in later}
    assert len(later) == 1


def test_a_late_commit_inside_the_overlap_is_picked_up(clock: FakeClock) -> None:
    """A job stamped before the newest one read, but stored after that read (a transaction
    that committed late), is found by the next read while it is within the overlap."""
    store, now = CountingStore(), clock.now()
    submit(store, now)
    recent = RecentJobs(store, span=3 * DAY, overlap=timedelta(minutes=10))
    recent.read(now)
    late = submit(store, now - timedelta(minutes=5), "late")
    assert late.id in {j.id for j in recent.read(now + timedelta(minutes=1))}


def test_a_clock_set_back_reads_the_span_afresh(clock: FakeClock) -> None:
    """Reading at an earlier ``now`` than the last read fetches the whole span again."""
    store, now = CountingStore(), clock.now()
    early = submit(store, now - timedelta(hours=70))
    recent = RecentJobs(store, span=3 * DAY)
    assert recent.read(now + DAY) == []
    assert [j.id for j in recent.read(now)] == [early.id]


def test_bad_spans_are_refused(clock: FakeClock) -> None:
    """A span that is not positive, or a negative overlap, is a configuration mistake."""
    with pytest.raises(ValueError, match="must be positive"):
        RecentJobs(InMemoryJobStore(), span=timedelta(0))
    with pytest.raises(ValueError, match="overlap"):
        RecentJobs(InMemoryJobStore(), span=DAY, overlap=timedelta(minutes=-1))


def test_a_long_lived_service_plans_with_the_history_of_a_fresh_one(clock: FakeClock) -> None:
    """Ticks of one service, reading history incrementally, give the planner the same
    reserve and surge as a service started afresh at the last tick, which reads it all."""
    now = clock.now()
    store = CountingStore()
    for days_ago in (8.5, 6.5, 5.0, 1.0):
        at = now - timedelta(days=days_ago)
        store.submit(spec(at, gpus=8, hours=20, estimated_duration_s=12 * 3600), now=at)
    config = PlanningConfig(slot_s=3600, horizon_s=48 * 3600, arrival_reserve=1.5)
    cluster = ScriptedCluster(region="local", clock=clock)
    kept = Recording()
    svc = service(store, {"local": cluster}, clock, planning=config, policy=kept)
    svc.tick()
    for _ in range(3):
        clock.advance(6 * 3600)
        later = clock.now() + timedelta(hours=12)  # waits: the last tick has a queue to plan
        store.submit(spec(clock.now(), hours=30, earliest_start=later), now=clock.now())
        svc.tick()
    rows = [count for after, count in store.reads if after is not None]
    # the nine days once, then the newest job again and the new one
    assert rows[0] == 4
    assert rows[1:] == [2, 2, 2]
    fresh = Recording()
    service(store, {"local": cluster}, clock, planning=config, policy=fresh).tick()
    mine, theirs = kept.problems[-1], fresh.problems[-1]
    assert mine.arrival_surge == theirs.arrival_surge
    assert mine.expected_demand is not None
    assert theirs.expected_demand is not None
    assert np.array_equal(mine.expected_demand, theirs.expected_demand)

    def shapes(problem: PlanProblem) -> list[tuple[int, int, int, int]]:
        return sorted(
            (j.release_slot, j.deadline_slot, j.duration_slots, j.gpus)
            for j in problem.expected_jobs
        )

    assert shapes(mine)  # last week's rigid jobs come back inside the horizon
    assert shapes(mine) == shapes(theirs)
    assert mine.arrival_load == theirs.arrival_load


def test_the_service_plans_with_the_arrival_insurance(clock: FakeClock) -> None:
    """With ``arrival_insurance`` last week's interruptible job (one 6.5 days ago, due 20 h
    after its submission) comes back to the planner as an interruptible expected job inside
    the 48-hour horizon, and not as reserved demand; without it, only as demand."""
    now = clock.now()
    week_ago = now - timedelta(days=6.5)
    store = InMemoryJobStore()
    body = spec(week_ago, gpus=8, hours=20, estimated_duration_s=12 * 3600, interruptible=True)
    store.submit(body, now=week_ago)
    later = now + timedelta(hours=12)  # waits, so the tick has a queue to plan
    store.submit(spec(now, hours=30, earliest_start=later), now=now)
    cluster = ScriptedCluster(region="local", clock=clock)
    plain = PlanningConfig(slot_s=3600, horizon_s=48 * 3600, arrival_reserve=1.5)
    problems = []
    for config in (plain, replace(plain, arrival_insurance=1.5)):
        seen = Recording()
        service(store, {"local": cluster}, clock, planning=config, policy=seen).tick()
        problems.append(seen.problems[-1])
    reserved, insured = problems
    assert reserved.expected_jobs == ()
    assert reserved.expected_demand is not None
    assert reserved.expected_demand.any()
    (job,) = insured.expected_jobs
    assert (job.interruptible, job.gpus, job.duration_slots) == (True, 8, 12)
    # a week on: released 12 h from now; its window closes at its latest safe start
    # (20 h − 12 h × 1.1, rounded down to 6 h) plus its 12 h, 30 h from now
    assert (job.release_slot, job.deadline_slot) == (12, 30)
    assert insured.expected_demand is None
