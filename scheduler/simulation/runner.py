"""One call that simulates a scenario under a policy, checks it and accounts for it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from scheduler.model import IntensityTrace
from scheduler.planning.problem import Policy
from scheduler.protocols import SignalForecaster
from scheduler.simulation.accounting import RunSegment, emissions_g, realise, summarize
from scheduler.simulation.checks import verify_schedule
from scheduler.simulation.engine import DecisionPoint, EngineOptions, EngineRun, Simulator
from scheduler.simulation.forecast_errors import ForecastSpec
from scheduler.simulation.scenario import Scenario


@dataclass(frozen=True, kw_only=True)
class SimulationResult:
    """The result JSON (``result``), the real-time schedule and the engine's record."""

    result: dict[str, Any]
    segments: list[RunSegment]
    run: EngineRun


def run_policy(
    scenario: Scenario,
    traces: Mapping[str, IntensityTrace],
    policy: Policy,
    *,
    options: EngineOptions | None = None,
    forecaster: SignalForecaster | None = None,
    observer: Callable[[DecisionPoint], None] | None = None,
) -> tuple[EngineRun, list[RunSegment]]:
    """Replay, then verify the schedule (``ScheduleViolationError`` if it breaks a rule)."""
    engine = Simulator(
        scenario, traces, policy, options=options, forecaster=forecaster, observer=observer
    )
    run = engine.run()
    segments = realise(run)
    verify_schedule(scenario.jobs, segments, scenario.regions, policy.name)
    return run, segments


def oracle_emissions_g(
    scenario: Scenario, traces: Mapping[str, IntensityTrace], oracle: Policy
) -> float:
    """Emissions of the offline optimum: every job known at once, true intensities."""
    options = EngineOptions(forecast=ForecastSpec(kind="perfect"), offline=True)
    run, segments = run_policy(scenario, traces, oracle, options=options)
    return emissions_g(segments, scenario.regions, run.integrals)[1]


def simulate(
    scenario: Scenario,
    traces: Mapping[str, IntensityTrace],
    policy: Policy,
    *,
    options: EngineOptions | None = None,
    forecaster: SignalForecaster | None = None,
    oracle: Policy | None = None,
    observer: Callable[[DecisionPoint], None] | None = None,
) -> SimulationResult:
    """Replay ``policy`` (offline when it is the oracle itself), then account for it."""
    options = options or EngineOptions()
    if policy.name == "oracle":
        options = replace(options, offline=True, forecast=ForecastSpec(kind="perfect"))
    run, segments = run_policy(
        scenario, traces, policy, options=options, forecaster=forecaster, observer=observer
    )
    optimum = None
    if oracle is not None and policy.name == "oracle":
        optimum = emissions_g(segments, scenario.regions, run.integrals)[1]  # it is the oracle
    elif oracle is not None:
        optimum = oracle_emissions_g(scenario, traces, oracle)
    result = summarize(
        policy=policy.name,
        run=run,
        segments=segments,
        regions=scenario.regions,
        oracle_emissions_g=optimum,
    )
    return SimulationResult(result=result, segments=segments, run=run)
