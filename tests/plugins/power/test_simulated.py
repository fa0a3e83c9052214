"""``SimulatedPowerBackend``: device state in a file, draw and energy from measured curves."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.power.curves import shipped_curve, shipped_curves
from plugins.power.simulated import SimulatedPowerBackend
from scheduler.clock import FakeClock

CURVE = shipped_curve("V100", "imagenet/resnet50")


def _backend(path: Path, clock: FakeClock, gpus: int = 2) -> SimulatedPowerBackend:
    return SimulatedPowerBackend(state_file=path, gpus=gpus, curve=CURVE, clock=clock)


def test_a_limit_survives_the_process_that_set_it(tmp_path: Path, clock: FakeClock) -> None:
    """A new backend on the same state file (a new process) sees the limit set before."""
    _backend(tmp_path / "gpus.json", clock).set_power_limit_mw(1, 150_000)
    reopened = _backend(tmp_path / "gpus.json", clock)
    assert (reopened.get_power_limit_mw(0), reopened.get_power_limit_mw(1)) == (250_000, 150_000)


def test_energy_follows_the_measured_curve(tmp_path: Path, clock: FakeClock) -> None:
    """One hour at 150 W limit uses the trace's average power at 150 W for an hour."""
    backend = _backend(tmp_path / "gpus.json", clock)
    backend.set_power_limit_mw(0, 150_000)
    start = backend.energy_mj(0)
    clock.advance(3600)
    measured_w = next(p.average_power_w for p in CURVE.points if p.limit_w == 150)
    assert backend.energy_mj(0) - start == pytest.approx(measured_w * 3600 * 1000, rel=1e-6)


def test_energy_is_kept_across_a_limit_change(tmp_path: Path, clock: FakeClock) -> None:
    """Energy used before a limit change is folded in, at the old draw."""
    backend = _backend(tmp_path / "gpus.json", clock)
    full_mw = backend.power_mw(0)
    clock.advance(100)
    backend.set_power_limit_mw(0, 100_000)
    low_mw = backend.power_mw(0)
    clock.advance(100)
    assert backend.energy_mj(0) == pytest.approx((full_mw + low_mw) * 100, abs=2)


def test_throughput_falls_with_the_limit(tmp_path: Path, clock: FakeClock) -> None:
    """At the default limit throughput is 1; at the lowest limit it is the trace's ratio."""
    backend = _backend(tmp_path / "gpus.json", clock)
    assert backend.throughput(0) == 1.0
    backend.set_power_limit_mw(0, 100_000)
    expected = CURVE.points[-1].time_per_epoch_s / CURVE.points[0].time_per_epoch_s
    assert backend.throughput(0) == pytest.approx(expected)


def test_shipped_table_has_every_gpu_type_and_workload() -> None:
    """The derived table covers 4 GPU types × 6 workloads, each with at least 5 limits."""
    curves = shipped_curves()
    assert {gpu for gpu, _ in curves} == {"V100", "A40", "RTX6000", "P100"}
    assert len(curves) == 24
    assert min(len(curve.points) for curve in curves.values()) >= 5


def test_unknown_curve_lists_the_choices() -> None:
    """Asking for a curve that is not shipped names the valid choices."""
    with pytest.raises(ValueError, match="choose one of: A40 cifar100/shufflenetv2"):
        shipped_curve("H100", "llm")
