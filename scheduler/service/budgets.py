"""Team carbon budgets as the service sees them: one verdict per team per tick.

``LedgerBudgets`` reads the ledger's entries of the current month once per tick (only when
some waiting job's team has a budget) and asks ``scheduler.budgets.check_budget`` for each
team; ``decide`` then rejects (``policy: reject``) or restricts (``policy: restrict``) that
team's waiting jobs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

from scheduler.budgets import BudgetVerdict, WithinBudget, check_budget, month_start
from scheduler.protocols import Ledger
from scheduler.settings import BudgetSettings


class BudgetSource(Protocol):
    """Budget verdicts for the teams of this tick's waiting jobs."""

    def verdicts(self, teams: Iterable[str], now: datetime) -> Mapping[str, BudgetVerdict]:
        """One verdict per team at ``now``."""
        ...


class LedgerBudgets:
    """Verdicts from the ledger's month-to-date entries and the ``budgets`` settings."""

    def __init__(self, *, ledger: Ledger, settings: BudgetSettings) -> None:
        self._ledger = ledger
        self._settings = settings

    def verdicts(self, teams: Iterable[str], now: datetime) -> dict[str, BudgetVerdict]:
        """Read the month's entries once, then check every team (no budget: within)."""
        teams = set(teams)
        budgeted = {team for team in teams if team in self._settings.teams}
        found: dict[str, BudgetVerdict] = {
            team: WithinBudget(team=team, used_kg=0.0, budget_kg=None) for team in teams - budgeted
        }
        if budgeted:
            entries = list(self._ledger.entries(since=month_start(now)))
            for team in budgeted:
                found[team] = check_budget(team, entries=entries, now=now, budgets=self._settings)
        return found
