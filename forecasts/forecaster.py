"""``LagRidgeForecaster``: a zone's intensity beyond the providers' horizon, from its history.

A ``SignalForecaster`` (``scheduler.protocols``). It works on hourly values (sub-hourly
history is averaged into hours counted from the start of the history and the forecast is
repeated back onto the caller's step), fits the direct multi-horizon ridge model of
``forecasts.lag_ridge`` on everything it has been shown, and adds prediction intervals from
the empirical quantiles of its recent in-sample residuals, per horizon.

It keeps one small state per zone so that a caller walking forward in time pays for each new
hour once: when a new history extends (or, as a sliding window, overlaps the end of) what it
saw before, only the new hours are added to the sufficient statistics, and the weights are
re-solved after every ``refit_every_h`` new hours. Any other history starts the zone afresh.
Everything it uses lies at or before the last element of the history given: the future is
never seen, even when an earlier call was given a later window.

Example::

    forecaster = LagRidgeForecaster()
    next_48_h = forecaster.predict("DE", hourly_history, 3600, 48)
    bands = forecaster.predict_interval("DE", hourly_history, 3600, 48)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import ThreadpoolController

from forecasts import lag_ridge
from forecasts.lag_ridge import FloatArray, Gram
from scheduler.errors import ForecastError, ForecastUnavailable
from scheduler.model import IntervalForecast

HOUR_S = 3600


@dataclass(frozen=True, kw_only=True)
class LagRidgeConfig:
    """Tuning of the forecaster; the defaults are those measured in ``benchmarks/forecaster.py``."""

    lags_h: int = 168
    max_horizon_h: int = 72
    ridge: float = 1e-3
    offset_g_per_kwh: float = 10.0
    min_history_h: int = 8 * 7 * 24
    refit_every_h: int = 24
    interval_level: float = 0.8
    residual_window_h: int = 90 * 24


@dataclass(kw_only=True)
class _ZoneState:
    """What the forecaster knows of one zone: the hourly series, statistics and weights."""

    z: FloatArray
    gram: Gram
    weights: FloatArray | None = None
    solved_at_h: int = 0
    low_z: FloatArray = field(default_factory=lambda: np.zeros(0))
    high_z: FloatArray = field(default_factory=lambda: np.zeros(0))


class LagRidgeForecaster:
    """Direct multi-horizon ridge on a week of hourly lags; see the module docstring."""

    name = "lag-ridge"

    def __init__(self, config: LagRidgeConfig | None = None) -> None:
        self.config = config or LagRidgeConfig()
        # The matrices are small: BLAS threads only add overhead (10x on a busy machine).
        self._blas = ThreadpoolController()
        self._zones: dict[tuple[str, int], tuple[FloatArray, _ZoneState]] = {}

    def predict(
        self, zone: str, history_g_per_kwh: Sequence[float], step_s: int, horizon_steps: int
    ) -> Sequence[float]:
        """The next ``horizon_steps`` values after the history (``SignalForecaster``)."""
        return self.predict_interval(zone, history_g_per_kwh, step_s, horizon_steps).mean_g_per_kwh

    def predict_interval(
        self, zone: str, history_g_per_kwh: Sequence[float], step_s: int, horizon_steps: int
    ) -> IntervalForecast:
        """Mean and ``config.interval_level`` central interval for the next steps.

        Raises:
            ForecastUnavailable: less than ``config.min_history_h`` hours of history.
            ForecastError: ``step_s`` does not divide an hour.
            ValueError: ``horizon_steps`` < 1.
        """
        per_hour = _steps_per_hour(step_s)
        if horizon_steps < 1:
            raise ValueError(f"horizon_steps is {horizon_steps}; ask for at least 1 step")
        history = np.asarray(history_g_per_kwh, dtype=np.float64)
        with self._blas.limit(limits=1, user_api="blas"):
            state, skip = self._state(zone, history, per_hour)
            hours = -(-(horizon_steps + skip) // per_hour)
            mean, low, high = self._hourly(state, hours)
        take = slice(skip, skip + horizon_steps)
        return IntervalForecast(
            mean_g_per_kwh=tuple(np.repeat(mean, per_hour)[take].tolist()),
            lower_g_per_kwh=tuple(np.repeat(low, per_hour)[take].tolist()),
            upper_g_per_kwh=tuple(np.repeat(high, per_hour)[take].tolist()),
            level=self.config.interval_level,
        )

    def _require_history(self, zone: str, hours: int) -> None:
        if hours < self.config.min_history_h:
            raise ForecastUnavailable(
                f"forecaster {self.name}: zone {zone} has {hours} h of history, fewer than the "
                f"{self.config.min_history_h} h it needs; give a longer history or use a provider"
            )

    def _state(self, zone: str, history: FloatArray, per_hour: int) -> tuple[_ZoneState, int]:
        """The zone's state brought up to ``history``, and the steps of its unfinished hour."""
        key = (zone, per_hour)
        known = self._zones.get(key)
        merged = _stitch(known[0], history) if known else None
        if known is None or merged is None:
            merged, state = history, self._fresh(np.zeros(0))
        else:
            state = known[1]
        hours, skip = divmod(len(merged), per_hour)
        self._zones[key] = (merged, state)
        self._require_history(zone, hours)
        self._extend(state, merged[: hours * per_hour].reshape(-1, per_hour).mean(axis=1))
        return state, skip

    def _fresh(self, z: FloatArray) -> _ZoneState:
        features = lag_ridge.feature_count(self.config.lags_h)
        gram = Gram.empty(features=features, horizon_h=self.config.max_horizon_h)
        return _ZoneState(z=z, gram=gram)

    def _extend(self, state: _ZoneState, hourly: FloatArray) -> None:
        """Take the new hours; when a refit is due, add the rows they complete and re-solve."""
        cfg = self.config
        state.z = np.log(np.maximum(hourly, 0.0) + cfg.offset_g_per_kwh)
        due = state.weights is None or len(state.z) - state.solved_at_h >= cfg.refit_every_h
        first = cfg.lags_h - 1 + state.gram.rows
        last = len(state.z) - 1 - cfg.max_horizon_h
        if not due or last < first:
            return
        issue = np.arange(first, last + 1)
        state.gram.add(
            lag_ridge.design(state.z, issue, cfg.lags_h),
            lag_ridge.targets(state.z, issue, cfg.max_horizon_h),
        )
        self._solve(state)

    def _solve(self, state: _ZoneState) -> None:
        cfg = self.config
        state.weights = lag_ridge.solve(state.gram, cfg.ridge)
        state.solved_at_h = len(state.z)
        last = cfg.lags_h - 1 + state.gram.rows
        issue = np.arange(max(cfg.lags_h - 1, last - cfg.residual_window_h), last)
        residuals = lag_ridge.targets(state.z, issue, cfg.max_horizon_h) - (
            lag_ridge.design(state.z, issue, cfg.lags_h) @ state.weights
        )
        tail = (1.0 - cfg.interval_level) / 2.0
        low, high = np.quantile(residuals, [tail, 1.0 - tail], axis=0)
        state.low_z, state.high_z = np.minimum(low, 0.0), np.maximum(high, 0.0)

    def _hourly(self, state: _ZoneState, hours: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Hourly mean, low and high for the next ``hours``; beyond the model, the last day."""
        assert state.weights is not None  # set by _extend once rows exist
        cfg = self.config
        row = lag_ridge.design(state.z, np.array([len(state.z) - 1]), cfg.lags_h)
        mean_z = (row @ state.weights)[0]
        bands = [mean_z, mean_z + state.low_z, mean_z + state.high_z]
        out = [_extend_daily(np.exp(b) - cfg.offset_g_per_kwh, hours) for b in bands]
        mean, low, high = (np.maximum(values, 0.0) for values in out)
        return mean, low, high


def _steps_per_hour(step_s: int) -> int:
    if step_s <= 0 or step_s > HOUR_S or HOUR_S % step_s:
        raise ForecastError(
            f"step_s is {step_s}; the forecaster needs a step that divides one hour "
            "(3600, 1800, 900, 300 …); resample the history"
        )
    return HOUR_S // step_s


def _stitch(seen: FloatArray, history: FloatArray) -> FloatArray | None:
    """``seen`` continued by ``history`` when ``history`` overlaps its end, else None.

    The overlap must cover the whole tail of ``seen`` (``seen`` ends inside ``history``), so
    nothing later than the end of ``history`` is ever kept.
    """
    if len(history) == 0:
        return None
    earliest = max(0, len(seen) - len(history))
    for start in earliest + np.flatnonzero(seen[earliest:] == history[0]):
        overlap = len(seen) - int(start)
        if np.array_equal(seen[start:], history[:overlap]):
            return np.concatenate([seen[:start], history])
    return None


def _extend_daily(values: FloatArray, hours: int) -> FloatArray:
    """``values`` cut to ``hours``, or continued by repeating its last 24 hours."""
    if hours <= len(values):
        return values[:hours]
    day = values[-lag_ridge.HOURS_PER_DAY :]
    extra = np.resize(day, hours - len(values))
    return np.concatenate([values, extra])
