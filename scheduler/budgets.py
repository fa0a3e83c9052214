"""Carbon budgets per team: a pure check the planner or the service calls per new job.

Month-to-date emissions are the team's effective ledger entries (corrections applied) that
ended in the current UTC calendar month. Once they pass the team's ``monthly_kg``:

* ``policy: restrict`` → ``Restricted``: place the job only in slots whose intensity (at the
  plug) is below ``max_g_per_kwh``; if no such slot fits before its deadline, reject it;
* ``policy: reject``  → ``OverBudget``: reject with the message, which names the budget and by
  how much it is exceeded.

Teams without a budget are always ``WithinBudget``. Expected outcomes, so values, not errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from scheduler.accounting import effective_entries
from scheduler.model import LedgerEntry, Reject
from scheduler.settings import BudgetSettings


@dataclass(frozen=True, kw_only=True)
class WithinBudget:
    """The team may be planned as usual."""

    kind: Literal["within"] = "within"
    team: str
    used_kg: float
    budget_kg: float | None


@dataclass(frozen=True, kw_only=True)
class Restricted:
    """Plan only in slots below ``max_g_per_kwh``; ``message`` explains why."""

    kind: Literal["restricted"] = "restricted"
    team: str
    used_kg: float
    budget_kg: float
    max_g_per_kwh: float
    message: str


@dataclass(frozen=True, kw_only=True)
class OverBudget:
    """Reject the job with ``message``."""

    kind: Literal["over"] = "over"
    team: str
    used_kg: float
    budget_kg: float
    message: str


BudgetVerdict = WithinBudget | Restricted | OverBudget


def month_start(now: datetime) -> datetime:
    """Midnight UTC on the first day of ``now``'s month."""
    now = now.astimezone(UTC)
    return datetime(now.year, now.month, 1, tzinfo=UTC)


def month_to_date_kg(entries: Iterable[LedgerEntry], team: str, now: datetime) -> float:
    """kg CO2e of ``team``'s runs that ended this month up to ``now``."""
    start = month_start(now)
    grams = sum(
        e.emissions_g
        for e in effective_entries(list(entries))
        if e.team == team and start <= e.ended_at <= now
    )
    return grams / 1000.0


def check_budget(
    team: str, *, entries: Iterable[LedgerEntry], now: datetime, budgets: BudgetSettings
) -> BudgetVerdict:
    """The verdict for a new job of ``team`` at ``now`` (see the module docstring)."""
    budget = budgets.teams.get(team)
    used = month_to_date_kg(entries, team, now)
    if budget is None or used <= budget.monthly_kg:
        limit = None if budget is None else budget.monthly_kg
        return WithinBudget(team=team, used_kg=used, budget_kg=limit)
    over = used - budget.monthly_kg
    month = f"{now.astimezone(UTC):%Y-%m}"
    spent = (
        f"team {team!r} has emitted {used:.1f} kg CO2e in {month}, {over:.1f} kg "
        f"({100 * over / budget.monthly_kg:.0f} %) over its monthly budget of "
        f"{budget.monthly_kg:g} kg (settings: budgets.teams.{team}.monthly_kg)"
    )
    if budgets.policy == "reject":
        return OverBudget(
            team=team,
            used_kg=used,
            budget_kg=budget.monthly_kg,
            message=f"rejected: {spent}; raise the budget or wait for next month",
        )
    return Restricted(
        team=team,
        used_kg=used,
        budget_kg=budget.monthly_kg,
        max_g_per_kwh=budgets.max_g_per_kwh,
        message=f"restricted to windows below {budgets.max_g_per_kwh:g} g/kWh: {spent}",
    )


def rejection(job_id: str, verdict: BudgetVerdict) -> Reject | None:
    """The ``Reject`` decision for an over-budget verdict, or None when the job may be planned."""
    if isinstance(verdict, OverBudget):
        return Reject(job_id=job_id, explanation=verdict.message)
    return None


def restricted_slots(intensity_g_per_kwh: Sequence[float], verdict: BudgetVerdict) -> list[bool]:
    """Which slots a job may use under ``verdict``: all, or those below the ceiling."""
    if isinstance(verdict, Restricted):
        return [value < verdict.max_g_per_kwh for value in intensity_g_per_kwh]
    return [True] * len(intensity_g_per_kwh)
