"""``denoise``: white noise in a forecast is averaged out; a clean forecast is left alone."""

from __future__ import annotations

import numpy as np
import pytest

from scheduler.planning.carbonshift import CarbonshiftPolicy
from scheduler.planning.denoise import denoise, noise_share, noise_sigma, smoothing_width
from tests.scheduler.planning.problems import make_job, make_problem

SLOTS = 336  # a week of 30-min slots
DAY = 48


def clean(phase: float = 0.0) -> np.ndarray:
    """A daily cycle of 100 ± 40 g/kWh with a slower weekly drift, no noise."""
    t = np.arange(SLOTS)
    return 100 + 40 * np.sin(2 * np.pi * t / DAY + phase) + 10 * np.sin(2 * np.pi * t / SLOTS)


def test_noise_sigma_measures_white_noise_not_the_signal() -> None:
    """The estimate ignores a smooth cycle and finds the σ of added Gaussian noise."""
    rng = np.random.default_rng(1)
    assert noise_sigma(clean()) < 0.5
    noisy = clean() + rng.normal(0.0, 8.0, SLOTS)
    assert noise_sigma(noisy) == pytest.approx(8.0, rel=0.2)


def test_noise_share_is_the_noisiest_rows_sigma_over_its_spread() -> None:
    """A clean cycle scores near 0; 8 g/kWh of noise on an 82 g/kWh spread about 0.1, and a
    grid scores as its noisiest row."""
    rng = np.random.default_rng(4)
    noisy = clean() + rng.normal(0.0, 8.0, SLOTS)
    spread = np.percentile(noisy, 90) - np.percentile(noisy, 10)
    assert noise_share(clean()[None, :]) < 0.01
    assert noise_share(noisy[None, :]) == pytest.approx(noise_sigma(noisy) / spread)
    assert noise_share(np.stack([clean(), noisy])) == noise_share(noisy[None, :])
    assert noise_share(np.empty((0, SLOTS))) == 0.0


def test_a_clean_forecast_is_left_unchanged() -> None:
    """Width 1 for smooth rows and rows too short to judge: planning sees the forecast as is."""
    rows = np.stack([clean(), clean(1.0)])
    assert smoothing_width(rows[0]) == 1
    np.testing.assert_array_equal(denoise(rows), rows)
    short = np.array([[5.0, 1.0, 9.0, 2.0]])
    np.testing.assert_array_equal(denoise(short), short)


def test_noise_is_averaged_out_and_the_forecast_gets_closer_to_the_truth() -> None:
    """With σ = 10 % of the mean the row is averaged over several slots, and its error falls."""
    rng = np.random.default_rng(2)
    truth = clean()
    noisy = truth + rng.normal(0.0, 10.0, SLOTS)
    assert smoothing_width(noisy) > 1
    smoothed = denoise(noisy[None, :])[0]
    assert np.sqrt(np.mean((smoothed - truth) ** 2)) < 0.6 * np.sqrt(np.mean((noisy - truth) ** 2))
    # the cleanest slots of the smoothed row are nearer the true cleanest ones
    k = 24
    true_best = np.sort(truth)[:k].sum()
    assert truth[np.argsort(smoothed)[:k]].sum() - true_best < (
        truth[np.argsort(noisy)[:k]].sum() - true_best
    )


def test_adding_a_constant_changes_nothing_but_the_level() -> None:
    """Noise estimate and width depend on differences and spread only."""
    rng = np.random.default_rng(3)
    noisy = np.stack([clean() + rng.normal(0.0, 10.0, SLOTS), clean(2.0)])
    np.testing.assert_allclose(denoise(noisy + 500.0), denoise(noisy) + 500.0)


def test_the_planner_chasing_noise_less_finds_cleaner_slots() -> None:
    """An interruptible job of 24 slots over a noisy week: planned on the denoised forecast
    it runs at a lower *true* intensity than planned on the raw one, over 10 noise draws."""
    truth = clean()
    job = make_job("j", 0, SLOTS, 24, interruptible=True)
    regrets = {True: 0.0, False: 0.0}
    for seed in range(10):
        noisy = truth + np.random.default_rng(seed).normal(0.0, 10.0, SLOTS)
        for on in (True, False):
            plan = CarbonshiftPolicy(denoise_forecast=on).plan(make_problem([noisy], 1, [job]))
            slots = np.concatenate([np.arange(s.start, s.end) for s in plan.placements["j"]])
            regrets[on] += float(truth[slots].sum() - np.sort(truth)[:24].sum())
    assert regrets[True] < 0.5 * regrets[False]
