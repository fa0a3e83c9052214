"""The ``power`` settings section: both backends are registered and built from settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.power.simulated import SimulatedPowerBackend
from scheduler.clock import FakeClock
from scheduler.errors import ConfigError, NvmlNotAvailableError
from scheduler.settings import PluginConfig, Settings
from scheduler.wiring import SIMULATED_STATE_NAME, build_power_backend, default_registries


def test_default_power_is_simulated_in_the_data_dir(tmp_path: Path, clock: FakeClock) -> None:
    """With no settings the node has 4 simulated GPUs whose state lives in DATA_DIR/agent."""
    backend = build_power_backend(Settings(data_dir=tmp_path), clock)
    assert isinstance(backend, SimulatedPowerBackend)
    assert len(backend.gpus()) == 4
    assert (tmp_path / "agent" / SIMULATED_STATE_NAME).is_file()


def test_cli_overrides_kind_gpus_and_state_dir(tmp_path: Path, clock: FakeClock) -> None:
    """`--backend simulated --gpus 2 --state-dir D` wins over the settings."""
    settings = Settings(data_dir=tmp_path, power=PluginConfig(kind="simulated", gpus=8))
    backend = build_power_backend(settings, clock, gpus=2, state_dir=tmp_path / "d")
    assert len(backend.gpus()) == 2
    assert (tmp_path / "d" / SIMULATED_STATE_NAME).is_file()


def test_a_state_file_with_other_gpus_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    """Asking for 2 GPUs on a state file holding 4 names both counts and the fix."""
    build_power_backend(Settings(data_dir=tmp_path), clock, gpus=4, state_dir=tmp_path)
    with pytest.raises(ValueError, match="holds 4 simulated GPUs, not 2; use --gpus 4"):
        build_power_backend(Settings(data_dir=tmp_path), clock, gpus=2, state_dir=tmp_path)


def test_nvml_without_a_driver_says_nvml_not_available(tmp_path: Path, clock: FakeClock) -> None:
    """On a node without the NVIDIA driver the nvml backend fails clearly (skip on GPU nodes)."""
    if Path("/proc/driver/nvidia").exists():
        pytest.skip("this node has the NVIDIA driver")
    with pytest.raises(NvmlNotAvailableError, match=r"^NVML not available: "):
        build_power_backend(Settings(data_dir=tmp_path), clock, kind="nvml")


def test_unknown_simulated_option_names_key_and_plugin() -> None:
    """A typo in the power section fails naming the key and the plugin's options."""
    config = PluginConfig(kind="simulated", gpu=4)
    with pytest.raises(ConfigError, match=r"power\.gpu: unknown key 'gpu' for power backend"):
        default_registries().power_backends.options(config, "power")
