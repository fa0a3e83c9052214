"""Team carbon budgets in the service: over-budget teams are rejected or restricted.

The ledger is the shipped in-memory one; month-to-date emissions come from real entries.
"""

from __future__ import annotations

from datetime import timedelta

from forecasts.static import StaticProvider
from plugins.clusters.scripted import ScriptedCluster
from plugins.ledgers.memory import MemoryLedger
from plugins.stores.memory import InMemoryJobStore
from scheduler.budgets import Restricted
from scheduler.clock import FakeClock
from scheduler.model import ClusterCapacity, Decision, JobState, Region, Reject, Start, Wait
from scheduler.planning.carbonshift import CarbonshiftPolicy
from scheduler.service.budgets import LedgerBudgets
from scheduler.service.loop import SchedulerService, ServiceConfig
from scheduler.service.planning import PlanningConfig, decide
from scheduler.settings import BudgetSettings, TeamBudget
from tests.scheduler.ledger_factories import entry, series
from tests.scheduler.service.helpers import spec


def budget_service(
    clock: FakeClock, budgets: BudgetSettings, ledger: MemoryLedger
) -> tuple[SchedulerService, InMemoryJobStore, list[Decision]]:
    """A service on a flat 300 g/kWh signal whose budgets read ``ledger``."""
    store, seen = InMemoryJobStore(), list[Decision]()
    svc = SchedulerService(
        store=store,
        clusters={"local": ScriptedCluster(region="local", clock=clock)},
        regions=[Region(name="local", zone="DE", gpus=8)],
        forecasts=StaticProvider({"DE": 300.0}, clock=clock),
        policy=CarbonshiftPolicy(),
        clock=clock,
        config=ServiceConfig(planning=PlanningConfig(slot_s=900, horizon_s=24 * 3600)),
        on_decision=[seen.append],
        budgets=LedgerBudgets(ledger=ledger, settings=budgets),
    )
    return svc, store, seen


def spent_ledger() -> MemoryLedger:
    """Team nlp emitted 2 kg this month (10 kWh at 200 g/kWh), team cv nothing."""
    ledger = MemoryLedger()
    ledger.append(entry(team="nlp", energy_kwh=10.0))
    return ledger


def test_over_budget_team_is_rejected_with_the_budgets_message(clock: FakeClock) -> None:
    """policy reject: nlp's new job expires naming its budget; cv's job starts as usual."""
    budgets = BudgetSettings(
        teams={"nlp": TeamBudget(monthly_kg=1.0), "cv": TeamBudget(monthly_kg=1.0)},
        policy="reject",
    )
    svc, store, seen = budget_service(clock, budgets, spent_ledger())
    nlp = store.submit(spec(clock.now(), team="nlp"), now=clock.now())
    cv = store.submit(spec(clock.now(), team="cv"), now=clock.now())
    report = svc.tick()
    assert report.rejected == [nlp.id]
    assert store.get(nlp.id).state == JobState.EXPIRED
    assert store.get(cv.id).state == JobState.DISPATCHED
    (rejected,) = [d for d in seen if isinstance(d, Reject)]
    assert "'nlp'" in rejected.explanation
    assert "budgets.teams.nlp.monthly_kg" in rejected.explanation


def test_restricted_team_runs_only_below_the_ceiling(clock: FakeClock) -> None:
    """policy restrict: under a 400 g/kWh ceiling the 300 g/kWh grid is allowed (it starts,
    and says why it was restricted); under 200 g/kWh no slot fits before its deadline."""
    ledger = spent_ledger()
    allowed = BudgetSettings(teams={"nlp": TeamBudget(monthly_kg=1.0)}, max_g_per_kwh=400)
    svc, store, seen = budget_service(clock, allowed, ledger)
    job = store.submit(spec(clock.now(), team="nlp"), now=clock.now())
    svc.tick()
    assert store.get(job.id).state == JobState.DISPATCHED
    assert "restricted to windows below 400 g/kWh" in seen[-1].explanation

    strict = BudgetSettings(teams={"nlp": TeamBudget(monthly_kg=1.0)}, max_g_per_kwh=200)
    svc, store, seen = budget_service(clock, strict, ledger)
    job = store.submit(spec(clock.now(), team="nlp", hours=6), now=clock.now())
    svc.tick()
    assert store.get(job.id).state == JobState.EXPIRED
    assert seen[-1].explanation.endswith("no such window fits before its deadline")


def test_restricted_job_is_deferred_to_a_clean_window_before_its_deadline(
    clock: FakeClock,
) -> None:
    """400 g/kWh for 4 h, then 100, ceiling 200: the restricted job is planned in the clean
    hours, no later than its latest safe start, and says why; another team's job is planned
    without the budget's note."""
    now = clock.now()
    grid = series("DE", [400] * 4 + [100] * 20, start=now)
    verdict = Restricted(
        team="nlp", used_kg=2.0, budget_kg=1.0, max_g_per_kwh=200.0, message="over budget"
    )
    nlp = spec(now, team="nlp", hours=12)
    cv = spec(now, team="cv", hours=12)
    store = InMemoryJobStore()
    jobs = [store.submit(nlp, now=now), store.submit(cv, now=now)]
    decisions = {
        d.job_id: d
        for d in decide(
            jobs=jobs,
            regions=[Region(name="local", zone="DE", gpus=8)],
            forecasts={"DE": grid},
            capacity={"local": ClusterCapacity(total_gpus=8, free_gpus=8)},
            running=[],
            now=now,
            policy=CarbonshiftPolicy(),
            config=PlanningConfig(slot_s=900, horizon_s=24 * 3600),
            default_zone="DE",
            budgets={"nlp": verdict},
        )
    }
    restricted, free = decisions[jobs[0].id], decisions[jobs[1].id]
    assert isinstance(restricted, Wait)
    assert now + timedelta(hours=4) <= restricted.until
    assert restricted.until <= nlp.latest_safe_start(0.1)
    assert restricted.explanation.endswith("over budget")
    assert isinstance(free, Wait | Start)
    assert "over budget" not in free.explanation
