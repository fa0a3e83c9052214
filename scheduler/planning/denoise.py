"""Smoothing out white noise in an intensity forecast before planning.

A forecast whose error is independent from slot to slot (the Let's Wait Awhile error model,
``--forecast gauss:E``) makes a planner chase noise: the cheapest slots of a noisy row are
mostly the ones with the most negative error. Averaging each slot with its neighbours
cuts that error, but blurs real features. So the width is chosen per region row by Stein's
unbiased risk estimate (SURE) for the moving average. The noise level comes from the row's
second differences: their median absolute deviation / 0.6745 / √6 estimates σ of white noise.
A row whose noise is small against its spread (``NOISE_FLOOR``) is left as it is, and so is
one where no wider average lowers the estimated risk. See
``docs/decisions/0002`` ("Noisy forecasts").
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from scheduler.planning.problem import FloatArray

#: moving-average widths tried, in slots (odd, so each average is centred on its slot)
WIDTHS = (1, 3, 5, 7, 9)
#: a row whose estimated noise σ is under this share of its spread (p90 − p10) is left as is:
#: on the LWA traces the true rows of a week score 0.006–0.031 (5th–95th percentile), rows
#: with 5 % Gaussian error 0.053–0.212; a shift of every value changes neither
NOISE_FLOOR = 0.04
#: MAD / 0.6745 estimates a normal σ; white noise's second difference has variance 6 σ²
_MAD_TO_SIGMA = 1.0 / (0.6745 * np.sqrt(6.0))


def noise_sigma(row: FloatArray) -> float:
    """White-noise σ of ``row`` estimated from its second differences (0 when too short)."""
    if len(row) < 8:
        return 0.0
    second = np.diff(row, 2)
    return float(np.median(np.abs(second - np.median(second))) * _MAD_TO_SIGMA)


def noise_share(intensity: FloatArray) -> float:
    """The largest row's white-noise σ as a share of its spread (p90 − p10); 0 for no rows.

    True LWA rows of 2–7 days score 0.01–0.03 (median) and under 0.06 in 96–100 % of
    windows (GB's choppiest two days reach 0.2); with 10 % Gaussian error they score
    0.09–0.44 (1st–99th percentile). See decision 0002, "A noisy forecast raises the surge's
    base".
    """
    rows = np.asarray(intensity, dtype=np.float64)
    return max((_share(row) for row in rows), default=0.0)


def _share(row: FloatArray) -> float:
    """``row``'s white-noise σ over its p90 − p10 spread (0 for a flat or empty row)."""
    spread = float(np.percentile(row, 90) - np.percentile(row, 10)) if len(row) else 0.0
    return noise_sigma(row) / spread if spread > 0 else 0.0


def smoothing_width(row: FloatArray) -> int:
    """The width of ``WIDTHS`` with the lowest SURE risk for ``row`` (1: leave it as is)."""
    return _smoothest(row)[0]


def denoise(intensity: FloatArray) -> FloatArray:
    """``intensity`` ``[regions, slots]`` with each row averaged over its SURE width."""
    rows = np.asarray(intensity, dtype=np.float64)
    return np.stack([_smoothest(row)[1] for row in rows]) if len(rows) else rows.copy()


def _smoothest(row: FloatArray) -> tuple[int, FloatArray]:
    """(SURE width, ``row`` averaged over it); width 1 returns ``row`` itself."""
    sigma = noise_sigma(row)
    n = len(row)
    best: tuple[int, FloatArray] = (1, row)
    if n == 0 or sigma <= NOISE_FLOOR * float(np.percentile(row, 90) - np.percentile(row, 10)):
        return best
    sigma2 = sigma**2
    best_risk = n * sigma2  # SURE of the identity: ||0||² + 2σ²n − nσ²
    for width in WIDTHS[1:]:
        if width >= n:
            break
        smoothed = uniform_filter1d(row, width, mode="nearest")
        residual = row - smoothed
        risk = float(residual @ residual) + 2 * sigma2 * n / width - n * sigma2
        if risk < best_risk:
            best, best_risk = (width, smoothed), risk
    return best


__all__ = ["NOISE_FLOOR", "WIDTHS", "denoise", "noise_share", "noise_sigma", "smoothing_width"]
