"""Options of the cluster plugins (``regions[].cluster: {kind: …}`` in the settings)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr

from scheduler.registry import PluginOptions


class RayOptions(PluginOptions):
    """``kind: ray``: an existing Ray cluster, reached at its dashboard (Jobs API) address.

    Give the token as a secret: either ``token`` (from a secrets file or an environment
    variable) or ``token_env``, the name of an environment variable that holds it.
    """

    address: str = Field(min_length=1, description="dashboard URL, e.g. http://ray-eu:8265")
    token: SecretStr | None = Field(default=None, description="the cluster's Ray auth token")
    token_env: str | None = Field(default=None, description="env variable holding the token")
    runtime_env: dict[str, Any] = Field(
        default_factory=dict, description="Ray runtime_env for every job (working_dir, pip…)"
    )


class LocalRayOptions(PluginOptions):
    """``kind: ray-local`` (the default): a Ray head started by carbonshift on this machine."""

    num_gpus: int | None = Field(
        default=None, ge=0, description="logical GPUs; default service.local_ray_gpus"
    )


class ScriptedOptions(PluginOptions):
    """``kind: scripted``: the shipped fake that runs nothing (tests, demos without Ray)."""

    total_gpus: int = Field(default=8, ge=0)
    pending_s: float = Field(default=0.0, ge=0, description="time each attempt waits to start")
    run_s: float = Field(default=60.0, ge=0, description="time each attempt runs")
