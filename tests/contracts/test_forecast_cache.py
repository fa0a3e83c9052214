"""Contract of ``ForecastCache``: memory, SQLite and PostgreSQL behave the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from forecasts.cache import MemoryForecastCache
from plugins.stores.database import open_database
from plugins.stores.sql_forecast_cache import SqlForecastCache
from scheduler.model import Forecast, ForecastProvenance, IntensityPoint, ProviderStatus
from scheduler.protocols import ForecastCache

T0 = datetime(2026, 11, 26, 12, tzinfo=UTC)


def forecast(zone: str, value: float, fetched_at: datetime = T0) -> Forecast:
    return Forecast(
        zone=zone,
        step_s=1800,
        points=tuple(
            IntensityPoint(start=T0 + timedelta(minutes=30 * i), g_per_kwh=value + i)
            for i in range(4)
        ),
        provenance=ForecastProvenance(
            provider="ukci",
            zone=zone,
            signal="marginal",
            generated_at=fetched_at,
            fetched_at=fetched_at,
            horizon_s=7200,
            fallback=True,
            stale=False,
            notes=("constant series",),
        ),
    )


@pytest.fixture
def cache(database: Engine | None) -> ForecastCache:
    """One cache of each kind, empty."""
    return MemoryForecastCache() if database is None else SqlForecastCache(database)


def test_round_trip_keeps_every_field_of_the_forecast(cache: ForecastCache) -> None:
    """What is saved is loaded back equal, provenance included."""
    saved = forecast("GB", 100.0)
    cache.save(saved)
    assert cache.load("GB") == saved
    assert cache.load("DE") is None


def test_save_replaces_the_zone_entry_only(cache: ForecastCache) -> None:
    """A new forecast for a zone replaces that zone's, and leaves others alone."""
    cache.save(forecast("GB", 100.0))
    cache.save(forecast("DE", 300.0))
    newer = forecast("GB", 200.0, fetched_at=T0 + timedelta(hours=1))
    cache.save(newer)
    assert cache.load("GB") == newer
    assert cache.fetched_at() == {"GB": T0 + timedelta(hours=1), "DE": T0}


def test_provider_statuses_are_replaced_and_sorted(cache: ForecastCache) -> None:
    """Health records are one per provider, sorted by name, aware datetimes back."""
    cache.record_status(
        ProviderStatus(provider="watttime", last_error="HTTP 503", last_error_at=T0)
    )
    cache.record_status(
        ProviderStatus(provider="electricitymaps", last_success_at=T0, requests_used=3)
    )
    cache.record_status(ProviderStatus(provider="watttime", last_success_at=T0, requests_used=9))
    statuses = cache.statuses()
    assert [s.provider for s in statuses] == ["electricitymaps", "watttime"]
    assert statuses[1] == ProviderStatus(provider="watttime", last_success_at=T0, requests_used=9)
    assert statuses[0].last_success_at == T0


def test_sql_cache_survives_a_restart(tmp_path: Path) -> None:
    """A second engine on the same SQLite file (a restart) reads the last good forecast."""
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    first = open_database(url)
    SqlForecastCache(first).save(forecast("DE", 123.0))
    first.dispose()
    second = open_database(url)
    assert SqlForecastCache(second).load("DE") == forecast("DE", 123.0)
    second.dispose()
