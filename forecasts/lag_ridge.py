"""The numerical core of the lag-ridge forecaster: features, sufficient statistics, solve.

The model is a direct multi-horizon ridge regression on an hourly series in log space,
``z = log(g_per_kwh + offset)``. For an issue hour ``t`` (the last observed hour) the features
are the last week of values ``z[t], z[t-1], …, z[t-167]``, the means of the last day and the
last week, and the hour of day (one-hot, relative to the series start), and the target of
horizon ``h`` is ``z[t+h]``. Every horizon shares one design matrix, so one Gram matrix of
``[X | Y]`` is all the fit needs: it grows row by row as history arrives and a refit is one
small linear solve (about 200 unknowns) for all horizons at once.

Each horizon is shrunk toward the better naive forecast on the training rows — persistence
(``z[t]``) or the latest same hour of day (``z[t+h-24⌈h/24⌉]``) — instead of toward zero, so
with little data the model falls back to the stronger baseline rather than to the mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
HOURS_PER_DAY = 24


def feature_count(lags_h: int) -> int:
    """Columns of the design matrix: lags, two means, 23 hour-of-day dummies, intercept."""
    return lags_h + 2 + (HOURS_PER_DAY - 1) + 1


def design(z: FloatArray, issue: IntArray, lags_h: int) -> FloatArray:
    """Feature rows for the issue hours ``issue`` (each ≥ ``lags_h − 1``); intercept last."""
    windows = z[issue[:, None] - np.arange(lags_h)]
    phase = np.zeros((len(issue), HOURS_PER_DAY - 1))
    hour = issue % HOURS_PER_DAY
    known = hour < HOURS_PER_DAY - 1
    phase[np.flatnonzero(known), hour[known]] = 1.0
    day_mean = windows[:, :HOURS_PER_DAY].mean(axis=1, keepdims=True)
    week_mean = windows.mean(axis=1, keepdims=True)
    return np.hstack([windows, day_mean, week_mean, phase, np.ones((len(issue), 1))])


def targets(z: FloatArray, issue: IntArray, horizon_h: int) -> FloatArray:
    """``z[t+1 … t+horizon_h]`` for each issue hour ``t`` (all must lie inside ``z``)."""
    rows: FloatArray = z[issue[:, None] + np.arange(1, horizon_h + 1)]
    return rows


def base_lag(h: int) -> tuple[int, int]:
    """Lag columns of the two naive forecasts of horizon ``h``: persistence, same hour."""
    return 0, HOURS_PER_DAY * -(-h // HOURS_PER_DAY) - h


@dataclass(kw_only=True)
class Gram:
    """Running ``[X | Y]ᵀ [X | Y]`` over the training rows added so far."""

    features: int
    horizon_h: int
    matrix: FloatArray
    rows: int = 0

    @classmethod
    def empty(cls, *, features: int, horizon_h: int) -> Gram:
        """A Gram matrix with no rows yet."""
        size = features + horizon_h
        return cls(features=features, horizon_h=horizon_h, matrix=np.zeros((size, size)))

    def add(self, x: FloatArray, y: FloatArray) -> None:
        """Add training rows ``x`` (features) with their targets ``y``."""
        block = np.hstack([x, y])
        self.matrix += block.T @ block
        self.rows += len(x)


def solve(gram: Gram, ridge: float) -> FloatArray:
    """Weights ``(features × horizon_h)``: prediction = ``design(...) @ weights``.

    Features are standardised; ``ridge`` is the penalty relative to the feature variance.
    Each horizon's coefficients are shrunk toward its better naive forecast (see module doc).
    """
    p, n = gram.features, float(gram.rows)
    mean = gram.matrix[:, p - 1] / n
    cov = gram.matrix / n - np.outer(mean, mean)
    cxx, cxy = cov[: p - 1, : p - 1], cov[: p - 1, p:]
    sd = np.sqrt(np.maximum(np.diag(cxx), 1e-12))
    base = _base_columns(cov, p, gram.horizon_h)
    rhs = (cxy - cxx[:, base]) / sd[:, None]
    system = cxx / np.outer(sd, sd) + ridge * np.eye(p - 1)
    weights = np.linalg.solve(system, rhs) / sd[:, None]
    weights[base, np.arange(gram.horizon_h)] += 1.0
    intercept = mean[p:] - mean[: p - 1] @ weights
    return np.vstack([weights, intercept[None, :]])


def _base_columns(cov: FloatArray, p: int, horizon_h: int) -> IntArray:
    """Per horizon, the naive lag column with the smaller training error variance."""
    columns = np.empty(horizon_h, dtype=np.int64)
    for h in range(1, horizon_h + 1):
        y = p + h - 1

        def error_var(j: int, y: int = y) -> float:
            return float(cov[y, y] - 2.0 * cov[j, y] + cov[j, j])

        columns[h - 1] = min(base_lag(h), key=error_var)
    return columns
