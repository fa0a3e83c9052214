"""Carbon budgets per team: within, restricted or rejected, with a message naming the budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.budgets import (
    OverBudget,
    Restricted,
    WithinBudget,
    check_budget,
    month_to_date_kg,
    rejection,
    restricted_slots,
)
from scheduler.model import LedgerEntry
from scheduler.settings import BudgetSettings, TeamBudget
from tests.scheduler.ledger_factories import T0, entry

# factory entries: 1 kWh run at hour 0 on a 400 g/kWh grid = 0.4 kg each, ended 2026-11-01
NOW = T0 + timedelta(days=3)


def _entries(count: int, team: str = "nlp") -> list[LedgerEntry]:
    return [entry(job_id=f"{team}-{i}", team=team, deferral_h=0) for i in range(count)]


def test_team_without_budget_is_within() -> None:
    """No budget configured: always within."""
    verdict = check_budget("cv", entries=_entries(5, "cv"), now=NOW, budgets=BudgetSettings())
    assert verdict == WithinBudget(team="cv", used_kg=pytest.approx(2.0), budget_kg=None)


def test_spent_budget_restricts_to_clean_windows() -> None:
    """1.2 kg used of a 1 kg budget: restricted below 150 g/kWh, message says by how much."""
    budgets = BudgetSettings(teams={"nlp": TeamBudget(monthly_kg=1.0)}, max_g_per_kwh=150)
    verdict = check_budget("nlp", entries=_entries(3), now=NOW, budgets=budgets)
    assert isinstance(verdict, Restricted)
    assert verdict.max_g_per_kwh == 150
    assert "0.2 kg (20 %) over its monthly budget of 1 kg" in verdict.message
    assert "budgets.teams.nlp.monthly_kg" in verdict.message


def test_reject_policy_rejects_and_other_teams_are_unaffected() -> None:
    """Under 'reject' the spent team is refused; another team's usage does not count."""
    budgets = BudgetSettings(teams={"nlp": TeamBudget(monthly_kg=1.0)}, policy="reject")
    entries = _entries(3) + _entries(10, "cv")
    verdict = check_budget("nlp", entries=entries, now=NOW, budgets=budgets)
    assert isinstance(verdict, OverBudget)
    assert verdict.message.startswith("rejected: team 'nlp' has emitted 1.2 kg CO2e in 2026-11")
    within = check_budget("nlp", entries=_entries(2), now=NOW, budgets=budgets)
    assert isinstance(within, WithinBudget)


def test_only_this_month_counts() -> None:
    """Entries of last month do not count towards this month's budget."""
    next_month = datetime(2026, 12, 2, tzinfo=UTC)
    assert month_to_date_kg(_entries(3), "nlp", next_month) == 0.0
    assert month_to_date_kg(_entries(3), "nlp", NOW) == pytest.approx(1.2)


def test_budget_settings_from_yaml_shape() -> None:
    """The settings section reads the documented shape and rejects a bad policy."""
    parsed = BudgetSettings.model_validate(
        {"teams": {"nlp": {"monthly_kg": 500}}, "policy": "reject", "max_g_per_kwh": 200}
    )
    assert parsed.teams["nlp"].monthly_kg == 500
    with pytest.raises(ValueError, match="policy"):
        BudgetSettings.model_validate({"policy": "shout"})


def test_verdicts_turn_into_decisions_and_slot_masks() -> None:
    """Over budget → a Reject carrying the message; restricted → only slots below the ceiling."""
    budgets = BudgetSettings(teams={"nlp": TeamBudget(monthly_kg=1.0)}, max_g_per_kwh=150)
    restricted = check_budget("nlp", entries=_entries(3), now=NOW, budgets=budgets)
    assert rejection("job-9", restricted) is None
    assert restricted_slots([100.0, 150.0, 90.0], restricted) == [True, False, True]
    over = check_budget(
        "nlp", entries=_entries(3), now=NOW, budgets=budgets.model_copy(update={"policy": "reject"})
    )
    decision = rejection("job-9", over)
    assert decision is not None
    assert decision.job_id == "job-9"
    assert "over its monthly budget of 1 kg" in decision.explanation
