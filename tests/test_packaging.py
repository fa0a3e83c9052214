"""The distribution: import names, public API, console script."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import scheduler

REPO_ROOT = Path(__file__).resolve().parent.parent

#: The public names of ``scheduler``; changing this list is a deliberate API change.
PUBLIC_NAMES = {
    "TRANSITIONS",
    "AttemptState",
    "AttemptStatus",
    "CarbonshiftError",
    "Clock",
    "Cluster",
    "ClusterCapacity",
    "ClusterError",
    "ClusterUnavailable",
    "ConcurrentUpdateError",
    "ConfigError",
    "Decision",
    "FakeClock",
    "Forecast",
    "ForecastError",
    "ForecastProvenance",
    "ForecastProvider",
    "ForecastRejected",
    "ForecastUnavailable",
    "GpuInfo",
    "IdempotencyConflictError",
    "IllegalTransitionError",
    "IntensityHistory",
    "IntensityPoint",
    "Job",
    "JobNotFoundError",
    "JobSpec",
    "JobState",
    "JobStore",
    "Ledger",
    "LedgerEntry",
    "LedgerError",
    "LedgerIntegrityError",
    "PowerBackend",
    "PowerError",
    "Region",
    "Reject",
    "SchedulerLockedError",
    "Start",
    "StoreError",
    "SystemClock",
    "Wait",
}


@pytest.mark.parametrize("name", ["scheduler", "forecasts", "plugins"])
def test_top_level_packages_come_from_this_repository(name: str) -> None:
    """The generic names scheduler/forecasts/plugins resolve to this checkout, not elsewhere."""
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().parent == REPO_ROOT / name


def test_public_names_are_pinned() -> None:
    """``scheduler`` re-exports exactly the pinned public names, and each one resolves."""
    assert set(scheduler.__all__) == PUBLIC_NAMES
    for name in PUBLIC_NAMES:
        assert getattr(scheduler, name) is not None


def test_console_script_points_at_the_cli() -> None:
    """Installing the distribution provides the ``carbonshift`` command."""
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("carbonshift") == "scheduler.cli.main:main"


@pytest.mark.parametrize("name", ["scheduler", "forecasts", "plugins"])
def test_packages_are_typed(name: str) -> None:
    """Each package ships a ``py.typed`` marker so users' type checkers read our hints."""
    assert (REPO_ROOT / name / "py.typed").is_file()
