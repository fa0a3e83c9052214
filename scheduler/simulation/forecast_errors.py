"""What the planner sees of the future in a simulation: forecast models over the true trace.

``--forecast`` names one of:

* ``perfect`` — the true slot means;
* ``gauss:E`` — truth plus i.i.d. Gaussian noise per slot, σ = E × the zone's mean intensity
  (the Let's Wait Awhile error model; E = 0.05 and 0.10 in the paper);
* ``ar1:E[:PHI]`` — truth plus AR(1) noise that starts at 0 in the issue slot and grows with
  lead time towards a stationary σ = E × the zone's mean; ``PHI`` is the correlation of the
  error between two points one hour apart (default 0.9), so errors persist for hours like
  those of real day-ahead forecasts;
* ``model`` — a :class:`~scheduler.protocols.SignalForecaster` fed only the true slot means
  observed before the issue slot (at most 70 days), never the future; it falls back to
  repeating the last observed day while the forecaster has too little history.

Noise is a function of (seed, zone, issue slot) only, so every policy sees the same forecast
at the same decision time, whatever it decided before. Values are clipped at 0 g/kWh.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from scheduler.errors import ConfigError, ForecastUnavailable
from scheduler.protocols import SignalForecaster
from scheduler.simulation.grid import FloatArray, SlotGrid, StepIntegral

ForecastKind = Literal["perfect", "gauss", "ar1", "model"]
DEFAULT_AR1_PHI_PER_HOUR = 0.9
HISTORY_DAYS = 70
FORECAST_HELP = "perfect, gauss:E (e.g. gauss:0.05), ar1:E[:PHI] (e.g. ar1:0.1:0.9) or model"


@dataclass(frozen=True, kw_only=True, slots=True)
class ForecastSpec:
    """A parsed ``--forecast`` value."""

    kind: ForecastKind
    error: float = 0.0
    phi_per_hour: float = DEFAULT_AR1_PHI_PER_HOUR

    @property
    def perfect(self) -> bool:
        """True when the planner sees the truth."""
        return self.kind == "perfect"


def parse_forecast(text: str) -> ForecastSpec:
    """Parse ``perfect``, ``gauss:E``, ``ar1:E[:PHI]`` or ``model``; ``ConfigError`` if bad."""
    kind, *params = text.strip().split(":")
    try:
        numbers = [float(p) for p in params]
    except ValueError:
        numbers = []
        params = ["?"]
    if kind in ("perfect", "model") and not params:
        return ForecastSpec(kind=kind)  # type: ignore[arg-type]  # narrowed by the test above
    if kind == "gauss" and len(numbers) == 1 and len(params) == 1 and numbers[0] >= 0:
        return ForecastSpec(kind="gauss", error=numbers[0])
    if kind == "ar1" and 1 <= len(numbers) == len(params) <= 2 and numbers[0] >= 0:
        phi = numbers[1] if len(numbers) == 2 else DEFAULT_AR1_PHI_PER_HOUR
        if 0 <= phi < 1:
            return ForecastSpec(kind="ar1", error=numbers[0], phi_per_hour=phi)
    raise ConfigError(f"--forecast {text!r} is not understood; use {FORECAST_HELP}")


class ForecastModel(Protocol):
    """The forecast a planner gets at a decision time."""

    def forecast(self, zone: int, issue_slot: int, count: int) -> FloatArray:
        """Forecast slot means for ``zone`` over slots ``issue_slot … issue_slot + count − 1``."""
        ...


class PerfectForecast:
    """The truth."""

    def __init__(self, truth: FloatArray) -> None:
        self._truth = truth

    def forecast(self, zone: int, issue_slot: int, count: int) -> FloatArray:
        """The true slot means."""
        return self._truth[zone, issue_slot : issue_slot + count]


class NoisyForecast:
    """Truth plus Gaussian (i.i.d.) or AR(1) noise, σ = error × zone mean."""

    def __init__(
        self,
        truth: FloatArray,
        zone_means: Sequence[float],
        spec: ForecastSpec,
        *,
        slot_s: int,
        seed: int,
    ) -> None:
        self._truth = truth
        self._sigma = [spec.error * mean for mean in zone_means]
        self._ar1 = spec.kind == "ar1"
        self._phi = spec.phi_per_hour ** (slot_s / 3600.0)
        self._seed = seed

    def forecast(self, zone: int, issue_slot: int, count: int) -> FloatArray:
        """Truth plus noise drawn from a generator seeded by (seed, zone, issue slot)."""
        truth = self._truth[zone, issue_slot : issue_slot + count]
        rng = np.random.default_rng((self._seed, zone, issue_slot))
        noise = rng.normal(0.0, self._sigma[zone], len(truth))
        if self._ar1:
            noise[0] = 0.0
            gain = math.sqrt(1.0 - self._phi**2)
            from scipy.signal import lfilter  # noqa: PLC0415  (slow import, needed only here)

            noise = lfilter([gain], [1.0, -self._phi], noise)
        return np.maximum(truth + noise, 0.0)


class ForecasterForecast:
    """A ``SignalForecaster`` fed the observed slot means before the issue slot."""

    def __init__(
        self,
        forecaster: SignalForecaster,
        integrals: Sequence[StepIntegral],
        truth: FloatArray,
        grid: SlotGrid,
    ) -> None:
        self._forecaster = forecaster
        self._integrals = integrals
        self._truth = truth
        self._grid = grid
        self._history_slots = HISTORY_DAYS * 86400 // grid.slot_s

    def forecast(self, zone: int, issue_slot: int, count: int) -> FloatArray:
        """The forecaster's prediction; persistence of the last day if it has too little data."""
        history = self._history(zone, issue_slot)
        try:
            predicted = self._forecaster.predict(
                self._integrals[zone].zone, history.tolist(), self._grid.slot_s, count
            )
            values = np.asarray(predicted, dtype=np.float64)
            if values.shape != (count,) or not np.all(np.isfinite(values)):
                raise ForecastUnavailable(f"forecaster returned {values.shape}, not ({count},)")
        except ForecastUnavailable:
            values = _persistence(history, self._truth[zone, issue_slot], count, self._grid)
        return np.maximum(values, 0.0)

    def _history(self, zone: int, issue_slot: int) -> FloatArray:
        integral = self._integrals[zone]
        first_slot = max(
            issue_slot - self._history_slots,
            -((self._grid.origin_s - integral.first_s) // self._grid.slot_s),
        )
        if first_slot >= issue_slot:
            return np.zeros(0)
        return integral.slot_means(self._grid, first_slot, issue_slot - first_slot)


def _persistence(history: FloatArray, nowcast: float, count: int, grid: SlotGrid) -> FloatArray:
    """Repeat the last observed day (or the current value when nothing was observed)."""
    day = 86400 // grid.slot_s
    if len(history) == 0:
        return np.full(count, nowcast)
    last_day = history[-day:]
    return np.resize(last_day, count)


def build_forecast_model(
    spec: ForecastSpec,
    *,
    truth: FloatArray,
    integrals: Sequence[StepIntegral],
    grid: SlotGrid,
    seed: int,
    forecaster: SignalForecaster | None = None,
) -> ForecastModel:
    """The model ``spec`` names, over the true slot means ``truth[zone, slot]``."""
    if spec.kind == "perfect":
        return PerfectForecast(truth)
    if spec.kind == "model":
        if forecaster is None:
            raise ConfigError("--forecast model needs a signal forecaster; none was given")
        return ForecasterForecast(forecaster, integrals, truth, grid)
    means = [integral.mean_g_per_kwh for integral in integrals]
    return NoisyForecast(truth, means, spec, slot_s=grid.slot_s, seed=seed)
