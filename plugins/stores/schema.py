"""The tables of the job store as SQLAlchemy Core objects, and row ↔ model conversion.

They mirror migration ``0001_jobs``; the migration is the source of truth for the database,
these objects only let queries name the columns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import RowMapping

from scheduler.model import AttemptRecord, AttemptState, Job, JobSpec, JobState


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite keeps no timezone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()
#: Parsed job specs kept per store (see ``job_from_row``).
SPEC_CACHE_SIZE = 100_000

jobs = Table(
    "jobs",
    metadata,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("team", String(100), nullable=False),
    Column("idempotency_key", String(200)),
    Column("state", String(16), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("spec", Text, nullable=False),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

attempts = Table(
    "attempts",
    metadata,
    Column("job_id", String(64), ForeignKey("jobs.id"), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("region", String(100), nullable=False),
    Column("submission_id", String(100), nullable=False),
    Column("submitted", Boolean, nullable=False),
    Column("state", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("intent_at", UtcDateTime, nullable=False),
    Column("submitted_at", UtcDateTime),
    Column("started_at", UtcDateTime),
    Column("ended_at", UtcDateTime),
    Column("power_cap_w", Float),
    Column("explanation", Text, nullable=False),
)


def job_values(job: Job) -> dict[str, Any]:
    """Column values of ``job``."""
    return {
        "id": job.id,
        "team": job.spec.team,
        "idempotency_key": job.spec.idempotency_key,
        "state": job.state.value,
        "attempt": job.attempt,
        "spec": job.spec.model_dump_json(),
        "submitted_at": job.submitted_at,
        "updated_at": job.updated_at,
    }


def job_from_row(row: RowMapping, specs: dict[str, tuple[datetime, JobSpec]] | None = None) -> Job:
    """The job stored in ``row`` (the spec was validated when it was submitted).

    ``specs`` caches parsed specs by job id and ``updated_at``: parsing 10,000 specs per tick
    would dominate the scheduler's tick, and any write to a job (a cap change included)
    moves its ``updated_at``, so a spec changed by another process is parsed again.
    """
    cached = None if specs is None else specs.get(row["id"])
    if cached is not None and cached[0] == row["updated_at"]:
        spec = cached[1]
    else:
        spec = JobSpec.model_validate_json(row["spec"])
        if specs is not None:
            if len(specs) >= SPEC_CACHE_SIZE:
                specs.clear()
            specs[row["id"]] = (row["updated_at"], spec)
    return Job.model_construct(
        id=row["id"],
        spec=spec,
        state=JobState(row["state"]),
        attempt=row["attempt"],
        submitted_at=row["submitted_at"],
        updated_at=row["updated_at"],
    )


def attempt_values(record: AttemptRecord) -> dict[str, Any]:
    """Column values of ``record``."""
    values = record.model_dump()
    values["state"] = record.state.value
    return values


def attempt_from_row(row: RowMapping) -> AttemptRecord:
    """The attempt stored in ``row``."""
    values = dict(row)
    values["state"] = AttemptState(values["state"])
    return AttemptRecord(**values)
