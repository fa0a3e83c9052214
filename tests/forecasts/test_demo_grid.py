"""The demo grid: a seeded, realistic synthetic grid built from the committed table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from forecasts.demo_grid import TABLE, DemoGridProvider, load_table
from scheduler.clock import FakeClock
from scheduler.errors import ForecastError
from scheduler.protocols import ForecastProvider, IntensityHistory
from scheduler.settings import PluginConfig, Settings
from scheduler.wiring import WiringContext, default_registries

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_table_holds_every_month_and_hour_with_attribution() -> None:
    """The committed table covers 12 × 24 cells per zone and credits Electricity Maps (ODbL)."""
    models = load_table()
    assert {"DE", "GB", "CA-ON", "US-CAL-CISO", "US-TEX-ERCO"} <= set(models)
    assert all(np.all(model.mean > 0) for model in models.values())
    header = TABLE.read_text(encoding="utf-8").splitlines()[:6]
    assert any("Electricity Maps" in line for line in header)
    assert any("ODbL" in line for line in header)


def test_same_seed_same_grid_and_history_matches_forecast() -> None:
    """Series depend only on (seed, zone, year): forecasts and later history agree."""
    clock = FakeClock(NOW)
    grid = DemoGridProvider(clock=clock, seed=3)
    assert isinstance(grid, ForecastProvider)
    assert isinstance(grid, IntensityHistory)
    ahead = grid.forecast("DE", NOW, NOW + timedelta(days=10))
    assert len(ahead.points) == 72  # default horizon 72 h
    clock.advance(timedelta(hours=24))
    seen = grid.observed("DE", NOW, NOW + timedelta(days=10))
    assert [p.g_per_kwh for p in seen.points] == [p.g_per_kwh for p in ahead.points[:24]]
    other = DemoGridProvider(clock=FakeClock(NOW), seed=4).forecast(
        "DE", NOW, NOW + timedelta(hours=24)
    )
    assert [p.g_per_kwh for p in other.points] != [p.g_per_kwh for p in ahead.points[:24]]


def test_generated_year_follows_the_table() -> None:
    """Over a year, each zone's mean and daily shape follow the table's means."""
    grid = DemoGridProvider(clock=FakeClock(NOW))
    model = load_table()["US-CAL-CISO"]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    values = grid.trace("US-CAL-CISO", start, start + timedelta(days=365)).g_per_kwh
    assert values.mean() == pytest.approx(model.mean.mean(), rel=0.1)
    by_hour = values.reshape(-1, 24).mean(axis=0)
    assert np.corrcoef(by_hour, model.mean.mean(axis=0))[0, 1] > 0.9  # the duck curve


def test_unknown_zone_names_the_known_ones() -> None:
    """A zone outside the table is a ForecastError listing the zones it models."""
    grid = DemoGridProvider(clock=FakeClock(NOW))
    with pytest.raises(ForecastError, match="US-CAL-CISO"):
        grid.forecast("XX", NOW, NOW + timedelta(hours=2))


def test_wiring_builds_demo_grid_from_settings() -> None:
    """The default forecast chain's ``demo-grid`` kind is registered with its options."""
    registries = default_registries()
    context = WiringContext(settings=Settings(), clock=FakeClock(NOW))
    config = PluginConfig(kind="demo-grid", seed=1, horizon_h=24)
    provider = registries.forecast_providers.build(config, context, "forecasts.default.0")
    assert provider.name == "demo-grid"
    assert len(provider.forecast("GB", NOW, NOW + timedelta(days=3)).points) == 24
