"""A stand-in for the ``pynvml`` module (nvidia-ml-py) at the vendor boundary.

It exposes the functions, constants and ``NVMLError`` (with ``.value``) that
``NvmlPowerBackend`` calls, backed by in-memory devices whose energy counters advance with a
fake clock. Switches on each device reproduce NVML's failure codes. Values and signatures follow
nvidia-ml-py 13: limits in mW, energy in mJ, ``nvmlDeviceGetUUID`` returning ``str``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from scheduler.clock import FakeClock

NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_UNKNOWN = 999
NVML_DEVICE_MIG_DISABLE = 0
NVML_DEVICE_MIG_ENABLE = 1


class NVMLError(Exception):
    """Like pynvml's: carries the NVML return code in ``value``."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return f"NVML error code {self.value}"


@dataclass
class StandInDevice:
    """One GPU: constraints and state in mW / mJ, plus failure switches."""

    uuid: str
    min_mw: int = 100_000
    max_mw: int = 300_000
    default_mw: int = 300_000
    limit_mw: int = 300_000  # the management limit: what the setter writes
    enforced_mw: int = 0  # what the device enforces, which follows with a delay (set below)
    enforce_lag_reads: int = 0  # enforced reads after a set that still show the old limit
    external_cap_mw: int | None = None  # another constraint the device also enforces
    energy_counter: bool = True
    power_readings: bool = True
    mig: bool = False
    lost: bool = False
    read_only: bool = False  # setting the limit needs privileges this process lacks
    energy_mj: float = 0.0
    last_s: float | None = None
    set_calls: list[int] = field(default_factory=list)
    lag_left: int = 0

    def __post_init__(self) -> None:
        self.enforce()

    def draw_mw(self) -> int:
        return int(0.8 * self.enforced_mw)

    def enforce(self) -> int:
        """The enforced limit, reaching min(management limit, external cap) after the lag."""
        if self.lag_left > 0:
            self.lag_left -= 1
        else:
            self.enforced_mw = min(self.limit_mw, self.external_cap_mw or self.limit_mw)
        return self.enforced_mw


class StandInNvml:
    """Module-like object: pass it as ``NvmlPowerBackend(nvml=StandInNvml(...), clock=...)``."""

    NVMLError = NVMLError
    NVML_ERROR_UNINITIALIZED = NVML_ERROR_UNINITIALIZED
    NVML_ERROR_INVALID_ARGUMENT = NVML_ERROR_INVALID_ARGUMENT
    NVML_ERROR_NOT_SUPPORTED = NVML_ERROR_NOT_SUPPORTED
    NVML_ERROR_NO_PERMISSION = NVML_ERROR_NO_PERMISSION
    NVML_ERROR_DRIVER_NOT_LOADED = NVML_ERROR_DRIVER_NOT_LOADED
    NVML_ERROR_LIBRARY_NOT_FOUND = NVML_ERROR_LIBRARY_NOT_FOUND
    NVML_ERROR_GPU_IS_LOST = NVML_ERROR_GPU_IS_LOST
    NVML_ERROR_UNKNOWN = NVML_ERROR_UNKNOWN
    NVML_DEVICE_MIG_DISABLE = NVML_DEVICE_MIG_DISABLE
    NVML_DEVICE_MIG_ENABLE = NVML_DEVICE_MIG_ENABLE

    def __init__(
        self, devices: list[StandInDevice], clock: FakeClock, *, library: bool = True
    ) -> None:
        self.devices = devices
        self.clock = clock
        self.library = library
        self.initialised = False

    def nvmlInit(self) -> None:  # noqa: N802  (pynvml's names)
        if not self.library:
            raise NVMLError(NVML_ERROR_LIBRARY_NOT_FOUND)
        self.initialised = True

    def nvmlShutdown(self) -> None:  # noqa: N802
        self.initialised = False

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> StandInDevice:  # noqa: N802
        return self.devices[index]

    def nvmlDeviceGetUUID(self, handle: StandInDevice) -> str:  # noqa: N802
        return self._ok(handle).uuid

    def nvmlDeviceGetName(self, handle: StandInDevice) -> str:  # noqa: N802
        self._ok(handle)
        return "NVIDIA Stand-in"

    def nvmlDeviceGetPowerManagementLimitConstraints(  # noqa: N802
        self, handle: StandInDevice
    ) -> list[int]:
        device = self._ok(handle)
        return [device.min_mw, device.max_mw]

    def nvmlDeviceGetPowerManagementDefaultLimit(self, handle: StandInDevice) -> int:  # noqa: N802
        return self._ok(handle).default_mw

    def nvmlDeviceGetPowerManagementLimit(self, handle: StandInDevice) -> int:  # noqa: N802
        return self._ok(handle).limit_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: StandInDevice) -> int:  # noqa: N802
        return self._ok(handle).enforce()

    def nvmlDeviceSetPowerManagementLimit(self, handle: StandInDevice, limit: int) -> None:  # noqa: N802
        device = self._ok(handle)
        if device.read_only:
            raise NVMLError(NVML_ERROR_NO_PERMISSION)
        if not device.min_mw <= limit <= device.max_mw:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        self._advance(device)
        device.limit_mw = limit
        device.lag_left = device.enforce_lag_reads
        device.set_calls.append(limit)

    def nvmlDeviceGetPowerUsage(self, handle: StandInDevice) -> int:  # noqa: N802
        device = self._ok(handle)
        if not device.power_readings:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return device.draw_mw()

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: StandInDevice) -> int:  # noqa: N802
        device = self._ok(handle)
        if not device.energy_counter:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        self._advance(device)
        return int(device.energy_mj)

    def nvmlDeviceGetMigMode(self, handle: StandInDevice) -> list[int]:  # noqa: N802
        device = self._ok(handle)
        mode = NVML_DEVICE_MIG_ENABLE if device.mig else NVML_DEVICE_MIG_DISABLE
        return [mode, mode]

    def _advance(self, device: StandInDevice) -> None:
        now_s = self.clock.now().timestamp()
        if device.last_s is not None:
            device.energy_mj += device.draw_mw() * (now_s - device.last_s)
        device.last_s = now_s

    def _ok(self, handle: StandInDevice) -> StandInDevice:
        if not self.initialised:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)
        if handle.lost:
            raise NVMLError(NVML_ERROR_GPU_IS_LOST)
        self._advance(handle)
        return handle


def sleeper(clock: FakeClock) -> Callable[[float], None]:
    """A ``sleep`` for ``NvmlPowerBackend`` that advances the fake clock instead of waiting."""

    def sleep(seconds: float) -> None:
        clock.advance(seconds)

    return sleep
