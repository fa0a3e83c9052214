"""``DemoGridProvider``: realistic, seeded synthetic grids for demos and zones without a signal.

A statistical model of real grids, from the table ``forecasts/data/demo_grid.csv`` that
``scripts/build_demo_grid.py`` computes from Electricity Maps data (ODbL; see the table's
header): per zone, month and UTC hour the mean and the day-to-day standard deviation, and per
zone and month how persistent daily anomalies are. A zone-year is generated as

    value(d, h) = mean[m, h] + std[m, h] × (√s · a_d + √(1 − s) · r_{d,h})

where ``a`` is an AR(1) series of daily anomalies (correlation ``day_phi`` from one day to
the next), ``r`` an hourly AR(1) series (``hour_phi``) and ``s`` the ``day_share`` of the
variance, both with unit variance. The anomaly is clipped to ±3 and values are floored at
25 % of the hour's mean (real grids are skewed; a Gaussian would dip to zero too often).
The series depends only on (seed, zone, year), so forecasts and history always agree.
Forecasts are the series itself up to ``now + horizon_h``; history is every hour that ended
by ``now``.
"""

from __future__ import annotations

import csv
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import Field

from scheduler.errors import ForecastError
from scheduler.model import Forecast, ForecastProvenance, IntensityPoint, IntensityTrace, ensure_utc
from scheduler.protocols import Clock
from scheduler.registry import PluginOptions

TABLE = Path(__file__).parent / "data" / "demo_grid.csv"
STEP_S = 3600
_FLOOR = 0.25
_CLIP = 3.0
Array = npt.NDArray[np.float64]


class DemoGridOptions(PluginOptions):
    """Options of the ``demo-grid`` provider."""

    seed: int = Field(default=0, description="same seed, same synthetic grid")
    horizon_h: float = Field(default=72.0, gt=0, description="how far past now forecasts reach")


class _ZoneModel:
    """The table's parameters of one zone, as (12, 24) and (12,) arrays."""

    def __init__(self) -> None:
        self.mean = np.zeros((12, 24))
        self.std = np.zeros((12, 24))
        self.day_phi = np.zeros(12)
        self.day_share = np.zeros(12)
        self.hour_phi = np.zeros(12)


def load_table(path: Path = TABLE) -> dict[str, _ZoneModel]:
    """Parse the demo-grid table (lines starting with ``#`` are the attribution header)."""
    with path.open(encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    models: dict[str, _ZoneModel] = {}
    for row in csv.DictReader(lines):
        model = models.setdefault(row["zone"], _ZoneModel())
        m, h = int(row["month"]) - 1, int(row["hour"])
        model.mean[m, h] = float(row["mean_g_per_kwh"])
        model.std[m, h] = float(row["std_g_per_kwh"])
        model.day_phi[m] = float(row["day_phi"])
        model.day_share[m] = float(row["day_share"])
        model.hour_phi[m] = float(row["hour_phi"])
    return models


class DemoGridProvider:
    """Forecasts and history from the seeded synthetic grid of each zone in the table."""

    name = "demo-grid"

    def __init__(
        self, *, clock: Clock, seed: int = 0, horizon_h: float = 72.0, table: Path = TABLE
    ) -> None:
        self._clock = clock
        self._seed = seed
        self._horizon = timedelta(hours=horizon_h)
        self._models = load_table(table)
        self._years: dict[tuple[str, int], Array] = {}

    def zones(self) -> list[str]:
        """Zone ids the demo grid knows."""
        return sorted(self._models)

    def forecast(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """Hourly values over ``[start, min(end, now + horizon_h))``."""
        now = self._clock.now()
        return self._forecast(zone, start, min(ensure_utc(end, "end"), now + self._horizon))

    def observed(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """Hourly values of the hours inside ``[start, min(end, now))`` that have ended."""
        stop = min(ensure_utc(end, "end"), self._clock.now())
        return self._forecast(zone, start, stop - timedelta(seconds=STEP_S - 1))

    def trace(self, zone: str, start: datetime, end: datetime) -> IntensityTrace:
        """The synthetic truth over ``[start, end)`` (whole hours), for simulations."""
        _, times, values = self._hours(zone, start, end)
        return IntensityTrace(
            zone=zone, start_s=times, g_per_kwh=values, end_s=int(times[-1]) + STEP_S
        )

    def _forecast(self, zone: str, start: datetime, end: datetime) -> Forecast:
        _, times, values = self._hours(zone, start, end)
        now = self._clock.now()
        points = tuple(
            IntensityPoint(start=datetime.fromtimestamp(int(t), tz=UTC), g_per_kwh=float(v))
            for t, v in zip(times, values, strict=True)
        )
        provenance = ForecastProvenance(
            provider=self.name,
            zone=zone,
            generated_at=now,
            fetched_at=now,
            horizon_s=max(0, int(times[-1]) + STEP_S - int(now.timestamp())),
        )
        return Forecast(zone=zone, step_s=STEP_S, points=points, provenance=provenance)

    def _hours(
        self, zone: str, start: datetime, end: datetime
    ) -> tuple[int, npt.NDArray[np.int64], Array]:
        first_s = int(ensure_utc(start, "start").timestamp()) // STEP_S * STEP_S
        stop_s = int(end.timestamp())
        if stop_s <= first_s:
            raise ForecastError(
                f"demo grid: empty period {start.isoformat()} to {end.isoformat()} for {zone}; "
                "ask for a later end"
            )
        times = np.arange(first_s, stop_s, STEP_S, dtype=np.int64)
        years = times.astype("datetime64[s]").astype("datetime64[Y]").astype(int) + 1970
        values = np.empty(len(times))
        for year in np.unique(years):
            chosen = years == year
            origin = int(datetime(int(year), 1, 1, tzinfo=UTC).timestamp())
            values[chosen] = self._year(zone, int(year))[(times[chosen] - origin) // STEP_S]
        return first_s, times, values

    def _year(self, zone: str, year: int) -> Array:
        if (zone, year) not in self._years:
            self._years[(zone, year)] = self._generate(self._model(zone), zone, year)
        return self._years[(zone, year)]

    def _model(self, zone: str) -> _ZoneModel:
        try:
            return self._models[zone]
        except KeyError:
            raise ForecastError(
                f"the demo grid has no zone {zone!r}; it models {', '.join(self.zones())}: "
                "pick one of those or configure a real provider for that zone"
            ) from None

    def _generate(self, model: _ZoneModel, zone: str, year: int) -> Array:
        days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
        rng = np.random.default_rng((self._seed, zlib.crc32(zone.encode()), year))
        months = np.array([(date(year, 1, 1) + timedelta(days=d)).month - 1 for d in range(days)])
        daily = _ar1(rng.standard_normal(days), model.day_phi[months])
        hourly = _ar1(rng.standard_normal(days * 24), np.repeat(model.hour_phi[months], 24))
        share = np.repeat(model.day_share[months], 24)
        anomaly = np.sqrt(share) * np.repeat(daily, 24) + np.sqrt(1 - share) * hourly
        hours = np.tile(np.arange(24), days)
        month_of_hour = np.repeat(months, 24)
        mean = model.mean[month_of_hour, hours]
        values = mean + model.std[month_of_hour, hours] * np.clip(anomaly, -_CLIP, _CLIP)
        return np.asarray(np.maximum(values, _FLOOR * mean), dtype=np.float64)


def _ar1(noise: Array, phi: Array) -> Array:
    """Unit-variance AR(1): x_0 = e_0, x_k = φ_k x_{k−1} + √(1 − φ_k²) e_k."""
    out = np.empty_like(noise)
    gain = np.sqrt(1.0 - phi**2)
    previous = noise[0]
    out[0] = previous
    for k in range(1, len(noise)):
        previous = phi[k] * previous + gain[k] * noise[k]
        out[k] = previous
    return out
