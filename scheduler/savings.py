"""Savings reports: ledger entries grouped by team, project, model version, region or month.

Pure functions over ``LedgerEntry`` values; the CLI and the REST API both call ``summarize``.
Corrected entries are replaced by their latest correction before anything is added up, so a
report always reflects realised intensities where they are known.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

from scheduler.accounting import MJ_PER_KWH, effective_entries
from scheduler.model import LedgerEntry

GroupBy = Literal["team", "project", "model_version", "region", "month"]
GROUP_BY_CHOICES: tuple[str, ...] = get_args(GroupBy)

_KEYS: dict[str, Callable[[LedgerEntry], str]] = {
    "team": lambda e: e.team,
    "project": lambda e: e.project,
    "model_version": lambda e: e.model_version or "(none)",
    "region": lambda e: e.region,
    "month": lambda e: e.ended_at.strftime("%Y-%m"),
}


class SavingsRow(BaseModel):
    """One group of a savings report; ``saved_pct`` is None when nothing was at stake."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    jobs: int
    attempts: int
    energy_kwh: float
    emissions_kg: float
    counterfactual_kg: float
    saved_kg: float
    saved_pct: float | None
    mean_deferral_h: float
    deadline_misses: int


def _row(key: str, entries: list[LedgerEntry]) -> SavingsRow:
    emissions = sum(e.emissions_g for e in entries) / 1000.0
    counterfactual = sum(e.counterfactual_emissions_g for e in entries) / 1000.0
    first_start: dict[str, LedgerEntry] = {}
    missed: set[str] = set()
    for e in entries:
        if e.job_id not in first_start or e.started_at < first_start[e.job_id].started_at:
            first_start[e.job_id] = e
        if e.missed_deadline:
            missed.add(e.job_id)
    deferrals_h = [e.deferral_s / 3600.0 for e in first_start.values()]
    return SavingsRow(
        key=key,
        jobs=len(first_start),
        attempts=len(entries),
        energy_kwh=sum(e.energy_mj for e in entries) / MJ_PER_KWH,
        emissions_kg=emissions,
        counterfactual_kg=counterfactual,
        saved_kg=counterfactual - emissions,
        saved_pct=100.0 * (counterfactual - emissions) / counterfactual if counterfactual else None,
        mean_deferral_h=sum(deferrals_h) / len(deferrals_h),
        deadline_misses=len(missed),
    )


def in_window(entry: LedgerEntry, since: datetime | None, until: datetime | None) -> bool:
    """True when ``entry`` ended in ``[since, until)`` (either bound may be open)."""
    return (since is None or entry.ended_at >= since) and (until is None or entry.ended_at < until)


def summarize(
    entries: Iterable[LedgerEntry],
    *,
    by: GroupBy,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[SavingsRow]:
    """One row per group (sorted by key), over entries that ended in ``[since, until)``.

    Raises:
        ValueError: ``by`` is not one of ``GROUP_BY_CHOICES``.
    """
    if by not in _KEYS:
        raise ValueError(f"cannot group savings by {by!r}; choose one of {GROUP_BY_CHOICES}")
    groups: dict[str, list[LedgerEntry]] = {}
    for entry in effective_entries(list(entries)):
        if in_window(entry, since, until):
            groups.setdefault(_KEYS[by](entry), []).append(entry)
    return [_row(key, groups[key]) for key in sorted(groups)]


def total(rows: Iterable[SavingsRow]) -> SavingsRow:
    """The rows added up (a job whose attempts fall into two groups counts in both)."""
    rows = list(rows)
    emissions = sum(r.emissions_kg for r in rows)
    counterfactual = sum(r.counterfactual_kg for r in rows)
    jobs = sum(r.jobs for r in rows)
    return SavingsRow(
        key="total",
        jobs=jobs,
        attempts=sum(r.attempts for r in rows),
        energy_kwh=sum(r.energy_kwh for r in rows),
        emissions_kg=emissions,
        counterfactual_kg=counterfactual,
        saved_kg=counterfactual - emissions,
        saved_pct=100.0 * (counterfactual - emissions) / counterfactual if counterfactual else None,
        mean_deferral_h=sum(r.mean_deferral_h * r.jobs for r in rows) / jobs if jobs else 0.0,
        deadline_misses=sum(r.deadline_misses for r in rows),
    )
