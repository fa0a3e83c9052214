"""``SqlJobStore``: the durable job store, SQLAlchemy Core over SQLite or PostgreSQL.

A submission returns only after its transaction committed. Every state change is an
``UPDATE … WHERE id = :id AND state = :expected``: of two writers, exactly one moves the job.
SQL faults are translated into ``StoreError`` here, with the database's message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection, Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from plugins.stores.schema import (
    attempt_from_row,
    attempt_values,
    attempts,
    job_from_row,
    job_values,
    jobs,
)
from scheduler.errors import (
    ConcurrentUpdateError,
    IdempotencyConflictError,
    JobNotFoundError,
    StoreError,
)
from scheduler.model import AttemptRecord, Job, JobSpec, JobState


def new_job_id() -> str:
    """A random, URL-safe job id (also the stem of Ray submission ids)."""
    return f"job-{uuid.uuid4().hex[:16]}"


class SqlJobStore:
    """Jobs and attempts in a migrated database (see ``plugins.stores.database``)."""

    def __init__(self, engine: Engine, *, new_id: Callable[[], str] = new_job_id) -> None:
        self._engine = engine
        self._new_id = new_id
        self._specs: dict[str, tuple[datetime, JobSpec]] = {}

    @property
    def engine(self) -> Engine:
        """The engine, for other stores that share this database (ledger, caches)."""
        return self._engine

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            where = self._engine.url.render_as_string(hide_password=True)
            raise StoreError(
                f"job store at {where} failed: {exc.__class__.__name__}: {exc}; "
                "check that the database is reachable and migrated"
            ) from exc

    def submit(self, spec: JobSpec, *, now: datetime) -> Job:
        """Store a new PENDING job, or return the job stored under the same idempotency key."""
        if spec.idempotency_key is not None:
            existing = self._by_key(spec)
            if existing is not None:
                return existing
        job = Job(id=self._new_id(), spec=spec, submitted_at=now, updated_at=now)
        try:
            with self._tx() as connection:
                connection.execute(insert(jobs).values(**job_values(job)))
        except StoreError as exc:
            # a concurrent submission with the same key won the insert: answer with its job
            lost_race = isinstance(exc.__cause__, IntegrityError) and spec.idempotency_key
            existing = self._by_key(spec) if lost_race else None
            if existing is None:
                raise
            return existing
        return job

    def _by_key(self, spec: JobSpec) -> Job | None:
        query = select(jobs).where(
            jobs.c.team == spec.team, jobs.c.idempotency_key == spec.idempotency_key
        )
        with self._tx() as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            return None
        job = job_from_row(row, self._specs)
        if job.spec != spec:
            raise IdempotencyConflictError(
                f"idempotency key {spec.idempotency_key!r} of team {spec.team!r} was used for "
                f"job {job.id} with a different body; reuse it only to repeat the same "
                "submission, or pick a new key"
            )
        return job

    def get(self, job_id: str) -> Job:
        """The job with ``job_id``; ``JobNotFoundError`` if none."""
        with self._tx() as connection:
            row = connection.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise JobNotFoundError(f"no job with id {job_id!r}; list jobs to find its id")
        return job_from_row(row, self._specs)

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
        query = select(jobs).order_by(jobs.c.seq).offset(offset).limit(limit)
        if states:
            query = query.where(jobs.c.state.in_([state.value for state in states]))
        if team is not None:
            query = query.where(jobs.c.team == team)
        if submitted_after is not None:
            query = query.where(jobs.c.submitted_at > submitted_after)
        with self._tx() as connection:
            return [job_from_row(row, self._specs) for row in connection.execute(query).mappings()]

    def transition(
        self, job_id: str, expected: JobState, job: Job, *, attempt: AttemptRecord | None = None
    ) -> Job:
        """Compare-and-set the job's state, writing ``attempt`` in the same transaction."""
        values = job_values(job)
        del values["id"], values["submitted_at"]
        guarded = update(jobs).where(jobs.c.id == job_id, jobs.c.state == expected.value)
        with self._tx() as connection:
            if connection.execute(guarded.values(**values)).rowcount == 0:
                self._explain_lost_update(connection, job_id, expected)
            if attempt is not None:
                self._upsert_attempt(connection, attempt)
        self._specs[job_id] = (job.updated_at, job.spec)  # it may carry a new spec (caps)
        return job

    def transition_many(
        self,
        changes: Sequence[tuple[JobState, Job]],
        *,
        attempts: Mapping[str, AttemptRecord] | None = None,
    ) -> Sequence[str]:
        """Many compare-and-sets in one transaction; returns the ids that lost."""
        lost: list[str] = []
        with self._tx() as connection:
            for expected, job in changes:
                values = job_values(job)
                del values["id"], values["submitted_at"]
                guarded = update(jobs).where(jobs.c.id == job.id, jobs.c.state == expected.value)
                if connection.execute(guarded.values(**values)).rowcount == 0:
                    lost.append(job.id)
                    continue
                self._specs[job.id] = (job.updated_at, job.spec)
                if attempts and job.id in attempts:
                    self._upsert_attempt(connection, attempts[job.id])
        return lost

    def update_attempts(self, records: Sequence[AttemptRecord]) -> Sequence[AttemptRecord]:
        """Many ``update_attempt`` in one transaction; returns those left unchanged."""
        missed: list[AttemptRecord] = []
        with self._tx() as connection:
            for record in records:
                guarded = update(attempts).where(
                    attempts.c.job_id == record.job_id,
                    attempts.c.attempt == record.attempt,
                    attempts.c.ended_at.is_(None),
                )
                if connection.execute(guarded.values(**attempt_values(record))).rowcount == 0:
                    missed.append(record)
        return missed

    def _explain_lost_update(self, connection: Connection, job_id: str, expected: JobState) -> None:
        row = connection.execute(select(jobs.c.state).where(jobs.c.id == job_id)).first()
        if row is None:
            raise JobNotFoundError(f"no job with id {job_id!r}; list jobs to find its id")
        raise ConcurrentUpdateError(
            f"job {job_id} is {row[0]}, not {expected}: another writer moved it first; "
            "re-read the job and decide again"
        )

    def _upsert_attempt(self, connection: Connection, record: AttemptRecord) -> None:
        key = and_(attempts.c.job_id == record.job_id, attempts.c.attempt == record.attempt)
        values = attempt_values(record)
        if connection.execute(update(attempts).where(key).values(**values)).rowcount == 0:
            connection.execute(insert(attempts).values(**values))

    def update_attempt(self, record: AttemptRecord) -> AttemptRecord:
        """Replace an open attempt; ``ConcurrentUpdateError`` if it is missing or ended."""
        guarded = update(attempts).where(
            attempts.c.job_id == record.job_id,
            attempts.c.attempt == record.attempt,
            attempts.c.ended_at.is_(None),
        )
        with self._tx() as connection:
            if connection.execute(guarded.values(**attempt_values(record))).rowcount == 0:
                raise ConcurrentUpdateError(
                    f"attempt {record.attempt} of job {record.job_id} is unknown or has already "
                    "ended; re-read the job's attempts"
                )
        return record

    def attempts(self, job_id: str) -> Sequence[AttemptRecord]:
        """Every attempt of ``job_id``, oldest first."""
        query = select(attempts).where(attempts.c.job_id == job_id).order_by(attempts.c.attempt)
        with self._tx() as connection:
            return [attempt_from_row(row) for row in connection.execute(query).mappings()]

    def open_attempts(self) -> Sequence[AttemptRecord]:
        """Attempts that have not ended, oldest intent first."""
        query = (
            select(attempts)
            .where(attempts.c.ended_at.is_(None))
            .order_by(attempts.c.intent_at, attempts.c.job_id)
        )
        with self._tx() as connection:
            return [attempt_from_row(row) for row in connection.execute(query).mappings()]
