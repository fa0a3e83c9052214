"""The ``JobStore`` contract, run over every implementation: memory, SQLite, PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from plugins.stores.memory import InMemoryJobStore
from plugins.stores.sql import SqlJobStore
from scheduler.clock import FakeClock
from scheduler.errors import (
    ConcurrentUpdateError,
    IdempotencyConflictError,
    JobNotFoundError,
)
from scheduler.model import AttemptRecord, AttemptState, Job, JobSpec, JobState
from scheduler.protocols import JobStore

#: Builds a store; called twice, the second store sees what the first one stored.
StoreFactory = Callable[[], JobStore]

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def make_store(database: Engine | None) -> StoreFactory:
    """A factory of stores over one backend (one database per test)."""
    if database is None:
        store = InMemoryJobStore()
        return lambda: store
    return lambda: SqlJobStore(database)


@pytest.fixture
def store(make_store: StoreFactory) -> JobStore:
    """One store of the backend under test."""
    return make_store()


def spec(name: str = "train", **changes: object) -> JobSpec:
    """A valid job spec; ``changes`` override fields."""
    fields: dict[str, object] = {
        "name": name,
        "entrypoint": ("python", "train.py", "--lr", "3e-4"),
        "gpus": 2,
        "estimated_duration_s": 3600,
        "deadline": NOW + timedelta(hours=12),
        "team": "vision",
        "labels": {"purpose": "test"},
    }
    fields.update(changes)
    return JobSpec.model_validate(fields)


def intent(job: Job, attempt: int, *, at: datetime = NOW) -> AttemptRecord:
    """A dispatch intent for ``attempt`` of ``job``."""
    return AttemptRecord(
        job_id=job.id,
        attempt=attempt,
        region="eu",
        submission_id=f"{job.id}-{attempt}",
        intent_at=at,
        explanation="start now",
    )


def test_submit_returns_a_durable_pending_job(make_store: StoreFactory) -> None:
    """A submitted job is PENDING at attempt 0 and readable from another store instance."""
    job = make_store().submit(spec(), now=NOW)
    assert (job.state, job.attempt, job.submitted_at) == (JobState.PENDING, 0, NOW)
    assert make_store().get(job.id) == job


def test_datetimes_come_back_as_aware_utc(store: JobStore) -> None:
    """Times given in another zone are stored and returned as the same instant in UTC."""
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    local = datetime(2026, 11, 26, 13, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    job = store.submit(spec(), now=local)
    stored = store.get(job.id)
    assert stored.submitted_at == NOW
    assert stored.submitted_at.utcoffset() == timedelta(0)


def test_unknown_job_is_not_found(store: JobStore) -> None:
    """Reading a job that was never submitted raises JobNotFoundError naming the id."""
    with pytest.raises(JobNotFoundError, match="nope"):
        store.get("nope")


def test_idempotency_key_returns_the_same_job(store: JobStore) -> None:
    """Repeating a submission with the same key and body returns the first job."""
    first = store.submit(spec(idempotency_key="k-1"), now=NOW)
    again = store.submit(spec(idempotency_key="k-1"), now=NOW + timedelta(minutes=1))
    assert again == first
    assert len(store.list()) == 1


def test_idempotency_key_with_another_body_conflicts(store: JobStore) -> None:
    """Reusing a key with a different body is refused, naming the key."""
    store.submit(spec(idempotency_key="k-1"), now=NOW)
    with pytest.raises(IdempotencyConflictError, match="k-1"):
        store.submit(spec(idempotency_key="k-1", gpus=4), now=NOW)


def test_idempotency_keys_are_per_team(store: JobStore) -> None:
    """Two teams may use the same key for different jobs."""
    vision = store.submit(spec(idempotency_key="k-1"), now=NOW)
    speech = store.submit(spec(idempotency_key="k-1", team="speech"), now=NOW)
    assert vision.id != speech.id


def test_list_filters_and_pages_in_submission_order(store: JobStore, clock: FakeClock) -> None:
    """list() is oldest first, filters by state and team, and pages with limit/offset."""
    names = [f"j{i}" for i in range(5)]
    jobs = [
        store.submit(spec(name, team="a" if i % 2 else "b"), now=NOW)
        for i, name in enumerate(names)
    ]
    store.transition(jobs[1].id, JobState.PENDING, jobs[1].transition(JobState.DEFERRED, at=NOW))
    assert [job.spec.name for job in store.list()] == names
    assert [job.spec.name for job in store.list(team="a")] == ["j1", "j3"]
    assert [job.spec.name for job in store.list(states=[JobState.DEFERRED])] == ["j1"]
    assert [job.spec.name for job in store.list(limit=2, offset=1)] == ["j1", "j2"]


def test_list_filters_by_submission_time(store: JobStore) -> None:
    """submitted_after keeps jobs submitted strictly later, in submission order."""
    times = [NOW - timedelta(days=8), NOW - timedelta(days=7), NOW - timedelta(hours=1), NOW]
    for i, at in enumerate(times):
        store.submit(spec(f"j{i}"), now=at)
    week_ago = NOW - timedelta(days=7)
    assert [job.spec.name for job in store.list(submitted_after=week_ago)] == ["j2", "j3"]
    assert [job.spec.name for job in store.list(submitted_after=NOW)] == []
    later = store.list(submitted_after=week_ago, states=[JobState.PENDING], limit=1, offset=1)
    assert [job.spec.name for job in later] == ["j3"]


def test_transition_is_a_compare_and_set(store: JobStore) -> None:
    """A transition from a state the job has already left fails and changes nothing."""
    job = store.submit(spec(), now=NOW)
    deferred = store.transition(job.id, JobState.PENDING, job.transition(JobState.DEFERRED, at=NOW))
    with pytest.raises(ConcurrentUpdateError, match=job.id):
        store.transition(job.id, JobState.PENDING, job.transition(JobState.CANCELLED, at=NOW))
    assert store.get(job.id) == deferred


def test_transition_of_unknown_job_is_not_found(store: JobStore) -> None:
    """A transition names the missing job."""
    job = Job(id="ghost", spec=spec(), submitted_at=NOW, updated_at=NOW)
    with pytest.raises(JobNotFoundError, match="ghost"):
        store.transition("ghost", JobState.PENDING, job.transition(JobState.DEFERRED, at=NOW))


def test_of_many_concurrent_writers_exactly_one_wins(make_store: StoreFactory) -> None:
    """Eight threads race to move the same job; one succeeds, seven lose the CAS."""
    job = make_store().submit(spec(), now=NOW)
    wins: list[str] = []
    losses: list[str] = []
    barrier = threading.Barrier(8)

    def race(target: JobState) -> None:
        store = make_store()
        barrier.wait()
        try:
            store.transition(job.id, JobState.PENDING, job.transition(target, at=NOW))
            wins.append(target)
        except ConcurrentUpdateError:
            losses.append(target)

    targets = [JobState.DEFERRED, JobState.CANCELLED] * 4
    threads = [threading.Thread(target=race, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(wins), len(losses)) == (1, 7)
    assert make_store().get(job.id).state == wins[0]


def test_dispatch_intent_is_written_with_the_transition(store: JobStore) -> None:
    """Moving to DISPATCHED and recording the intent happen together; a lost CAS writes neither."""
    job = store.submit(spec(), now=NOW)
    dispatched = job.transition(JobState.DISPATCHED, at=NOW, attempt=1)
    store.transition(job.id, JobState.PENDING, dispatched, attempt=intent(job, 1))
    with pytest.raises(ConcurrentUpdateError):
        store.transition(job.id, JobState.PENDING, dispatched, attempt=intent(job, 2))
    assert [(a.attempt, a.submitted) for a in store.attempts(job.id)] == [(1, False)]
    assert store.get(job.id).attempt == 1


def test_attempt_updates_until_it_ends(store: JobStore) -> None:
    """An open attempt can be updated; once ended it is closed to updates and not open."""
    job = store.submit(spec(), now=NOW)
    store.transition(
        job.id,
        JobState.PENDING,
        job.transition(JobState.DISPATCHED, at=NOW, attempt=1),
        attempt=intent(job, 1),
    )
    later = NOW + timedelta(minutes=5)
    submitted = intent(job, 1).model_copy(update={"submitted": True, "submitted_at": later})
    store.update_attempt(submitted)
    assert store.open_attempts() == [submitted]
    ended = submitted.model_copy(update={"state": AttemptState.SUCCEEDED, "ended_at": later})
    store.update_attempt(ended)
    assert store.open_attempts() == []
    assert store.attempts(job.id) == [ended]
    with pytest.raises(ConcurrentUpdateError, match=job.id):
        store.update_attempt(submitted)


def test_open_attempts_span_jobs_oldest_first(store: JobStore) -> None:
    """open_attempts() lists every job's unfinished attempts by intent time."""
    first = store.submit(spec("a"), now=NOW)
    second = store.submit(spec("b"), now=NOW)
    for job, minutes in ((second, 1), (first, 2)):
        store.transition(
            job.id,
            JobState.PENDING,
            job.transition(JobState.DISPATCHED, at=NOW, attempt=1),
            attempt=intent(job, 1, at=NOW + timedelta(minutes=minutes)),
        )
    assert [record.job_id for record in store.open_attempts()] == [second.id, first.id]
    assert store.attempts("unknown") == []


def test_transition_many_applies_the_winners_and_names_the_losers(store: JobStore) -> None:
    """Many compare-and-sets at once: those still in the expected state move, others stay."""
    jobs = [store.submit(spec(f"j{i}"), now=NOW) for i in range(3)]
    store.transition(jobs[1].id, JobState.PENDING, jobs[1].transition(JobState.CANCELLED, at=NOW))
    changes = [(JobState.PENDING, job.transition(JobState.DEFERRED, at=NOW)) for job in jobs]
    lost = store.transition_many(changes)
    assert list(lost) == [jobs[1].id]
    assert [store.get(job.id).state for job in jobs] == [
        JobState.DEFERRED,
        JobState.CANCELLED,
        JobState.DEFERRED,
    ]


def test_transition_replaces_the_spec_too(make_store: StoreFactory) -> None:
    """A transition writes the whole job: a changed spec (new caps) is what is read back."""
    job = make_store().submit(spec(), now=NOW)
    recapped = job.model_copy(update={"spec": job.spec.model_copy(update={"power_cap_w": 250.0})})
    make_store().transition(job.id, JobState.PENDING, recapped)
    assert make_store().get(job.id).spec.power_cap_w == 250.0
    store = make_store()
    store.get(job.id)  # a store that cached the spec sees its own later change
    store.transition(
        job.id,
        JobState.PENDING,
        recapped.model_copy(
            update={"spec": recapped.spec.model_copy(update={"power_cap_w": 300.0})}
        ),
    )
    assert store.get(job.id).spec.power_cap_w == 300.0
