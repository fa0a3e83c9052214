"""``StaticProvider``: a constant intensity per zone, for tests and zones without a signal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import Field

from scheduler.errors import ForecastError
from scheduler.model import Forecast, ForecastProvenance, IntensityPoint, ensure_utc
from scheduler.protocols import Clock
from scheduler.registry import PluginOptions

STEP_S = 3600


class StaticOptions(PluginOptions):
    """Options of the ``static`` provider."""

    g_per_kwh: dict[str, float] = Field(
        description="intensity per zone id, grams CO2e per kWh", min_length=1
    )


class StaticProvider:
    """Returns the same intensity for every hour; knows only the zones it was given."""

    name = "static"

    def __init__(self, g_per_kwh: dict[str, float], *, clock: Clock) -> None:
        bad = {zone: value for zone, value in g_per_kwh.items() if not value >= 0}
        if bad:
            raise ValueError(f"static intensities must be ≥ 0 g/kWh; got {bad}")
        self._values = dict(g_per_kwh)
        self._clock = clock

    def forecast(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """Hourly constant points covering ``[start, end)``, aligned to the hour."""
        return self._series(zone, start, end)

    def observed(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """The same constant, as history."""
        return self._series(zone, start, end)

    def _series(self, zone: str, start: datetime, end: datetime) -> Forecast:
        if zone not in self._values:
            raise ForecastError(
                f"static provider has no value for zone {zone!r}; "
                f"configure one of {sorted(self._values)} or add it under g_per_kwh"
            )
        first = ensure_utc(start, "start").replace(minute=0, second=0, microsecond=0)
        last = ensure_utc(end, "end")
        count = max(1, -(-int((last - first).total_seconds()) // STEP_S))
        points = tuple(
            IntensityPoint(
                start=first + timedelta(seconds=STEP_S * i), g_per_kwh=self._values[zone]
            )
            for i in range(count)
        )
        now = self._clock.now().astimezone(UTC)
        reach_s = (points[-1].start + timedelta(seconds=STEP_S) - now).total_seconds()
        provenance = ForecastProvenance(
            provider=self.name,
            zone=zone,
            generated_at=now,
            fetched_at=now,
            horizon_s=max(0, int(reach_s)),
        )
        return Forecast(zone=zone, step_s=STEP_S, points=points, provenance=provenance)
