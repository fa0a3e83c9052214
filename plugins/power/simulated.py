"""``SimulatedPowerBackend``: N virtual GPUs whose device state lives in a file.

Like a real GPU, a simulated GPU keeps its power limit when the process that set it dies: the
limit and the energy counter live in ``state_file`` (JSON, replaced atomically with fsync,
updated under an advisory lock so the agent and job runners on the node can share it). Each GPU
runs one workload all the time; its draw and throughput at a limit come from a measured
``PowerCurve`` (Zeus NSDI '23 traces) and its energy counter advances with the injected clock:
``energy(now) = energy(updated_at) + power(limit) × (now − updated_at)``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import Field

from plugins.durable_file import locked, write_durably
from plugins.power.curves import PowerCurve
from scheduler.errors import GpuLostError
from scheduler.model import EnergySource, GpuInfo
from scheduler.protocols import Clock
from scheduler.registry import PluginOptions

#: Simulated GPUs when neither the options nor an existing state file say how many.
DEFAULT_GPUS = 4


class SimulatedOptions(PluginOptions):
    """Options of the ``simulated`` power backend."""

    gpus: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="virtual GPUs (default: as in the state file, else 4)",
    )
    state_dir: Path | None = Field(
        default=None, description="where the device state file lives (default: data_dir/agent)"
    )
    gpu_type: str = Field(default="V100", description="GPU type of the shipped curve table")
    workload: str = Field(default="imagenet/resnet50", description="workload the GPUs run")
    mig_indices: list[int] = Field(default_factory=list, description="GPUs shown in MIG mode")


class SimulatedPowerBackend:
    """Virtual GPUs driven by a measured power curve and the injected clock."""

    def __init__(
        self,
        *,
        state_file: Path,
        gpus: int | None,
        curve: PowerCurve,
        clock: Clock,
        mig_indices: Sequence[int] = (),
    ) -> None:
        self._file = state_file
        self._lock = state_file.with_name(state_file.name + ".lock")
        self._curve = curve
        self._clock = clock
        self._mig = frozenset(mig_indices)
        with locked(self._lock):
            existing = len(self._read().get("gpus", []))
            if existing and gpus is not None and gpus != existing:
                raise ValueError(
                    f"{state_file} holds {existing} simulated GPUs, not {gpus}; use --gpus "
                    f"{existing} or delete the file (with no agent running) to start afresh"
                )
            self._infos = [self._make_info(i) for i in range(existing or gpus or DEFAULT_GPUS)]
            if not existing:
                self._write({"gpus": [self._fresh(info) for info in self._infos]})

    def gpus(self) -> list[GpuInfo]:
        """The virtual GPUs; limits span the curve's measured range, default at the top."""
        return list(self._infos)

    def get_power_limit_mw(self, index: int) -> int:
        """The limit stored in the device state."""
        return int(self._device(self._read(), index)["limit_mw"])

    def set_power_limit_mw(self, index: int, limit_mw: int) -> int:
        """Store a new limit (after folding the energy used so far); return it read back."""
        info = self._info(index)
        if not info.min_limit_mw <= limit_mw <= info.max_limit_mw:
            raise ValueError(
                f"power limit {limit_mw} mW for GPU {index} is outside its constraints "
                f"[{info.min_limit_mw}, {info.max_limit_mw}] mW; choose a limit in that range"
            )
        with locked(self._lock):
            state = self._read()
            device = self._device(state, index)
            device["energy_mj"] = self._energy_at(device, self._clock.now())
            device["updated_at"] = self._clock.now().isoformat()
            device["limit_mw"] = int(limit_mw)
            self._write(state)
        return self.get_power_limit_mw(index)

    def energy_mj(self, index: int) -> int:
        """Cumulative energy since the state file was created."""
        return int(self._energy_at(self._device(self._read(), index), self._clock.now()))

    def energy_source(self, index: int) -> EnergySource:
        """Always ``simulated``."""
        self._info(index)
        return "simulated"

    def power_mw(self, index: int) -> int:
        """Draw of the workload at the current limit."""
        return round(self._curve.power_w(self.get_power_limit_mw(index) / 1000) * 1000)

    def throughput(self, index: int) -> float:
        """Work per second at the current limit, relative to the default (highest) limit."""
        return self._curve.throughput(self.get_power_limit_mw(index) / 1000)

    def mig_enabled(self, index: int) -> bool:
        """True for the GPUs configured in ``mig_indices``."""
        self._info(index)
        return index in self._mig

    def _energy_at(self, device: dict[str, Any], now: datetime) -> float:
        since = datetime.fromisoformat(device["updated_at"])
        elapsed_s = max(0.0, (now - since).total_seconds())
        power_mw = self._curve.power_w(device["limit_mw"] / 1000) * 1000
        return float(device["energy_mj"]) + power_mw * elapsed_s

    def _make_info(self, index: int) -> GpuInfo:
        return GpuInfo(
            index=index,
            uuid=f"GPU-simulated-{self._curve.gpu.lower()}-{index:04d}",
            name=f"Simulated {self._curve.gpu} ({self._curve.workload})",
            min_limit_mw=round(self._curve.min_limit_w * 1000),
            max_limit_mw=round(self._curve.max_limit_w * 1000),
            default_limit_mw=round(self._curve.max_limit_w * 1000),
        )

    def _fresh(self, info: GpuInfo) -> dict[str, Any]:
        now = self._clock.now().isoformat()
        return {
            "uuid": info.uuid,
            "limit_mw": info.default_limit_mw,
            "energy_mj": 0.0,
            "updated_at": now,
        }

    def _info(self, index: int) -> GpuInfo:
        if not 0 <= index < len(self._infos):
            raise GpuLostError(
                f"no simulated GPU with index {index} (there are {len(self._infos)}); "
                "check `carbonshift agent status`"
            )
        return self._infos[index]

    def _device(self, state: dict[str, Any], index: int) -> dict[str, Any]:
        self._info(index)
        device: dict[str, Any] = state["gpus"][index]
        return device

    def _read(self) -> dict[str, Any]:
        try:
            loaded: dict[str, Any] = json.loads(self._file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return loaded

    def _write(self, state: dict[str, Any]) -> None:
        write_durably(self._file, json.dumps(state, indent=1))
