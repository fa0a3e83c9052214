"""``MemoryForecastCache``: the in-process ``ForecastCache``, and the staleness rule.

The memory cache is a real implementation (it passes the same contract suite as
``plugins.stores.sql_forecast_cache.SqlForecastCache``); it forgets everything on restart, so
the service uses the SQL one and tests and one-shot CLI commands may use this one.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

from scheduler.model import Forecast, ProviderStatus


def age(forecast: Forecast, now: datetime) -> timedelta:
    """How long ago ``forecast`` was fetched."""
    return now - forecast.provenance.fetched_at


def is_stale(forecast: Forecast, now: datetime, ttl: timedelta) -> bool:
    """True when ``forecast`` was fetched ``ttl`` or longer before ``now``."""
    return age(forecast, now) >= ttl


def mark_stale(forecast: Forecast, now: datetime) -> Forecast:
    """``forecast`` with ``stale`` set and a note saying how old it is."""
    minutes = int(age(forecast, now).total_seconds() // 60)
    note = f"stale: fetched {minutes} min ago, past its TTL"
    provenance = forecast.provenance.model_copy(
        update={"stale": True, "notes": (*forecast.provenance.notes, note)}
    )
    return forecast.model_copy(update={"provenance": provenance})


class MemoryForecastCache:
    """Last good forecast per zone and provider health, in a dict; thread-safe."""

    def __init__(self) -> None:
        self._forecasts: dict[str, Forecast] = {}
        self._statuses: dict[str, ProviderStatus] = {}
        self._lock = threading.Lock()

    def load(self, zone: str) -> Forecast | None:
        """The last forecast saved for ``zone``, or None."""
        with self._lock:
            return self._forecasts.get(zone)

    def save(self, forecast: Forecast) -> None:
        """Replace the entry of ``forecast.zone``."""
        with self._lock:
            self._forecasts[forecast.zone] = forecast

    def fetched_at(self) -> dict[str, datetime]:
        """When each cached zone's forecast was fetched."""
        with self._lock:
            return {zone: f.provenance.fetched_at for zone, f in self._forecasts.items()}

    def record_status(self, status: ProviderStatus) -> None:
        """Replace the health record of ``status.provider``."""
        with self._lock:
            self._statuses[status.provider] = status

    def statuses(self) -> Sequence[ProviderStatus]:
        """Every provider's health record, sorted by name."""
        with self._lock:
            return [self._statuses[name] for name in sorted(self._statuses)]
