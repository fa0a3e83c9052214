"""Walk-forward evaluation of a ``SignalForecaster`` against two naive baselines.

The protocol, used by ``carbonshift forecast evaluate`` and ``benchmarks/forecaster.py``:

* A forecast is issued after every observed step ``i`` of the trace: the forecaster gets the
  values ``0 … i`` and nothing later, and predicts the next steps. Its *issue time* is the end
  of step ``i``. With ``evaluate_from``, only forecasts issued at or after that instant are
  scored; everything before it is history. Issues where the forecaster raises
  ``ForecastUnavailable`` (too little history) are skipped for all three forecasts alike.
* Horizon ``h`` hours is the value ``h`` hours after the issue time, that is the step that
  starts ``h − step`` after it (``h = 1`` on hourly data: the very next hour).
* Baselines: *persistence* repeats the last observed value; *previous day* takes the latest
  observed value at the same time of day, ``24 h × ⌈h / 24⌉`` before the target (so at 24 h
  and 48 h it coincides with persistence).
* MAPE is the mean of ``|forecast − actual| / actual`` in percent over the scored targets.
  Targets below ``MIN_ACTUAL_G_PER_KWH`` (CA-ON has hours at 0.0) are left out of all three
  scores, because a relative error against zero is undefined; how many is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from scheduler.errors import ForecastUnavailable
from scheduler.model import IntensityTrace, ensure_utc
from scheduler.protocols import IntervalForecaster, SignalForecaster

FloatArray = npt.NDArray[np.float64]
MIN_ACTUAL_G_PER_KWH = 1.0
HOUR_S = 3600
DAY_H = 24


@dataclass(frozen=True, kw_only=True)
class HorizonScore:
    """The scores of one zone and horizon; MAPEs in percent."""

    zone: str
    horizon_h: int
    mape_model: float
    mape_persistence: float
    mape_previous_day: float
    interval_coverage: float | None
    scored: int
    skipped_zero: int

    @property
    def ratio(self) -> float:
        """Model MAPE over the better baseline's (below 1: the model wins)."""
        return self.mape_model / min(self.mape_persistence, self.mape_previous_day)

    def as_json(self) -> dict[str, object]:
        """The five keys of ``forecast evaluate --json``."""
        return {
            "zone": self.zone,
            "horizon_h": self.horizon_h,
            "mape_model": round(self.mape_model, 4),
            "mape_persistence": round(self.mape_persistence, 4),
            "mape_previous_day": round(self.mape_previous_day, 4),
        }


def uniform_step_s(trace: IntensityTrace) -> int:
    """The trace's step in seconds, or ``ValueError`` naming where it is not uniform."""
    steps = np.diff(trace.start_s)
    if len(steps) == 0:
        raise ValueError(f"zone {trace.zone}: one value is too few to evaluate; give more data")
    if np.any(steps != steps[0]):
        bad = int(np.flatnonzero(steps != steps[0])[0])
        after = datetime.fromtimestamp(int(trace.start_s[bad]), tz=UTC).isoformat()
        raise ValueError(
            f"zone {trace.zone}: the step changes after {after} from {int(steps[0])} s to "
            f"{int(steps[bad])} s; evaluation needs one uniform step: resample or fill the gap"
        )
    return int(steps[0])


def issue_count(trace: IntensityTrace, evaluate_from: datetime | None) -> int:
    """How many forecasts ``evaluate_zone`` will issue (for progress bars)."""
    return len(trace.g_per_kwh) - _first_issue(trace, uniform_step_s(trace), evaluate_from) - 1


def evaluate_zone(
    forecaster: SignalForecaster,
    trace: IntensityTrace,
    horizons_h: Sequence[int],
    *,
    evaluate_from: datetime | None = None,
    on_issue: Callable[[], None] | None = None,
) -> list[HorizonScore]:
    """Walk forward through ``trace`` and score every horizon (see the module docstring).

    Raises:
        ValueError: a non-uniform trace, a horizon that is not a whole number of steps, or
            nothing left to score (the message says why).
    """
    step_s = uniform_step_s(trace)
    ahead = _steps(horizons_h, step_s)
    values = np.asarray(trace.g_per_kwh, dtype=np.float64)
    first = _first_issue(trace, step_s, evaluate_from)
    walk = _walk(
        forecaster, trace.zone, values, step_s=step_s, span=(first, max(ahead)), on_issue=on_issue
    )
    return [
        _score(trace.zone, (h, a), step_s=step_s, values=values, walk=walk)
        for h, a in zip(horizons_h, ahead, strict=True)
    ]


def _steps(horizons_h: Sequence[int], step_s: int) -> list[int]:
    steps = []
    for h in horizons_h:
        if h < 1 or (h * HOUR_S) % step_s:
            raise ValueError(f"horizon {h} h is not a positive whole number of {step_s} s steps")
        steps.append(h * HOUR_S // step_s)
    return steps


def _first_issue(trace: IntensityTrace, step_s: int, evaluate_from: datetime | None) -> int:
    if evaluate_from is None:
        return 0
    cut_s = ensure_utc(evaluate_from, "evaluate_from").timestamp()
    first = int(np.searchsorted(trace.start_s + step_s, cut_s, side="left"))
    if first >= len(trace.start_s) - 1:
        raise ValueError(
            f"zone {trace.zone}: nothing to score from {evaluate_from.isoformat()}; the data "
            f"ends at {trace.end_s} (epoch s); choose an earlier --evaluate-from"
        )
    return first


@dataclass(frozen=True, kw_only=True)
class _Walk:
    """Every issued forecast: issue indices and (issue × step) mean, lower, upper bounds."""

    issued: npt.NDArray[np.int64]
    mean: FloatArray
    low: FloatArray | None
    high: FloatArray | None


def _walk(
    forecaster: SignalForecaster,
    zone: str,
    values: FloatArray,
    *,
    step_s: int,
    span: tuple[int, int],
    on_issue: Callable[[], None] | None,
) -> _Walk:
    """Issue one forecast after every step from ``span[0]``, ``span[1]`` steps long."""
    first, ahead = span
    bands = isinstance(forecaster, IntervalForecaster)
    issued: list[int] = []
    rows: list[Sequence[float]] = []
    lows: list[Sequence[float]] = []
    highs: list[Sequence[float]] = []
    for i in range(first, len(values) - 1):
        history: Sequence[float] = values[: i + 1]  # type: ignore[assignment]  # ndarray reads as one
        try:
            if isinstance(forecaster, IntervalForecaster):
                band = forecaster.predict_interval(zone, history, step_s, ahead)
                rows.append(band.mean_g_per_kwh)
                lows.append(band.lower_g_per_kwh)
                highs.append(band.upper_g_per_kwh)
            else:
                rows.append(forecaster.predict(zone, history, step_s, ahead))
            issued.append(i)
        except ForecastUnavailable:
            pass
        if on_issue is not None:
            on_issue()
    if not issued:
        raise ValueError(
            f"zone {zone}: the forecaster issued no forecast ({len(values)} steps of data are "
            "too few for it); give a longer history, e.g. the previous year's file too"
        )
    return _Walk(
        issued=np.array(issued, dtype=np.int64),
        mean=np.array(rows, dtype=np.float64),
        low=np.array(lows, dtype=np.float64) if bands else None,
        high=np.array(highs, dtype=np.float64) if bands else None,
    )


def _score(
    zone: str, horizon: tuple[int, int], *, step_s: int, values: FloatArray, walk: _Walk
) -> HorizonScore:
    """Scores of one horizon (hours, steps) over the issues whose target lies in the data."""
    horizon_h, ahead = horizon
    inside = walk.issued + ahead < len(values)
    issue = walk.issued[inside]
    target = issue + ahead
    actual = values[target]
    keep = actual >= MIN_ACTUAL_G_PER_KWH
    if not np.any(keep):
        raise ValueError(
            f"zone {zone}: no target at {horizon_h} h lies inside the data with an intensity "
            f"≥ {MIN_ACTUAL_G_PER_KWH} g/kWh; give more data or a shorter horizon"
        )
    day = DAY_H * HOUR_S // step_s
    same_hour = target - day * -(-ahead // day)
    model = walk.mean[inside, ahead - 1]
    coverage = None
    if walk.low is not None and walk.high is not None:
        low, high = walk.low[inside, ahead - 1], walk.high[inside, ahead - 1]
        coverage = float(np.mean(((low <= actual) & (actual <= high))[keep]))

    def mape(forecast: FloatArray) -> float:
        return float(100.0 * np.mean(np.abs(forecast - actual)[keep] / actual[keep]))

    return HorizonScore(
        zone=zone,
        horizon_h=horizon_h,
        mape_model=mape(model),
        mape_persistence=mape(values[issue]),
        mape_previous_day=mape(values[same_hour]),
        interval_coverage=coverage,
        scored=int(np.sum(keep)),
        skipped_zero=int(np.sum(~keep)),
    )
