"""The ``PowerBackend`` contract, run over every implementation.

NVML runs against the stand-in ``pynvml`` module (the vendor boundary); the simulated GPUs run
for real on a state file. Both are driven by the same fake clock.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from plugins.power.curves import shipped_curve
from plugins.power.nvml import NvmlPowerBackend
from plugins.power.simulated import SimulatedPowerBackend
from scheduler.clock import FakeClock
from scheduler.errors import GpuLostError
from scheduler.protocols import PowerBackend
from tests.plugins.power.stand_in_pynvml import StandInDevice, StandInNvml, sleeper

GPUS = 4


def _nvml(tmp_path: Path, clock: FakeClock) -> PowerBackend:
    # enforced limits lag a set by two reads, as an H100's do (about 250 ms)
    devices = [StandInDevice(uuid=f"GPU-{i}", enforce_lag_reads=2) for i in range(GPUS)]
    return NvmlPowerBackend(nvml=StandInNvml(devices, clock), clock=clock, sleep=sleeper(clock))


def _simulated(tmp_path: Path, clock: FakeClock) -> PowerBackend:
    curve = shipped_curve("A40", "imagenet/resnet50")
    return SimulatedPowerBackend(
        state_file=tmp_path / "gpus.json", gpus=GPUS, curve=curve, clock=clock
    )


Factory = Callable[[Path, FakeClock], PowerBackend]


@pytest.fixture(params=[_nvml, _simulated], ids=["nvml", "simulated"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> PowerBackend:
    factory: Factory = request.param
    return factory(tmp_path, clock)


def test_is_a_power_backend(backend: PowerBackend) -> None:
    """Every implementation satisfies the runtime-checkable protocol."""
    assert isinstance(backend, PowerBackend)


def test_gpus_are_indexed_with_consistent_constraints(backend: PowerBackend) -> None:
    """GPUs are numbered 0..n-1, uuids are unique, and min ≤ default ≤ max."""
    gpus = backend.gpus()
    assert [gpu.index for gpu in gpus] == list(range(GPUS))
    assert len({gpu.uuid for gpu in gpus}) == GPUS
    for gpu in gpus:
        assert gpu.min_limit_mw <= gpu.default_limit_mw <= gpu.max_limit_mw


def test_set_returns_the_limit_and_get_agrees(backend: PowerBackend) -> None:
    """After a set, the getter reports what the setter returned, within the constraints."""
    gpu = backend.gpus()[1]
    wanted = (gpu.min_limit_mw + gpu.max_limit_mw) // 2
    applied = backend.set_power_limit_mw(1, wanted)
    assert applied == backend.get_power_limit_mw(1) == wanted
    assert gpu.min_limit_mw <= applied <= gpu.max_limit_mw
    assert backend.get_power_limit_mw(0) == backend.gpus()[0].default_limit_mw


@pytest.mark.parametrize("offset_mw", [-1, 1])
def test_limit_outside_constraints_is_a_value_error(backend: PowerBackend, offset_mw: int) -> None:
    """A limit below min or above max is refused, naming the range, and changes nothing."""
    gpu = backend.gpus()[0]
    before = backend.get_power_limit_mw(0)
    bad = gpu.min_limit_mw - 1 if offset_mw < 0 else gpu.max_limit_mw + 1
    with pytest.raises(ValueError, match=rf"\[{gpu.min_limit_mw}, {gpu.max_limit_mw}\] mW"):
        backend.set_power_limit_mw(0, bad)
    assert backend.get_power_limit_mw(0) == before


def test_energy_counter_grows_with_time_at_the_draw(
    backend: PowerBackend, clock: FakeClock
) -> None:
    """Energy is monotonic and grows by about power × elapsed time."""
    start = backend.energy_mj(2)
    power = backend.power_mw(2)
    clock.advance(60)
    after = backend.energy_mj(2)
    assert power > 0
    assert after - start == pytest.approx(power * 60, rel=0.01)
    assert backend.energy_mj(2) >= after


def test_lower_limit_draws_less_power(backend: PowerBackend) -> None:
    """Capping a GPU lowers its draw."""
    gpu = backend.gpus()[3]
    full = backend.power_mw(3)
    backend.set_power_limit_mw(3, gpu.min_limit_mw)
    assert backend.power_mw(3) < full


def test_unknown_gpu_is_lost(backend: PowerBackend) -> None:
    """An index the node does not have raises GpuLostError naming it."""
    with pytest.raises(GpuLostError, match="index 9"):
        backend.get_power_limit_mw(9)
