"""The domain model: frozen, keyword-only value objects with units in their names.

Validation happens here, at the edge: every error names the field, the bad value and the fix.
Two checks need facts from outside the spec and read them from pydantic's validation context:

* ``known_zones`` (a set of zone ids): when given, every zone must be one of them;
* ``now`` (an aware datetime): when given and ``earliest_start`` is absent, the deadline must
  leave room for the estimated duration from ``now``.

Example::

    JobSpec.model_validate(payload, context={"known_zones": {"DE", "FR"}, "now": clock.now()})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from scheduler.errors import IllegalTransitionError

#: Power caps outside this range are almost certainly a unit mistake (mW or kW for W).
POWER_CAP_RANGE_W = (50.0, 1000.0)
#: The example shown whenever a datetime lacks a timezone.
DATETIME_EXAMPLE = "2026-11-28T08:00:00Z"


class Frozen(BaseModel):
    """Base of every value object: immutable, keyword-only, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def ensure_utc(value: datetime, field: str) -> datetime:
    """Return ``value`` in UTC, or raise ``ValueError`` if it carries no timezone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{field} must include a timezone, e.g. {DATETIME_EXAMPLE} "
            f"(got {value.isoformat()} without one)"
        )
    return value.astimezone(UTC)


def _aware(value: datetime, info: ValidationInfo) -> datetime:
    return ensure_utc(value, info.field_name or "datetime")


#: A datetime that must carry a timezone; it is normalised to UTC.
UtcDatetime = Annotated[datetime, AfterValidator(_aware)]


# --------------------------------------------------------------------------------------------
# Jobs


#: What the per-job runner does when a job reaches its energy cap (see ``JobSpec``).
EnergyCapPolicy = Literal["stop", "throttle", "notify"]


class JobSpec(Frozen):
    """What a user submits: a deferrable GPU job with a deadline.

    The field names are public: the REST API and the CLI expose them unchanged.
    """

    name: str = Field(min_length=1, max_length=200)
    entrypoint: tuple[str, ...] = Field(description="argv; never interpreted by a shell")
    gpus: int = Field(description="GPUs the job holds while it runs")
    estimated_duration_s: int = Field(description="expected run time at the default power limit")
    earliest_start: UtcDatetime | None = None
    deadline: UtcDatetime
    zones: tuple[str, ...] = Field(default=(), description="allowed grid zones; empty = default")
    interruptible: bool = False
    power_cap_w: float | None = Field(default=None, description="per-GPU power limit, watts")
    energy_cap_kwh: float | None = Field(default=None, description="energy budget for the job")
    energy_cap_policy: EnergyCapPolicy = Field(
        default="stop",
        description=(
            "what happens when the job reaches energy_cap_kwh: 'stop' terminates it (CAPPED), "
            "'throttle' lowers the power limit so the budget lasts, then stops; 'notify' records"
        ),
    )
    team: str = Field(default="default", min_length=1, max_length=100)
    project: str = Field(default="default", min_length=1, max_length=100)
    model_version: str = Field(default="", max_length=100)
    labels: Mapping[str, str] = Field(default_factory=dict)
    idempotency_key: str | None = Field(default=None, max_length=200)

    @field_validator("entrypoint")
    @classmethod
    def _entrypoint_not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or not value[0].strip():
            raise ValueError(
                f"entrypoint must name a program to run, e.g. ['python', 'train.py'] "
                f"(got {list(value)!r})"
            )
        return value

    @field_validator("gpus", "estimated_duration_s")
    @classmethod
    def _positive_int(cls, value: int, info: ValidationInfo) -> int:
        if value <= 0:
            raise ValueError(f"{info.field_name} must be at least 1 (got {value})")
        return value

    @field_validator("power_cap_w")
    @classmethod
    def _power_cap_in_range(cls, value: float | None) -> float | None:
        low, high = POWER_CAP_RANGE_W
        if value is not None and not low <= value <= high:
            raise ValueError(
                f"power_cap_w must be between {low:g} and {high:g} W per GPU (got {value:g}); "
                "give watts, e.g. 250"
            )
        return value

    @field_validator("energy_cap_kwh")
    @classmethod
    def _energy_cap_positive(cls, value: float | None) -> float | None:
        if value is not None and not value > 0:
            raise ValueError(f"energy_cap_kwh must be greater than 0 kWh (got {value:g})")
        return value

    @field_validator("zones")
    @classmethod
    def _zones_known(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        known = (info.context or {}).get("known_zones")
        if len(set(value)) != len(value):
            raise ValueError(f"zones must not repeat a zone (got {list(value)})")
        if known:
            unknown = [zone for zone in value if zone not in known]
            if unknown:
                raise ValueError(f"unknown zone(s) {unknown}; configured zones are {sorted(known)}")
        return value

    @model_validator(mode="after")
    def _deadline_feasible(self, info: ValidationInfo) -> JobSpec:
        now = (info.context or {}).get("now")
        start = self.earliest_start or now
        if start is None:
            return self
        earliest_end = start + timedelta(seconds=self.estimated_duration_s)
        if self.deadline < earliest_end:
            origin = "earliest_start" if self.earliest_start else "now"
            raise ValueError(
                f"deadline {self.deadline.isoformat()} is before {origin} "
                f"{start.isoformat()} + estimated_duration_s {self.estimated_duration_s} "
                f"(= {earliest_end.isoformat()}); move the deadline to at least that time "
                "or shorten the job"
            )
        return self

    def latest_safe_start(self, safety_margin: float) -> datetime:
        """The last start that still meets the deadline with ``safety_margin`` of slack."""
        padded_s = self.estimated_duration_s * (1.0 + safety_margin)
        return self.deadline - timedelta(seconds=padded_s)


class JobState(StrEnum):
    """Where a job is in its life; see ``TRANSITIONS`` for the allowed moves."""

    PENDING = "PENDING"
    DEFERRED = "DEFERRED"
    DISPATCHED = "DISPATCHED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    CAPPED = "CAPPED"
    EXPIRED = "EXPIRED"

    @property
    def terminal(self) -> bool:
        """True for states a job never leaves."""
        return not TRANSITIONS[self]


_S = JobState
#: The job state machine. PENDING → DEFERRED → DISPATCHED → RUNNING → a terminal state.
#: DISPATCHED/RUNNING may return to PENDING when infrastructure fails (a new attempt follows);
#: a fast job may finish between two polls, so DISPATCHED may go straight to a final state.
TRANSITIONS: Mapping[JobState, frozenset[JobState]] = {
    _S.PENDING: frozenset({_S.DEFERRED, _S.DISPATCHED, _S.CANCELLED, _S.EXPIRED}),
    _S.DEFERRED: frozenset({_S.PENDING, _S.DISPATCHED, _S.CANCELLED, _S.EXPIRED}),
    _S.DISPATCHED: frozenset(
        {_S.RUNNING, _S.PENDING, _S.SUCCEEDED, _S.FAILED, _S.CANCELLED, _S.CAPPED}
    ),
    _S.RUNNING: frozenset({_S.SUCCEEDED, _S.FAILED, _S.CANCELLED, _S.CAPPED, _S.PENDING}),
    _S.SUCCEEDED: frozenset(),
    _S.FAILED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.CAPPED: frozenset(),
    _S.EXPIRED: frozenset(),
}


class Job(Frozen):
    """A submitted job: its spec plus where it is in the state machine."""

    id: str = Field(min_length=1)
    spec: JobSpec
    state: JobState = JobState.PENDING
    attempt: int = Field(default=0, ge=0, description="dispatch attempts so far")
    submitted_at: UtcDatetime
    updated_at: UtcDatetime

    def transition(self, to: JobState, *, at: datetime, **changes: Any) -> Job:
        """Return this job moved to ``to``; raise ``IllegalTransitionError`` if not allowed."""
        if to not in TRANSITIONS[self.state]:
            allowed = ", ".join(sorted(TRANSITIONS[self.state])) or "none, the state is final"
            raise IllegalTransitionError(
                f"job {self.id} cannot move from {self.state} to {to}; "
                f"allowed from {self.state}: {allowed}"
            )
        return self.model_copy(update={"state": to, "updated_at": ensure_utc(at, "at"), **changes})


# --------------------------------------------------------------------------------------------
# Regions and the carbon signal


class Region(Frozen):
    """A place jobs run: one cluster, in one grid zone."""

    name: str = Field(min_length=1)
    zone: str = Field(min_length=1)
    gpus: int = Field(ge=0, description="GPUs available to carbonshift at every instant")
    pue: float = Field(default=1.0, ge=1.0, description="power usage effectiveness")
    cluster_address: str | None = None


SignalType = Literal["average", "marginal"]


class ForecastProvenance(Frozen):
    """Where a series of intensities came from; kept by the planner and the ledger."""

    provider: str
    zone: str
    signal: SignalType = "average"
    generated_at: UtcDatetime
    fetched_at: UtcDatetime
    horizon_s: int = Field(ge=0, description="how far past generated_at the series reaches")
    fallback: bool = False
    # Added by the carbon-signal slice (optional, so older payloads still validate).
    stale: bool = Field(default=False, description="served from cache after its TTL")
    notes: tuple[str, ...] = Field(
        default=(), description="validation flags and fill-ins, e.g. 'constant series'"
    )


class ProviderStatus(Frozen):
    """How one configured carbon-signal provider has been doing (for ``forecast providers``)."""

    provider: str
    last_success_at: UtcDatetime | None = None
    last_error: str = ""
    last_error_at: UtcDatetime | None = None
    requests_used: int = Field(default=0, ge=0, description="requests in the budget window")


class IntensityPoint(Frozen):
    """One step of a carbon-intensity series; the value holds until the next step."""

    start: UtcDatetime
    g_per_kwh: float = Field(ge=0)
    lower_g_per_kwh: float | None = Field(default=None, ge=0)
    upper_g_per_kwh: float | None = Field(default=None, ge=0)


class Forecast(Frozen):
    """A validated intensity series for one zone on a uniform step, with provenance."""

    zone: str
    step_s: int = Field(gt=0)
    points: tuple[IntensityPoint, ...]
    provenance: ForecastProvenance

    @model_validator(mode="after")
    def _uniform_step(self) -> Forecast:
        step = timedelta(seconds=self.step_s)
        for before, after in zip(self.points, self.points[1:], strict=False):
            if after.start - before.start != step:
                raise ValueError(
                    f"forecast for {self.zone} must advance by exactly {self.step_s} s; "
                    f"{before.start.isoformat()} is followed by {after.start.isoformat()}"
                )
        return self

    @property
    def start(self) -> datetime | None:
        """Start of the first step, or None for an empty series."""
        return self.points[0].start if self.points else None

    @property
    def end(self) -> datetime | None:
        """End of the last step, or None for an empty series."""
        return self.points[-1].start + timedelta(seconds=self.step_s) if self.points else None


# --------------------------------------------------------------------------------------------
# Clusters and GPUs


class AttemptState(StrEnum):
    """State of one dispatch attempt as its cluster reports it (Ray's job states)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"


class AttemptStatus(Frozen):
    """What a cluster says about one attempt."""

    submission_id: str
    state: AttemptState
    message: str = ""
    started_at: UtcDatetime | None = None
    ended_at: UtcDatetime | None = None
    exit_code: int | None = Field(default=None, description="the entrypoint's, once it ended")
    infrastructure_failure: bool = Field(
        default=False,
        description="FAILED because of the cluster (supervisor died, lost node), not the job",
    )
    energy_capped: bool = Field(
        default=False,
        description="the per-job runner stopped the job at its energy cap (the job is CAPPED)",
    )


class AttemptRecord(Frozen):
    """One dispatch attempt as the job store keeps it (the service's durable memory).

    The row is written as a *dispatch intent* (``submitted=False``) before the cluster is
    called; ``submitted`` becomes true once the cluster acknowledged the submission id. After
    a crash, an intent is looked up on its cluster by ``submission_id`` before anything is
    resubmitted. ``ended_at`` is set once the attempt reached a final state.
    """

    job_id: str
    attempt: int = Field(ge=1)
    region: str
    submission_id: str
    submitted: bool = False
    state: AttemptState = AttemptState.PENDING
    message: str = ""
    intent_at: UtcDatetime
    submitted_at: UtcDatetime | None = None
    started_at: UtcDatetime | None = None
    ended_at: UtcDatetime | None = None
    power_cap_w: float | None = None
    explanation: str = ""

    @property
    def open(self) -> bool:
        """True until the attempt reached a final state."""
        return self.ended_at is None


class ClusterCapacity(Frozen):
    """GPUs of one cluster right now."""

    total_gpus: int = Field(ge=0)
    free_gpus: int = Field(ge=0)


class GpuInfo(Frozen):
    """One physical GPU and its power-limit constraints, in milliwatts."""

    index: int = Field(ge=0)
    uuid: str
    name: str = ""
    min_limit_mw: int = Field(gt=0)
    max_limit_mw: int = Field(gt=0)
    default_limit_mw: int = Field(gt=0)


# --------------------------------------------------------------------------------------------
# Decisions: expected outcomes of planning are values, never exceptions


class Start(Frozen):
    """Dispatch now."""

    kind: Literal["start"] = "start"
    job_id: str
    region: str
    power_cap_w: float | None = None
    expected_emissions_g: float | None = None
    expected_saving_pct: float | None = None
    explanation: str


class Wait(Frozen):
    """Hold the job until ``until``, when it is planned to start in ``region``."""

    kind: Literal["wait"] = "wait"
    job_id: str
    until: UtcDatetime
    region: str
    expected_saving_pct: float | None = None
    explanation: str


class Reject(Frozen):
    """The job cannot be run as asked (its deadline can no longer be met, say)."""

    kind: Literal["reject"] = "reject"
    job_id: str
    explanation: str


Decision = Annotated[Start | Wait | Reject, Field(discriminator="kind")]


# --------------------------------------------------------------------------------------------
# The ledger


EnergySource = Literal["nvml_counter", "integrated_samples", "simulated", "estimated"]


class EnergySegment(Frozen):
    """One contiguous run of an attempt and the energy it drew (an interruptible job has many)."""

    start: UtcDatetime
    end: UtcDatetime
    energy_mj: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> EnergySegment:
        if self.end < self.start:
            raise ValueError(
                f"segment end {self.end.isoformat()} is before its start "
                f"{self.start.isoformat()}; give start <= end"
            )
        return self


#: The prefix of the per-job runner's energy report, the last line of a metered job's output.
ENERGY_REPORT_PREFIX = "CARBONSHIFT_ENERGY "


class MeasuredEnergy(BaseModel):
    """What the per-job runner measured for one attempt (``plugins.power.runner`` writes it).

    Read from the job's output with ``from_logs``; fields the runner adds later are ignored.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    job_id: str
    attempt: int = Field(ge=0)
    energy_mj: int = Field(ge=0)
    energy_source: EnergySource
    final_state: Literal["SUCCEEDED", "FAILED", "CAPPED"]
    energy_cap_outcome: Literal["none", "within", "stopped", "throttled", "notified"] = "none"
    power_cap_w: float | None = None
    lowest_limit_w: float | None = None

    @classmethod
    def from_logs(cls, logs: str) -> MeasuredEnergy | None:
        """The last energy report in ``logs``, or None when there is none (or it is garbled)."""
        for line in reversed(logs.splitlines()):
            if line.startswith(ENERGY_REPORT_PREFIX):
                try:
                    return cls.model_validate_json(line.removeprefix(ENERGY_REPORT_PREFIX))
                except ValueError:
                    return None
        return None


class LedgerEntry(Frozen):
    """One finished attempt (or a correction of an earlier entry); never changed once written.

    The hash-chain fields are filled by the ledger when the entry is appended.
    """

    job_id: str
    attempt: int = Field(ge=0)
    team: str
    project: str
    model_version: str
    labels: Mapping[str, str] = Field(default_factory=dict)
    region: str
    zone: str
    cluster: str
    submitted_at: UtcDatetime
    planned_start: UtcDatetime | None
    started_at: UtcDatetime
    ended_at: UtcDatetime
    final_state: JobState
    gpus: int = Field(ge=1)
    power_cap_w: float | None
    energy_mj: int = Field(ge=0)
    energy_source: EnergySource
    intensity_g_per_kwh: float = Field(ge=0, description="realised average over the run")
    intensity_provenance: ForecastProvenance | None
    emissions_g: float = Field(ge=0)
    counterfactual_emissions_g: float = Field(ge=0, description="run at submission, home zone")
    forecast_intensity_g_per_kwh: float | None = Field(default=None, ge=0)
    decision_explanation: str = ""
    energy_cap_outcome: Literal["none", "within", "stopped", "throttled", "notified"] = "none"
    carbonshift_version: str
    corrects_entry: int | None = Field(default=None, description="sequence of the corrected one")
    # Added by the ledger slice (all optional, so older payloads still validate).
    deadline: UtcDatetime | None = None
    home_zone: str | None = Field(default=None, description="zone of the counterfactual run")
    intensity_basis: Literal["realised", "forecast"] = Field(
        default="realised", description="'forecast' until realised history arrives"
    )
    counterfactual_intensity_g_per_kwh: float | None = Field(default=None, ge=0)
    forecast_provenance: ForecastProvenance | None = None
    correction_reason: str = ""
    segments: tuple[EnergySegment, ...] = Field(
        default=(), description="the run's pieces; empty = one piece started_at..ended_at"
    )
    pue: float = Field(default=1.0, ge=1.0, description="PUE of the region it ran in")
    home_pue: float = Field(default=1.0, ge=1.0, description="PUE of the counterfactual region")
    sequence: int | None = Field(default=None, ge=1, description="set by the ledger on append")
    prev_hash: str | None = Field(default=None, description="SHA-256 of the previous entry")
    entry_hash: str | None = Field(default=None, description="SHA-256 of this entry")

    @property
    def forecast_error_g_per_kwh(self) -> float | None:
        """Realised minus forecast intensity (positive: dirtier than the decision expected)."""
        if self.forecast_intensity_g_per_kwh is None:
            return None
        return self.intensity_g_per_kwh - self.forecast_intensity_g_per_kwh

    @property
    def deferral_s(self) -> float:
        """Seconds between submission and the start of this attempt."""
        return (self.started_at - self.submitted_at).total_seconds()

    @property
    def missed_deadline(self) -> bool:
        """True when the attempt ended after the job's deadline (False when none is known)."""
        return self.deadline is not None and self.ended_at > self.deadline

    @property
    def savings_g(self) -> float:
        """Grams CO2e saved against the counterfactual (negative when it cost more)."""
        return self.counterfactual_emissions_g - self.emissions_g

    @property
    def savings_pct(self) -> float | None:
        """Savings as a percentage of the counterfactual; None when that is zero."""
        if self.counterfactual_emissions_g == 0:
            return None
        return 100.0 * self.savings_g / self.counterfactual_emissions_g


# --------------------------------------------------------------------------------------------
# API access: bearer tokens, stored only as their SHA-256


class ApiRole(StrEnum):
    """What a token may do: read, also submit and change its team's jobs, or everything."""

    VIEWER = "viewer"
    SUBMITTER = "submitter"
    ADMIN = "admin"


class ApiToken(Frozen):
    """One API token as stored: never the secret itself, only its SHA-256 (hex)."""

    id: str = Field(min_length=1, max_length=64)
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    team: str = Field(min_length=1, max_length=100)
    role: ApiRole
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None = None

    @property
    def active(self) -> bool:
        """True until the token is revoked."""
        return self.revoked_at is None


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class IntensityTrace:
    """A zone's realised intensity as a step function (simulation, trace replay, demo grid).

    Value ``i`` holds from ``start_s[i]`` until ``start_s[i + 1]`` (the last one until
    ``end_s``). Times are integer UTC epoch seconds; the arrays are read-only.
    """

    zone: str
    start_s: npt.NDArray[np.int64]
    g_per_kwh: npt.NDArray[np.float64]
    end_s: int

    def __post_init__(self) -> None:
        if len(self.start_s) == 0 or len(self.start_s) != len(self.g_per_kwh):
            raise ValueError(
                f"trace for {self.zone} needs equally many times and values, at least one "
                f"(got {len(self.start_s)} times, {len(self.g_per_kwh)} values)"
            )
        if np.any(np.diff(self.start_s) <= 0) or self.end_s <= int(self.start_s[-1]):
            raise ValueError(f"trace for {self.zone}: times must strictly increase")
        if not np.all(np.isfinite(self.g_per_kwh)) or np.any(self.g_per_kwh < 0):
            raise ValueError(f"trace for {self.zone}: intensities must be finite and ≥ 0")
        self.start_s.setflags(write=False)
        self.g_per_kwh.setflags(write=False)

    @property
    def start(self) -> datetime:
        """When the first value starts to hold."""
        return datetime.fromtimestamp(int(self.start_s[0]), tz=UTC)

    @property
    def end(self) -> datetime:
        """When the last value stops holding."""
        return datetime.fromtimestamp(self.end_s, tz=UTC)


@dataclass(frozen=True, kw_only=True, slots=True)
class IntervalForecast:
    """A point forecast with a central prediction interval, in g/kWh, one value per step.

    ``level`` is the nominal coverage of ``[lower, upper]`` (0.8: 80 % of outcomes inside).
    """

    mean_g_per_kwh: tuple[float, ...]
    lower_g_per_kwh: tuple[float, ...]
    upper_g_per_kwh: tuple[float, ...]
    level: float


__all__ = [
    "DATETIME_EXAMPLE",
    "ENERGY_REPORT_PREFIX",
    "POWER_CAP_RANGE_W",
    "TRANSITIONS",
    "ApiRole",
    "ApiToken",
    "AttemptRecord",
    "AttemptState",
    "AttemptStatus",
    "ClusterCapacity",
    "Decision",
    "EnergyCapPolicy",
    "EnergySegment",
    "EnergySource",
    "Forecast",
    "ForecastProvenance",
    "Frozen",
    "GpuInfo",
    "IntensityPoint",
    "IntensityTrace",
    "IntervalForecast",
    "Job",
    "JobSpec",
    "JobState",
    "LedgerEntry",
    "MeasuredEnergy",
    "ProviderStatus",
    "Region",
    "Reject",
    "SignalType",
    "Start",
    "UtcDatetime",
    "Wait",
    "ensure_utc",
]
