"""Every extension point of carbonshift, as a small protocol.

Each backend lives in its own file (``plugins/<role>/<tech>.py``, ``forecasts/<tech>.py``) and
is chosen by name in the settings through ``scheduler.registry``. Every protocol has a shipped
fake that is a real implementation and one contract suite in ``tests/contracts`` that every
implementation passes.

Conventions for every method below: datetimes are timezone-aware UTC (naive ones are an
error), energy is integer millijoules, power integer milliwatts, intensity grams CO2e per kWh.
Faults raise the ``scheduler.errors`` class named in the docstring and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from scheduler.model import (
    ApiToken,
    AttemptRecord,
    AttemptStatus,
    ClusterCapacity,
    Forecast,
    GpuInfo,
    IntervalForecast,
    Job,
    JobSpec,
    JobState,
    LedgerEntry,
    ProviderStatus,
)


@runtime_checkable
class Clock(Protocol):
    """The source of "now"."""

    def now(self) -> datetime:
        """Current time, timezone-aware UTC; never goes backwards."""
        ...


@runtime_checkable
class ForecastProvider(Protocol):
    """A source of intensity forecasts for grid zones."""

    name: str

    def forecast(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """Forecast intensity for ``zone`` covering as much of ``[start, end)`` as available.

        The result is validated (finite, in range, uniform step, UTC) and carries provenance.
        It may end before ``end`` when the provider's horizon is shorter; callers fill the rest.

        Raises:
            ForecastUnavailable: transient fault (timeout, 5xx, 429, budget spent).
            ForecastRejected: the payload failed validation.
            ForecastError: permanent fault (unknown zone, bad credentials).
        """
        ...


@runtime_checkable
class IntensityHistory(Protocol):
    """A source of realised (observed) intensity."""

    name: str

    def observed(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """Observed intensity for ``zone`` over ``[start, end)``, with provenance.

        Raises the same errors as ``ForecastProvider.forecast``.
        """
        ...


@runtime_checkable
class SignalForecaster(Protocol):
    """Forecasts a zone's intensity from its own observed history (beyond providers' horizon)."""

    name: str

    def predict(
        self,
        zone: str,
        history_g_per_kwh: Sequence[float],
        step_s: int,
        horizon_steps: int,
    ) -> Sequence[float]:
        """The next ``horizon_steps`` values after the last element of ``history_g_per_kwh``.

        ``history_g_per_kwh`` is the observed series on a uniform ``step_s`` grid, oldest
        first, ending with the latest observed step; the model uses nothing else (no future).

        Raises:
            ForecastUnavailable: too little history to forecast.
            ForecastError: a ``step_s`` the forecaster cannot work with.
        """
        ...


@runtime_checkable
class IntervalForecaster(SignalForecaster, Protocol):
    """A ``SignalForecaster`` that also says how uncertain it is."""

    def predict_interval(
        self,
        zone: str,
        history_g_per_kwh: Sequence[float],
        step_s: int,
        horizon_steps: int,
    ) -> IntervalForecast:
        """``predict``'s values with a central prediction interval around them.

        Same inputs and errors as ``SignalForecaster.predict``; ``mean_g_per_kwh`` equals
        what ``predict`` returns, and ``lower ≤ mean ≤ upper`` holds at every step.
        """
        ...


@runtime_checkable
class ForecastCache(Protocol):
    """The last good forecast per zone, with its provenance, and each provider's health.

    Only validated forecasts are saved (the failover chain validates first), so a bad payload
    never replaces a good one. Staleness is judged by the reader from
    ``provenance.fetched_at`` and its TTL; the cache keeps what it was given.
    """

    def load(self, zone: str) -> Forecast | None:
        """The last forecast saved for ``zone``, or None.

        Raises:
            StoreError: the cache cannot be read.
        """
        ...

    def save(self, forecast: Forecast) -> None:
        """Replace the entry of ``forecast.zone`` by ``forecast`` (durable on return).

        Raises:
            StoreError: the cache cannot be written.
        """
        ...

    def fetched_at(self) -> dict[str, datetime]:
        """When each cached zone's forecast was fetched (UTC), to stagger refreshes."""
        ...

    def record_status(self, status: ProviderStatus) -> None:
        """Replace the health record of ``status.provider``."""
        ...

    def statuses(self) -> Sequence[ProviderStatus]:
        """Every provider's health record, sorted by provider name."""
        ...


@runtime_checkable
class Cluster(Protocol):
    """One compute cluster (one per region) that runs attempts of jobs."""

    region: str

    def capacity(self) -> ClusterCapacity:
        """Total and currently free GPUs.

        Raises:
            ClusterUnavailable: the cluster cannot be reached.
        """
        ...

    def submit(self, job: Job, attempt: int) -> str:
        """Start attempt ``attempt`` of ``job``; return its submission id.

        The submission id is ``f"{job.id}-{attempt}"``. Idempotent: submitting an attempt that
        the cluster already knows returns the same id and starts nothing new.

        Raises:
            ClusterUnavailable: transient; safe to retry with the same attempt.
            ClusterError: the cluster refused the job.
        """
        ...

    def status(self, submission_id: str) -> AttemptStatus | None:
        """State of an attempt, or None if the cluster has never seen that submission id.

        Raises:
            ClusterUnavailable: the cluster cannot be reached.
        """
        ...

    def stop(self, submission_id: str) -> None:
        """Ask the cluster to stop an attempt; stopping a finished attempt is a no-op.

        Raises:
            ClusterUnavailable: the cluster cannot be reached.
        """
        ...

    def logs(self, submission_id: str) -> str:
        """The attempt's output so far (may be truncated by the cluster).

        Raises:
            ClusterUnavailable: the cluster cannot be reached.
        """
        ...


@runtime_checkable
class PowerBackend(Protocol):
    """GPU power management on one node. NVML is the real one; simulated GPUs the fake.

    Invariant: after ``set_power_limit_mw`` returns, ``get_power_limit_mw`` reports the limit
    set (which the setter returns), always within the GPU's constraints, and the device
    enforces it or a lower one (a constraint of its own, e.g. a data-centre cap).
    """

    def gpus(self) -> Sequence[GpuInfo]:
        """Every GPU of the node, by index.

        Raises:
            NvmlNotAvailableError: no driver or GPU.
        """
        ...

    def get_power_limit_mw(self, index: int) -> int:
        """The power limit set on GPU ``index`` in milliwatts (NVML's management limit).

        Raises:
            GpuLostError, PowerNotSupportedError.
        """
        ...

    def set_power_limit_mw(self, index: int, limit_mw: int) -> int:
        """Set the power limit of GPU ``index``; return it, read back, once it is enforced.

        Raises:
            ValueError: ``limit_mw`` outside ``[min_limit_mw, max_limit_mw]``.
            PowerPermissionError, PowerNotSupportedError, GpuLostError.
        """
        ...

    def energy_mj(self, index: int) -> int:
        """Cumulative energy of GPU ``index`` since an arbitrary origin, in millijoules.

        Monotonic non-decreasing while the node is up.

        Raises:
            PowerNotSupportedError: no energy counter (callers integrate ``power_mw``).
            GpuLostError.
        """
        ...

    def power_mw(self, index: int) -> int:
        """Current draw of GPU ``index`` in milliwatts.

        Raises:
            PowerNotSupportedError, GpuLostError.
        """
        ...


@runtime_checkable
class JobStore(Protocol):
    """Durable jobs. Every state change is a compare-and-set on the current state."""

    def submit(self, spec: JobSpec, *, now: datetime) -> Job:
        """Store a new PENDING job and return it once it is durable (committed).

        With an ``idempotency_key`` already stored for the same team, return that job.

        Raises:
            IdempotencyConflictError: the key exists with a different spec.
            StoreError: the store cannot be written.
        """
        ...

    def get(self, job_id: str) -> Job:
        """The job with ``job_id``.

        Raises:
            JobNotFoundError: no such job.
        """
        ...

    def list(
        self,
        *,
        states: Sequence[JobState] = (),
        team: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        submitted_after: datetime | None = None,
    ) -> Sequence[Job]:
        """Jobs filtered by state, team and submission time (strictly after
        ``submitted_after``), oldest submission first."""
        ...

    def transition(
        self, job_id: str, expected: JobState, job: Job, *, attempt: AttemptRecord | None = None
    ) -> Job:
        """Replace the stored job by ``job`` if it is still in state ``expected``.

        ``job`` is the result of ``Job.transition`` on the stored one, so the state machine
        has already been checked. With ``attempt``, that attempt record is written (inserted
        or replaced) in the same transaction: a dispatch intent and its job's move to
        DISPATCHED, or an attempt's end and its job's final state, happen together or not.

        Raises:
            ConcurrentUpdateError: the stored job is no longer in ``expected``.
            JobNotFoundError: no such job.
        """
        ...

    def transition_many(
        self,
        changes: Sequence[tuple[JobState, Job]],
        *,
        attempts: Mapping[str, AttemptRecord] | None = None,
    ) -> Sequence[str]:
        """Apply many guarded transitions (expected state, new job) in one transaction.

        Each is a compare-and-set like ``transition``; those whose job is no longer in the
        expected state (or is gone) are skipped. ``attempts`` (by job id) are written for the
        jobs that moved, as ``transition(..., attempt=)`` does. Returns the skipped job ids.

        Raises:
            StoreError: the store cannot be written (then none was applied).
        """
        ...

    def update_attempt(self, record: AttemptRecord) -> AttemptRecord:
        """Replace an open attempt (same ``job_id`` and ``attempt``) by ``record``.

        Raises:
            ConcurrentUpdateError: the attempt does not exist or has already ended.
        """
        ...

    def update_attempts(self, records: Sequence[AttemptRecord]) -> Sequence[AttemptRecord]:
        """``update_attempt`` for many, in one transaction; returns those not updated
        (unknown or already ended) instead of raising."""
        ...

    def attempts(self, job_id: str) -> Sequence[AttemptRecord]:
        """Every attempt of ``job_id``, oldest first (empty for an unknown job)."""
        ...

    def open_attempts(self) -> Sequence[AttemptRecord]:
        """Every attempt that has not ended yet (intents included), oldest first."""
        ...


@runtime_checkable
class SchedulerLock(Protocol):
    """Exactly one active scheduler per database: held for the scheduler's whole life."""

    @property
    def where(self) -> str:
        """What is locked (a database or lock file), for messages; no secrets."""
        ...

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            SchedulerLockedError: another scheduler holds it (the message says which).
            StoreError: the database cannot be reached.
        """
        ...

    def check(self) -> None:
        """Confirm the lock is still held, taking it again after a lost connection.

        Raises:
            SchedulerLockedError: another scheduler took it meanwhile.
            StoreError: the database cannot be reached.
        """
        ...

    def release(self) -> None:
        """Give the lock back; releasing a lock not held is a no-op."""
        ...


@runtime_checkable
class Ledger(Protocol):
    """The append-only, hash-chained record of finished attempts."""

    def append(self, entry: LedgerEntry) -> int:
        """Append ``entry`` after the current head; return its sequence number (from 1).

        Raises:
            LedgerError: the entry could not be written.
        """
        ...

    def entries(self, *, since: datetime | None = None) -> Iterator[LedgerEntry]:
        """Entries in append order, optionally only those that ended at or after ``since``."""
        ...

    def head(self) -> str:
        """SHA-256 (hex) of the newest entry, or 64 zeros for an empty ledger."""
        ...

    def verify(self, *, expected_head: str | None = None) -> int:
        """Walk the chain; return the number of entries checked.

        With ``expected_head`` (a head printed earlier and kept outside the database), the
        chain must also end there, which catches a rewritten or removed newest entry.

        Raises:
            LedgerIntegrityError: naming the first entry changed, removed or reordered.
        """
        ...


@runtime_checkable
class TokenStore(Protocol):
    """API bearer tokens, kept only as SHA-256 digests; a token is revoked, never deleted."""

    def add(self, token: ApiToken) -> ApiToken:
        """Store a new token record and return it once it is durable.

        Raises:
            StoreError: the id or digest already exists, or the store cannot be written.
        """
        ...

    def find(self, token_sha256: str) -> ApiToken | None:
        """The token (active or revoked) whose digest is ``token_sha256``, or None."""
        ...

    def tokens(self) -> Sequence[ApiToken]:
        """Every token, active and revoked, oldest first."""
        ...

    def revoke(self, token_id: str, *, at: datetime) -> ApiToken:
        """Mark a token revoked at ``at``; revoking a revoked token changes nothing.

        Raises:
            TokenNotFoundError: no token has that id.
        """
        ...

    def any_active(self) -> bool:
        """True when at least one token is not revoked."""
        ...
