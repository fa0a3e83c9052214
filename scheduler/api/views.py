"""What the API answers: the job as a user sees it, pages, and the error body (for OpenAPI)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from scheduler.accounting import MJ_PER_KWH
from scheduler.model import (
    AttemptRecord,
    Decision,
    Job,
    JobSpec,
    JobState,
    LedgerEntry,
    Start,
    Wait,
)


class View(BaseModel):
    """Base of every answer: frozen; unknown fields are never produced."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ErrorDetail(View):
    """What went wrong: a stable code, a message naming the bad value, the field if any."""

    code: str
    message: str
    field: str | None = None


class ErrorBody(View):
    """Every error answer."""

    error: ErrorDetail


class Realised(View):
    """What a finished job really used and emitted, from the ledger (all its attempts)."""

    energy_kwh: float
    emissions_g: float
    counterfactual_emissions_g: float
    savings_g: float
    savings_pct: float | None
    attempts_accounted: int


class JobView(View):
    """A job: its spec, state, attempts, current decision and, once finished, the outcome."""

    id: str
    state: JobState
    attempt: int
    submitted_at: datetime
    updated_at: datetime
    spec: JobSpec
    decision: Decision | None = None
    explanation: str | None = Field(default=None, description="the decision's one line")
    planned_region: str | None = None
    planned_start: datetime | None = None
    expected_saving_pct: float | None = None
    attempts: list[AttemptRecord] | None = Field(
        default=None, description="dispatch attempts; only in single-job answers"
    )
    realised: Realised | None = None


class JobPage(View):
    """One page of jobs, oldest submission first."""

    items: list[JobView]
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last")


class Caps(View):
    """New caps for a pending or running job.

    A field left out keeps its value; a field sent as ``null`` removes that cap.
    """

    power_cap_w: float | None = Field(default=None, description="per-GPU power limit, watts")
    energy_cap_kwh: float | None = Field(default=None, description="energy budget, kWh")


def realised_of(entries: Sequence[LedgerEntry]) -> Realised | None:
    """Sum of a job's effective ledger entries; None when nothing was accounted yet."""
    if not entries:
        return None
    emissions_g = sum(e.emissions_g for e in entries)
    counterfactual_g = sum(e.counterfactual_emissions_g for e in entries)
    savings_g = counterfactual_g - emissions_g
    return Realised(
        energy_kwh=sum(e.energy_mj for e in entries) / MJ_PER_KWH,
        emissions_g=emissions_g,
        counterfactual_emissions_g=counterfactual_g,
        savings_g=savings_g,
        savings_pct=100.0 * savings_g / counterfactual_g if counterfactual_g else None,
        attempts_accounted=len(entries),
    )


def job_view(
    job: Job,
    decision: Decision | None,
    *,
    attempts: Sequence[AttemptRecord] | None = None,
    entries: Sequence[LedgerEntry] = (),
) -> JobView:
    """The API's view of ``job``."""
    planned_region: str | None = None
    planned_start: datetime | None = None
    saving: float | None = None
    if isinstance(decision, Start):
        planned_region, saving = decision.region, decision.expected_saving_pct
    elif isinstance(decision, Wait):
        planned_region, planned_start = decision.region, decision.until
        saving = decision.expected_saving_pct
    if isinstance(decision, Start) and job.state in (JobState.PENDING, JobState.DEFERRED):
        planned_start = job.updated_at
    return JobView(
        id=job.id,
        state=job.state,
        attempt=job.attempt,
        submitted_at=job.submitted_at,
        updated_at=job.updated_at,
        spec=job.spec,
        decision=decision,
        explanation=None if decision is None else decision.explanation,
        planned_region=planned_region,
        planned_start=planned_start,
        expected_saving_pct=saving,
        attempts=None if attempts is None else list(attempts),
        realised=realised_of(entries),
    )


__all__ = [
    "Caps",
    "ErrorBody",
    "ErrorDetail",
    "JobPage",
    "JobView",
    "Realised",
    "job_view",
    "realised_of",
]
