"""Wiring of the carbon signal: provider kinds from settings, secrets masked, the chain and its
refresh jobs built from the ``forecasts`` section."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from apscheduler.schedulers.background import BackgroundScheduler

from forecasts.cache import MemoryForecastCache
from scheduler.clock import FakeClock
from scheduler.errors import ConfigError
from scheduler.settings import load_settings
from scheduler.wiring import (
    build_forecast_chain,
    default_registries,
    effective_settings,
    schedule_forecast_refreshes,
    validate_settings,
)

T0 = datetime(2026, 11, 26, 12, tzinfo=UTC)
ZONES = {
    "DE": [
        {"kind": "electricitymaps", "api_key": "em-secret-key"},
        {"kind": "static", "g_per_kwh": {"DE": 300}},
    ],
    "CAISO_NORTH": [{"kind": "watttime", "username": "ada", "password": "wt-secret-pw"}],
    "GB": [{"kind": "ukci"}],
    "eastus": [{"kind": "carbon-aware-sdk", "base_url": "http://casdk:80"}],
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Provider chains (with keys) given the way deployments do: one JSON env variable."""
    for name in list(os.environ):
        if name.startswith("CARBONSHIFT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CARBONSHIFT_FORECASTS__ZONES", json.dumps(ZONES))
    monkeypatch.setenv("CARBONSHIFT_DATA_DIR", str(tmp_path / "data"))
    default = [{"kind": "static", "g_per_kwh": {"DE": 300}}]
    monkeypatch.setenv("CARBONSHIFT_FORECASTS__DEFAULT", json.dumps(default))


@pytest.mark.usefixtures("env")
def test_every_provider_kind_validates_and_secrets_are_masked() -> None:
    """All four kinds are registered; `config show` data never contains a key or password."""
    settings = load_settings()
    registries = default_registries()
    validate_settings(settings, registries)
    shown = json.dumps(effective_settings(settings, registries))
    assert "em-secret-key" not in shown
    assert "wt-secret-pw" not in shown
    assert "**********" in shown


@pytest.mark.usefixtures("env")
def test_chain_is_built_per_zone_in_order() -> None:
    """Each zone gets its providers in the configured order; the default chain for the rest."""
    chain = build_forecast_chain(load_settings(), FakeClock(T0), cache=MemoryForecastCache())
    assert [p.name for p in chain.providers_for("DE")] == ["electricitymaps", "static"]
    assert [p.name for p in chain.providers_for("CAISO_NORTH")] == ["watttime"]
    assert chain.configured_zones() == ["CAISO_NORTH", "DE", "GB", "eastus"]


def test_unknown_provider_option_names_the_plugin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A misspelt option fails loudly, naming the key and the provider plugin."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(
        "CARBONSHIFT_FORECASTS__DEFAULT", json.dumps([{"kind": "ukci", "api_kye": "x"}])
    )
    with pytest.raises(
        ConfigError, match="unknown key 'api_kye' for forecast provider plugin 'ukci'"
    ):
        validate_settings(load_settings(), default_registries())


@pytest.mark.usefixtures("env")
def test_refresh_jobs_cover_region_and_configured_zones() -> None:
    """One job per zone: the regions' zones plus every zone with its own chain."""
    settings = load_settings()
    cache = MemoryForecastCache()
    chain = build_forecast_chain(settings, FakeClock(T0), cache=cache)
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.start(paused=True)
    try:
        jobs = schedule_forecast_refreshes(scheduler, chain, settings, FakeClock(T0), cache)
        assert sorted(job.args[0] for job in jobs) == ["CAISO_NORTH", "DE", "GB", "eastus"]
        assert {job.misfire_grace_time for job in jobs} == {300}
        assert {job.trigger.interval for job in jobs} == {timedelta(minutes=30)}
    finally:
        scheduler.shutdown(wait=False)


def test_readme_carbon_signal_example_validates(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The YAML of the README's Carbon signal section is valid once the key is supplied."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Carbon signal", 1)[1].split("\n## ", 1)[0]
    example = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    for chain in example["forecasts"]["zones"].values():
        for provider in chain:
            if provider["kind"] == "electricitymaps":
                provider["api_key"] = "from-the-environment"
    for name in list(os.environ):
        if name.startswith("CARBONSHIFT_"):
            monkeypatch.delenv(name)
    config = tmp_path / "carbonshift.yaml"
    config.write_text(yaml.safe_dump(example), encoding="utf-8")
    settings = load_settings(config)
    validate_settings(settings, default_registries())
    chain = build_forecast_chain(settings, FakeClock(T0), cache=MemoryForecastCache())
    assert [p.name for p in chain.providers_for("GB")] == ["ukci", "electricitymaps"]


def test_default_chain_forecasts_beyond_the_provider_horizon() -> None:
    """With default settings the fallback forecaster gets enough history (8+ weeks) to fill
    in past the demo grid's 72 h, and marks that part as a fallback; with a week it cannot."""
    end = T0 + timedelta(hours=120)
    chain = build_forecast_chain(load_settings(), FakeClock(T0), cache=MemoryForecastCache())
    signal = chain.resolve("DE", T0, end)
    assert signal.forecast is not None
    assert signal.forecast.end == end
    assert signal.forecast.provenance.fallback

    week = load_settings(forecasts={"history_days": 7})
    short = build_forecast_chain(week, FakeClock(T0), cache=MemoryForecastCache())
    signal = short.resolve("DE", T0, end)
    assert signal.forecast is not None
    assert signal.forecast.end is not None
    assert signal.forecast.end < end
    assert any("fewer than" in problem for problem in signal.problems)
