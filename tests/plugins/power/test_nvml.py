"""``NvmlPowerBackend`` against the stand-in ``pynvml`` module: what only NVML does."""

from __future__ import annotations

import pytest

from plugins.power.nvml import NvmlPowerBackend
from scheduler.clock import FakeClock
from scheduler.errors import (
    GpuLostError,
    NvmlNotAvailableError,
    PowerError,
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


def test_setter_waits_until_the_device_enforces_the_lowered_limit(clock: FakeClock) -> None:
    """As on an H100: the enforced limit lags the set one; the setter returns once it follows."""
    device = StandInDevice(uuid="GPU-a", enforce_lag_reads=3)
    naps: list[float] = []
    backend = NvmlPowerBackend(nvml=StandInNvml([device], clock), clock=clock, sleep=naps.append)
    assert backend.set_power_limit_mw(0, 200_000) == 200_000
    assert device.set_calls == [200_000]
    assert len(naps) == 3
    assert backend.enforced_power_limit_mw(0) == 200_000


def test_the_limit_read_is_the_one_set_not_a_lower_enforced_one(clock: FakeClock) -> None:
    """Another constraint may make the device enforce less; the backend reports what it set."""
    device = StandInDevice(uuid="GPU-a", external_cap_mw=150_000)
    backend = _backend(clock, device)
    assert backend.set_power_limit_mw(0, 200_000) == 200_000
    assert (backend.get_power_limit_mw(0), backend.enforced_power_limit_mw(0)) == (
        200_000,
        150_000,
    )


def test_a_limit_the_device_never_enforces_is_an_error_naming_both(clock: FakeClock) -> None:
    """Still above the set limit after the settle time: PowerError with both values."""
    device = StandInDevice(uuid="GPU-a", enforce_lag_reads=10_000)
    backend = NvmlPowerBackend(
        nvml=StandInNvml([device], clock), clock=clock, sleep=lambda _s: None
    )
    with pytest.raises(PowerError, match=r"set to 200000 mW but the device still enforces 300000"):
        backend.set_power_limit_mw(0, 200_000)


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
