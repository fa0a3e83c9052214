"""``NvmlPowerBackend``: real NVIDIA GPUs through NVML (the ``nvidia-ml-py`` package, ``pynvml``).

The vendor module is injected (``NvmlPowerBackend(nvml=pynvml, clock=...)``), so tests drive
the backend with a stand-in module at the vendor boundary; ``NvmlPowerBackend.load`` imports the
real one. Every ``pynvml.NVMLError`` is translated here into a ``scheduler.errors`` class.

The limit the backend reads, sets and restores is NVML's *power management limit*: the value
``nvmlDeviceSetPowerManagementLimit`` writes and ``nvmlDeviceGetPowerManagementLimit`` reads
back at once. The *enforced* limit follows it with a delay (about 250 ms on an H100 with driver
580, seen while running ``scripts/gpu-check``) and can be lower where another constraint applies, so
it is no measure of "what we set": reading it right after a set still shows the old limit. The
setter therefore waits, up to ``SETTLE_S``, until the enforced limit is at or below the one set.

Energy comes from ``nvmlDeviceGetTotalEnergyConsumption`` (mJ, Volta and newer). Where the
counter is not supported the backend integrates ``nvmlDeviceGetPowerUsage`` samples (trapezoids
between calls to ``energy_mj``) and ``energy_source`` says ``integrated_samples``.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scheduler.errors import (
    GpuLostError,
    NvmlNotAvailableError,
    PowerError,
    PowerNotSupportedError,
    PowerPermissionError,
)
from scheduler.model import EnergySource, GpuInfo
from scheduler.protocols import Clock
from scheduler.registry import PluginOptions

_NOT_AVAILABLE = (
    "UNINITIALIZED",
    "DRIVER_NOT_LOADED",
    "LIBRARY_NOT_FOUND",
    "LIB_RM_VERSION_MISMATCH",
)
_LOST = ("GPU_IS_LOST", "GPU_NOT_FOUND", "RESET_REQUIRED")
_NOT_SUPPORTED = ("NOT_SUPPORTED", "FUNCTION_NOT_FOUND")
_FIX_PERMISSION = "run the node agent as root or with CAP_SYS_ADMIN (see README, GPU power)"
SETTLE_S = 2.0
"""How long the setter waits for the device to enforce a lowered limit."""
_POLL_S = 0.05


class NvmlOptions(PluginOptions):
    """Options of the ``nvml`` power backend (none yet: NVML finds the GPUs itself)."""


@dataclass
class _Integrator:
    """Energy integrated from power samples for a GPU without an energy counter."""

    energy_mj: float = 0.0
    last_s: float | None = None
    last_mw: int = 0


class NvmlPowerBackend:
    """GPU power limits, power and energy of the local node through NVML."""

    def __init__(
        self, *, nvml: Any, clock: Clock, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._nvml = nvml
        self._clock = clock
        self._sleep = sleep
        self._call(nvml.nvmlInit)
        self._handles = [
            self._call(nvml.nvmlDeviceGetHandleByIndex, i)
            for i in range(self._call(nvml.nvmlDeviceGetCount))
        ]
        self._integrators: dict[int, _Integrator] = {}

    @classmethod
    def load(cls, clock: Clock) -> NvmlPowerBackend:
        """Import the real ``pynvml`` module and initialise NVML."""
        try:
            module = importlib.import_module("pynvml")
        except ImportError as exc:
            raise NvmlNotAvailableError(
                f"NVML not available: cannot import pynvml ({exc}); install nvidia-ml-py"
            ) from exc
        return cls(nvml=module, clock=clock)

    def close(self) -> None:
        """Release NVML."""
        self._call(self._nvml.nvmlShutdown)

    def gpus(self) -> list[GpuInfo]:
        """Every GPU with its uuid, name and limit constraints (mW)."""
        return [self._info(i) for i in range(len(self._handles))]

    def _info(self, index: int) -> GpuInfo:
        handle = self._handle(index)
        low, high = self._call(self._nvml.nvmlDeviceGetPowerManagementLimitConstraints, handle)
        return GpuInfo(
            index=index,
            uuid=_text(self._call(self._nvml.nvmlDeviceGetUUID, handle)),
            name=_text(self._call(self._nvml.nvmlDeviceGetName, handle)),
            min_limit_mw=int(low),
            max_limit_mw=int(high),
            default_limit_mw=int(
                self._call(self._nvml.nvmlDeviceGetPowerManagementDefaultLimit, handle)
            ),
        )

    def get_power_limit_mw(self, index: int) -> int:
        """The power management limit set on the device now (mW)."""
        return int(self._call(self._nvml.nvmlDeviceGetPowerManagementLimit, self._handle(index)))

    def enforced_power_limit_mw(self, index: int) -> int:
        """The limit the device enforces now (mW): the one set, once applied, or lower."""
        return int(self._call(self._nvml.nvmlDeviceGetEnforcedPowerLimit, self._handle(index)))

    def set_power_limit_mw(self, index: int, limit_mw: int) -> int:
        """Set the limit with the checked v1 setter; return it once the device enforces it.

        Raises:
            PowerError: the device still enforces more than ``limit_mw`` after ``SETTLE_S``.
        """
        info = self._info(index)
        if not info.min_limit_mw <= limit_mw <= info.max_limit_mw:
            raise ValueError(
                f"power limit {limit_mw} mW for GPU {index} is outside its constraints "
                f"[{info.min_limit_mw}, {info.max_limit_mw}] mW; choose a limit in that range"
            )
        self._call(self._nvml.nvmlDeviceSetPowerManagementLimit, self._handle(index), limit_mw)
        applied = self.get_power_limit_mw(index)
        polls = round(SETTLE_S / _POLL_S)
        for poll in range(polls + 1):
            enforced = self.enforced_power_limit_mw(index)
            if enforced <= applied:
                return applied
            if poll < polls:
                self._sleep(_POLL_S)
        raise PowerError(
            f"GPU {index}: the power limit was set to {applied} mW but the device still "
            f"enforces {enforced} mW after {SETTLE_S:g} s; check it with `nvidia-smi -q -d POWER`"
        )

    def mig_enabled(self, index: int) -> bool:
        """True when GPU ``index`` is partitioned into MIG instances (False if unsupported)."""
        try:
            current, _pending = self._call(self._nvml.nvmlDeviceGetMigMode, self._handle(index))
        except PowerNotSupportedError:
            return False
        return bool(current == self._nvml.NVML_DEVICE_MIG_ENABLE)

    def power_mw(self, index: int) -> int:
        """Current board draw (mW)."""
        return int(self._call(self._nvml.nvmlDeviceGetPowerUsage, self._handle(index)))

    def energy_mj(self, index: int) -> int:
        """Cumulative energy (mJ): the device counter, or integrated power samples."""
        if self.energy_source(index) == "nvml_counter":
            try:
                handle = self._handle(index)
                return int(self._call(self._nvml.nvmlDeviceGetTotalEnergyConsumption, handle))
            except PowerNotSupportedError:
                self._integrators[index] = _Integrator()
        return self._integrate(index)

    def energy_source(self, index: int) -> EnergySource:
        """Where ``energy_mj`` comes from for GPU ``index``: the counter or integrated samples."""
        return "integrated_samples" if index in self._integrators else "nvml_counter"

    def _integrate(self, index: int) -> int:
        state = self._integrators[index]
        now_s = self._clock.now().timestamp()
        power = self.power_mw(index)
        if state.last_s is not None:
            state.energy_mj += (state.last_mw + power) / 2 * max(0.0, now_s - state.last_s)
        state.last_s, state.last_mw = now_s, power
        return int(state.energy_mj)

    def _handle(self, index: int) -> Any:
        if not 0 <= index < len(self._handles):
            raise GpuLostError(
                f"no GPU with index {index} on this node (it has {len(self._handles)}); "
                "check `carbonshift agent status`"
            )
        return self._handles[index]

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except self._nvml.NVMLError as exc:
            raise self._translate(exc, fn) from exc

    def _translate(self, exc: Any, fn: Any) -> PowerError:
        name = self._error_name(exc.value)
        what = f"{getattr(fn, '__name__', fn)}: {exc}"
        if name in _NOT_AVAILABLE:
            return NvmlNotAvailableError(
                f"NVML not available: {what}; install the NVIDIA driver on this node or set "
                "power.kind: simulated"
            )
        if name == "NO_PERMISSION":
            return PowerPermissionError(f"{what}; {_FIX_PERMISSION}")
        if name in _NOT_SUPPORTED:
            return PowerNotSupportedError(f"{what}; this GPU does not support the call")
        if name in _LOST:
            return GpuLostError(f"{what}; check the GPU with nvidia-smi and reset or drain it")
        return PowerError(f"{what} (NVML error {exc.value})")

    def _error_name(self, value: int) -> str:
        for attr in dir(self._nvml):
            if attr.startswith("NVML_ERROR_") and getattr(self._nvml, attr) == value:
                return attr.removeprefix("NVML_ERROR_")
        return "UNKNOWN"


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
