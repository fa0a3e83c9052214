"""``InMemoryJobStore``: the shipped fake job store, a real implementation kept in a dict.

Same contract as ``SqlJobStore`` (the contract suite runs over both), minus durability: what
it holds is gone when the process ends. Use it in tests, the simulator and throwaway demos
(``store: {kind: memory}``). Thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from plugins.stores.sql import new_job_id
from scheduler.errors import ConcurrentUpdateError, IdempotencyConflictError, JobNotFoundError
from scheduler.model import AttemptRecord, Job, JobSpec, JobState


class InMemoryJobStore:
    """Jobs and attempts in memory, in submission order."""

    def __init__(self, *, new_id: Callable[[], str] = new_job_id) -> None:
        self._new_id = new_id
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._keys: dict[tuple[str, str], str] = {}
        self._attempts: dict[tuple[str, int], AttemptRecord] = {}

    def submit(self, spec: JobSpec, *, now: datetime) -> Job:
        """Store a new PENDING job, or return the job stored under the same idempotency key."""
        with self._lock:
            key = (spec.team, spec.idempotency_key) if spec.idempotency_key else None
            if key is not None and key in self._keys:
                job = self._jobs[self._keys[key]]
                if job.spec != spec:
                    raise IdempotencyConflictError(
                        f"idempotency key {spec.idempotency_key!r} of team {spec.team!r} was "
                        f"used for job {job.id} with a different body; reuse it only to repeat "
                        "the same submission, or pick a new key"
                    )
                return job
            job = Job(id=self._new_id(), spec=spec, submitted_at=now, updated_at=now)
            self._jobs[job.id] = job
            if key is not None:
                self._keys[key] = job.id
            return job

    def get(self, job_id: str) -> Job:
        """The job with ``job_id``; ``JobNotFoundError`` if none."""
        with self._lock:
            if job_id not in self._jobs:
                raise JobNotFoundError(f"no job with id {job_id!r}; list jobs to find its id")
            return self._jobs[job_id]

    def list(
        self,
        *,
        states: Sequence[JobState] = (),
        team: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        submitted_after: datetime | None = None,
    ) -> Sequence[Job]:
        """Jobs filtered by state, team and submission time, oldest submission first."""
        with self._lock:
            found = [
                job
                for job in self._jobs.values()
                if (not states or job.state in states)
                and (team is None or job.spec.team == team)
                and (submitted_after is None or job.submitted_at > submitted_after)
            ]
        end = None if limit is None else offset + limit
        return found[offset:end]

    def transition(
        self, job_id: str, expected: JobState, job: Job, *, attempt: AttemptRecord | None = None
    ) -> Job:
        """Compare-and-set the job's state, writing ``attempt`` at the same time."""
        with self._lock:
            stored = self._jobs.get(job_id)
            if stored is None:
                raise JobNotFoundError(f"no job with id {job_id!r}; list jobs to find its id")
            if stored.state != expected:
                raise ConcurrentUpdateError(
                    f"job {job_id} is {stored.state}, not {expected}: another writer moved it "
                    "first; re-read the job and decide again"
                )
            self._jobs[job_id] = job
            if attempt is not None:
                self._attempts[(attempt.job_id, attempt.attempt)] = attempt
        return job

    def transition_many(
        self,
        changes: Sequence[tuple[JobState, Job]],
        *,
        attempts: Mapping[str, AttemptRecord] | None = None,
    ) -> Sequence[str]:
        """Many compare-and-sets at once; returns the ids that lost."""
        lost: list[str] = []
        with self._lock:
            for expected, job in changes:
                stored = self._jobs.get(job.id)
                if stored is None or stored.state != expected:
                    lost.append(job.id)
                    continue
                self._jobs[job.id] = job
                if attempts and job.id in attempts:
                    record = attempts[job.id]
                    self._attempts[(record.job_id, record.attempt)] = record
        return lost

    def update_attempts(self, records: Sequence[AttemptRecord]) -> Sequence[AttemptRecord]:
        """Many ``update_attempt`` at once; returns those left unchanged."""
        missed: list[AttemptRecord] = []
        for record in records:
            try:
                self.update_attempt(record)
            except ConcurrentUpdateError:
                missed.append(record)
        return missed

    def update_attempt(self, record: AttemptRecord) -> AttemptRecord:
        """Replace an open attempt; ``ConcurrentUpdateError`` if it is missing or ended."""
        key = (record.job_id, record.attempt)
        with self._lock:
            stored = self._attempts.get(key)
            if stored is None or not stored.open:
                raise ConcurrentUpdateError(
                    f"attempt {record.attempt} of job {record.job_id} is unknown or has already "
                    "ended; re-read the job's attempts"
                )
            self._attempts[key] = record
        return record

    def attempts(self, job_id: str) -> Sequence[AttemptRecord]:
        """Every attempt of ``job_id``, oldest first."""
        with self._lock:
            found = [record for (jid, _), record in self._attempts.items() if jid == job_id]
        return sorted(found, key=lambda record: record.attempt)

    def open_attempts(self) -> Sequence[AttemptRecord]:
        """Attempts that have not ended, oldest intent first."""
        with self._lock:
            found = [record for record in self._attempts.values() if record.open]
        return sorted(found, key=lambda record: (record.intent_at, record.job_id))
