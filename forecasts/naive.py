"""The two naive forecasters every model must beat, as ``SignalForecaster`` implementations.

* ``PersistenceForecaster``: the last observed value, for every step ahead.
* ``PreviousDayForecaster``: the latest observed value at the same time of day, that is
  ``⌈k / day⌉`` days before the ``k``-th step ahead (so beyond one day it repeats the last
  observed day).

``scheduler.forecast_evaluation`` scores these two baselines itself; these classes let a
caller plan with a baseline (``simulate``) and pin the evaluator's arithmetic in tests.
"""

from __future__ import annotations

from collections.abc import Sequence

from scheduler.errors import ForecastUnavailable

DAY_S = 86400


class PersistenceForecaster:
    """Tomorrow looks like right now."""

    name = "persistence"

    def predict(
        self, zone: str, history_g_per_kwh: Sequence[float], step_s: int, horizon_steps: int
    ) -> Sequence[float]:
        """``horizon_steps`` copies of the last value; ``ForecastUnavailable`` if none."""
        if len(history_g_per_kwh) == 0:
            raise ForecastUnavailable(f"{self.name}: zone {zone} has no history at all")
        return [float(history_g_per_kwh[-1])] * horizon_steps


class PreviousDayForecaster:
    """Tomorrow looks like the last observed day, hour by hour."""

    name = "previous-day"

    def predict(
        self, zone: str, history_g_per_kwh: Sequence[float], step_s: int, horizon_steps: int
    ) -> Sequence[float]:
        """The latest same-time-of-day value for each step; needs one day of history."""
        if step_s <= 0 or DAY_S % step_s:
            raise ValueError(f"step_s is {step_s}; use a step that divides one day")
        day = DAY_S // step_s
        if len(history_g_per_kwh) < day:
            raise ForecastUnavailable(
                f"{self.name}: zone {zone} has {len(history_g_per_kwh)} steps of history, "
                f"fewer than one day ({day} steps of {step_s} s)"
            )
        last_day = [float(v) for v in history_g_per_kwh[-day:]]
        return [last_day[k % day] for k in range(horizon_steps)]
