"""``NvmlPowerBackend`` against the stand-in ``pynvml`` module: what only NVML does."""

from __future__ import annotations

import pytest

from plugins.power.nvml import NvmlPowerBackend
from scheduler.clock import FakeClock
from scheduler.errors import (
    GpuLostError,
    NvmlNotAvailableError,
    PowerNotSupportedError,
    PowerPermissionError,
)
from tests.plugins.power.stand_in_pynvml import StandInDevice, StandInNvml


def _backend(clock: FakeClock, *devices: StandInDevice) -> NvmlPowerBackend:
    return NvmlPowerBackend(nvml=StandInNvml(list(devices), clock), clock=clock)


def test_without_the_library_it_says_nvml_not_available(clock: FakeClock) -> None:
    """No driver: the constructor raises NvmlNotAvailableError starting 'NVML not available'."""
    module = StandInNvml([], clock, library=False)
    with pytest.raises(NvmlNotAvailableError, match=r"^NVML not available: .*simulated"):
        NvmlPowerBackend(nvml=module, clock=clock)


def test_setter_uses_the_v1_call_and_reads_back_the_enforced_limit(clock: FakeClock) -> None:
    """The device may enforce a slightly different limit; the setter returns that one."""
    device = StandInDevice(uuid="GPU-a", enforced_offset_mw=-500)
    backend = _backend(clock, device)
    assert backend.set_power_limit_mw(0, 200_000) == 199_500
    assert device.set_calls == [200_000]


def test_uuid_and_constraints_come_from_the_device(clock: FakeClock) -> None:
    """GpuInfo mirrors NVML's uuid, constraints and default limit."""
    device = StandInDevice(uuid="GPU-x", min_mw=125_000, max_mw=350_000, default_mw=300_000)
    [info] = _backend(clock, device).gpus()
    assert (info.uuid, info.min_limit_mw, info.max_limit_mw, info.default_limit_mw) == (
        "GPU-x",
        125_000,
        350_000,
        300_000,
    )


def test_no_permission_maps_to_power_permission_error(clock: FakeClock) -> None:
    """NVML_ERROR_NO_PERMISSION → PowerPermissionError telling how to grant it."""
    backend = _backend(clock, StandInDevice(uuid="GPU-a", read_only=True))
    with pytest.raises(PowerPermissionError, match="CAP_SYS_ADMIN"):
        backend.set_power_limit_mw(0, 200_000)


def test_lost_gpu_maps_to_gpu_lost_error(clock: FakeClock) -> None:
    """NVML_ERROR_GPU_IS_LOST → GpuLostError."""
    device = StandInDevice(uuid="GPU-a")
    backend = _backend(clock, device)
    device.lost = True
    with pytest.raises(GpuLostError, match="nvidia-smi"):
        backend.power_mw(0)


def test_energy_falls_back_to_integrated_samples_and_says_so(clock: FakeClock) -> None:
    """Without a counter, energy integrates power samples; the source says integrated."""
    device = StandInDevice(uuid="GPU-a", energy_counter=False, limit_mw=200_000)
    backend = _backend(clock, device)
    first = backend.energy_mj(0)
    clock.advance(10)
    assert backend.energy_mj(0) - first == 160_000 * 10
    assert backend.energy_source(0) == "integrated_samples"


def test_energy_counter_is_the_source_when_supported(clock: FakeClock) -> None:
    """With a counter the source is nvml_counter."""
    backend = _backend(clock, StandInDevice(uuid="GPU-a"))
    backend.energy_mj(0)
    assert backend.energy_source(0) == "nvml_counter"


def test_mig_mode_is_reported(clock: FakeClock) -> None:
    """A MIG-partitioned GPU is reported as such (the agent refuses per-job caps on it)."""
    backend = _backend(clock, StandInDevice(uuid="GPU-a", mig=True), StandInDevice(uuid="GPU-b"))
    assert [backend.mig_enabled(0), backend.mig_enabled(1)] == [True, False]


def test_unsupported_calls_map_to_not_supported(clock: FakeClock) -> None:
    """NVML_ERROR_NOT_SUPPORTED from a non-energy call → PowerNotSupportedError naming it."""
    backend = _backend(clock, StandInDevice(uuid="GPU-a", power_readings=False))
    with pytest.raises(PowerNotSupportedError, match="nvmlDeviceGetPowerUsage"):
        backend.power_mw(0)
